"""PyTorch files without torch: both formats, views, unwrapping, and refusals that run nothing."""

import pickle
import zipfile

import numpy as np
import pytest

import keras_seg
from keras_seg import ConversionError
from keras_seg.convert.torch_file import read_torch_file

from torch_files import write_legacy, write_zip

ARRAYS = {"conv.weight": np.arange(24, dtype="f4").reshape(2, 3, 2, 2),
          "conv.bias": np.array([0.5, -1.0], "f4"),
          "bn.num_batches_tracked": np.array(7, "i8")}


@pytest.mark.parametrize("writer", [write_zip, write_legacy], ids=["zip", "legacy"])
def test_hand_written_files_in_both_formats(tmp_path, writer):
    arrays = read_torch_file(writer(tmp_path / "sd.pth", ARRAYS))
    assert list(arrays) == list(ARRAYS)
    for key, value in ARRAYS.items():
        np.testing.assert_array_equal(arrays[key], value)
        assert arrays[key].dtype == value.dtype


def test_views_share_a_storage_and_are_bounds_checked(tmp_path):
    storage = np.arange(12, dtype="f4")
    tensors = {"full": ("0", "FloatStorage", 12, 0, (3, 4), (4, 1)),
               "transposed_tail": ("0", "FloatStorage", 12, 1, (3, 3), (1, 4))}
    arrays = read_torch_file(write_zip(tmp_path / "v.pth", tensors=tensors,
                                       storages={"0": storage.tobytes()}))
    np.testing.assert_array_equal(arrays["transposed_tail"], storage.reshape(3, 4).T[1:])
    tensors["too_far"] = ("0", "FloatStorage", 12, 5, (3, 4), (4, 1))
    path = write_zip(tmp_path / "far.pth", tensors=tensors, storages={"0": storage.tobytes()})
    with pytest.raises(ConversionError, match="reaches element 16 of storage 0, which has 12"):
        read_torch_file(path)


class _Payload:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.target}",))


class _Eval:
    def __reduce__(self):
        return (eval, ("1 + 1",))


@pytest.mark.parametrize("payload", ["system", "eval", "nested"])
def test_a_pickle_that_asks_for_code_is_refused_and_runs_nothing(tmp_path, payload):
    marker = tmp_path / "pwned"
    value = {"system": _Payload(marker), "eval": _Eval(),
             "nested": {"state_dict": {"w": [(_Payload(marker),)]}}}[payload]
    for path in (write_zip(tmp_path / "bad.pth", pickle_bytes=pickle.dumps(value, protocol=2)),):
        with pytest.raises(ConversionError, match=r"refused: the pickle asks for (posix|nt|"
                                                  r"__builtin__)\.(system|eval)"):
            read_torch_file(path)
    assert not marker.exists()


def test_damaged_files_are_refused(tmp_path):
    good = write_zip(tmp_path / "good.pth", ARRAYS).read_bytes()
    (tmp_path / "truncated.pth").write_bytes(good[: len(good) // 2])
    with pytest.raises(ConversionError, match="truncated.pth: not a readable PyTorch file"):
        read_torch_file(tmp_path / "truncated.pth")
    legacy = write_legacy(tmp_path / "legacy.pth", ARRAYS).read_bytes()
    (tmp_path / "cut.pth").write_bytes(legacy[:-10])
    with pytest.raises(ConversionError, match="truncated (before|in) storage 2"):
        read_torch_file(tmp_path / "cut.pth")
    tensors = {"w": ("0", "FloatStorage", 1000, 0, (10, 100), (100, 1))}
    with pytest.raises(ConversionError, match="storage 0 holds 8 bytes, its tensors need 4000"):
        read_torch_file(write_zip(tmp_path / "short.pth", tensors=tensors,
                                  storages={"0": b"\0" * 8}))
    tensors = {"w": ("0", "ComplexFloatStorage", 1, 0, (1,), (1,))}
    with pytest.raises(ConversionError, match="asks for torch.ComplexFloatStorage"):
        read_torch_file(write_zip(tmp_path / "dtype.pth", tensors=tensors,
                                  storages={"0": b"\0" * 8}))


def test_a_zip_bomb_is_refused_before_it_is_unpacked(tmp_path):
    path = tmp_path / "bomb.pth"
    tensors = {"w": ("0", "FloatStorage", 4, 0, (4,), (1,))}
    from torch_files import state_dict_pickle

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("archive/data.pkl", state_dict_pickle(tensors))
        archive.writestr("archive/data/0", b"\0" * 50_000_000)  # 50 MB of zeros, deflated
    with pytest.raises(ConversionError, match="holds 50000000 bytes, its tensors need 16"):
        read_torch_file(path)


def test_wrapped_state_dicts_are_unwrapped(tmp_path):
    tensors = {"w": ("0", "FloatStorage", 2, 0, (2,), (1,))}
    inner = state_dict_pickle_wrapped(tensors)
    path = write_zip(tmp_path / "ckpt.pth", pickle_bytes=inner,
                     storages={"0": np.array([1, 2], "f4").tobytes()})
    assert list(read_torch_file(path)) == ["w"]


def state_dict_pickle_wrapped(tensors):
    from torch_files import state_dict_pickle

    body = state_dict_pickle(tensors)[2:-1]  # the OrderedDict, without PROTO and STOP
    head = b"\x80\x02}(X\x10\x00\x00\x00model_state_dict"
    return head + body + b"X\x05\x00\x00\x00epochK\x03u."


def test_pth_files_go_through_the_strict_assignment(tmp_path):
    model = keras_seg.build("fcn32s", num_classes=3, widths=(4, 8, 8, 8, 8, 16))
    with pytest.raises(ConversionError, match=r"(?s)nothing loaded \(strict\).*left unfilled"):
        keras_seg.load_weights(model, write_zip(tmp_path / "small.pth", ARRAYS))
    with pytest.raises(ConversionError, match="layer conv1_bn: no PyTorch rule for a CaffeBN"):
        keras_seg.load_weights(keras_seg.build("segnet_basic", width=4),
                               write_zip(tmp_path / "x.pth", ARRAYS))
