"""Write PyTorch state-dict files by hand (no torch): zip and legacy formats, and bad ones.

The pickles are assembled from protocol-2 opcodes, the way ``torch.save`` writes them, so
the reader can be tested where torch is not installed, and files can be made that torch
itself would never write (malicious globals, out-of-range views).
"""

import io
import pickle
import struct
import zipfile

import numpy as np

DTYPES = {np.dtype("float32"): "FloatStorage", np.dtype("float64"): "DoubleStorage",
          np.dtype("int64"): "LongStorage", np.dtype("float16"): "HalfStorage"}


def _str(text):
    data = text.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def _int(value):
    return b"J" + struct.pack("<i", value)


def _ints(values):
    return b"(" + b"".join(_int(v) for v in values) + b"t"


def state_dict_pickle(tensors, legacy=False):
    """The pickle of an OrderedDict of tensors.

    ``tensors``: key -> (storage key, dtype name, storage numel, offset, size, stride).
    """
    out = bytearray(b"\x80\x02ccollections\nOrderedDict\n)R(")
    for key, (storage, dtype, numel, offset, size, stride) in tensors.items():
        out += _str(key) + b"ctorch._utils\n_rebuild_tensor_v2\n("
        out += (b"(" + _str("storage") + b"ctorch\n" + dtype.encode() + b"\n" + _str(storage)
                + _str("cpu") + _int(numel) + (b"N" if legacy else b"") + b"tQ")
        out += _int(offset) + _ints(size) + _ints(stride) + b"\x89"
        out += b"ccollections\nOrderedDict\n)RtR"
    return bytes(out + b"u.")


def _layout(arrays):
    tensors, storages = {}, {}
    for i, (key, array) in enumerate(arrays.items()):
        array = np.ascontiguousarray(array)
        strides = tuple(s // array.itemsize for s in array.strides)
        tensors[key] = (str(i), DTYPES[array.dtype], array.size, 0, array.shape, strides)
        storages[str(i)] = array.tobytes()
    return tensors, storages


def write_zip(path, arrays=None, *, tensors=None, storages=None, pickle_bytes=None):
    """A torch.save zip archive of ``arrays`` (or of the given raw parts)."""
    if arrays is not None:
        tensors, storages = _layout(arrays)
    pickle_bytes = pickle_bytes or state_dict_pickle(tensors)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("archive/data.pkl", pickle_bytes)
        archive.writestr("archive/byteorder", "little")
        for key, data in (storages or {}).items():
            archive.writestr(f"archive/data/{key}", data)
        archive.writestr("archive/version", "3\n")
    return path


def write_legacy(path, arrays):
    """The legacy (pre-1.6, non-zip) format of ``torch.save``."""
    tensors, storages = _layout(arrays)
    stream = io.BytesIO()
    for value in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}):
        stream.write(pickle.dumps(value, protocol=2))
    stream.write(state_dict_pickle(tensors, legacy=True))
    stream.write(pickle.dumps(list(storages), protocol=2))
    for key, data in storages.items():
        numel = tensors[next(k for k, t in tensors.items() if t[0] == key)][2]
        stream.write(struct.pack("<q", numel) + data)
    path.write_bytes(stream.getvalue())
    return path


def assert_matches_torch(model, reference, x, rtol=1e-4):
    """``model`` (Keras, NHWC) gives ``reference``'s (torch, NCHW, eval mode) output on ``x``."""
    import torch

    with torch.no_grad():
        expected = reference(torch.from_numpy(x.transpose(0, 3, 1, 2))).numpy()
    actual = np.asarray(model(x)).transpose(0, 3, 1, 2)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    assert np.abs(actual - expected).max() <= rtol * np.abs(expected).max()
