"""The caffemodel reader on hand-encoded files: formats, layouts and damaged input."""

import numpy as np
import pytest

import keras_seg
from keras_seg import ConversionError
from keras_seg.convert.caffemodel import parse_caffemodel

from caffe_files import _bytes_field, _key, _varint, write_caffemodel

RNG = np.random.default_rng(0)
LAYERS = [
    ("conv1", "Convolution", [RNG.normal(size=(4, 3, 3, 3)).astype("f4"),
                              RNG.normal(size=4).astype("f4")]),
    ("up", "Deconvolution", [RNG.normal(size=(4, 4, 2, 2)).astype("f4")]),
]


@pytest.mark.parametrize("v1", [False, True], ids=["layer", "legacy-layers"])
def test_reads_both_formats(tmp_path, v1):
    path = write_caffemodel(tmp_path / "m.caffemodel", LAYERS, v1=v1)
    blobs = keras_seg.read_weights(path)
    assert list(blobs) == ["conv1/0", "conv1/1", "up/0"]
    np.testing.assert_array_equal(blobs["conv1/0"], LAYERS[0][2][0])
    np.testing.assert_array_equal(blobs["conv1/1"].reshape(-1), LAYERS[0][2][1])
    # legacy blobs are 4-D num/channels/height/width, as Caffe stores them
    assert blobs["conv1/1"].shape == ((1, 1, 1, 4) if v1 else (4,))
    types = [layer.type for layer in parse_caffemodel(path)]
    assert types == ["Convolution", "Deconvolution"]


def test_reads_doubles_and_split_packed_chunks(tmp_path):
    values = np.arange(6, dtype="<f8")
    blob = _bytes_field(7, _bytes_field(1, _varint(2) + _varint(3)))
    blob += _key(8, 2) + _varint(16) + values[:2].tobytes()
    blob += _key(8, 2) + _varint(32) + values[2:].tobytes()
    layer = _bytes_field(1, b"s") + _bytes_field(2, b"Scale") + _bytes_field(7, blob)
    (tmp_path / "d.caffemodel").write_bytes(_bytes_field(100, layer))
    blobs = keras_seg.read_weights(tmp_path / "d.caffemodel")
    assert blobs["s/0"].dtype == np.float32
    np.testing.assert_array_equal(blobs["s/0"], values.reshape(2, 3))


def test_truncation_anywhere_raises_conversion_error(tmp_path):
    data = (write_caffemodel(tmp_path / "m.caffemodel", LAYERS)).read_bytes()
    cut = tmp_path / "cut.caffemodel"
    for end in range(1, len(data)):
        cut.write_bytes(data[:end])
        try:
            blobs = keras_seg.read_weights(cut)
        except ConversionError as error:
            assert "cut.caffemodel" in str(error)
            continue
        # a cut on a layer boundary leaves a shorter but valid file
        assert set(blobs) < {"conv1/0", "conv1/1", "up/0"}


def test_truncated_blob_names_the_layer(tmp_path):
    data = (write_caffemodel(tmp_path / "m.caffemodel", LAYERS)).read_bytes()
    (tmp_path / "t.caffemodel").write_bytes(data[:-20])
    with pytest.raises(ConversionError, match="'conv1'|up"):
        keras_seg.read_weights(tmp_path / "t.caffemodel")


def test_huge_length_field_fails_fast(tmp_path):
    # a layer claiming 2**60 bytes: must be refused, not allocated or waited for
    (tmp_path / "h.caffemodel").write_bytes(_key(100, 2) + _varint(2**60) + b"\0" * 10)
    with pytest.raises(ConversionError, match="declares"):
        keras_seg.read_weights(tmp_path / "h.caffemodel")


def test_blob_with_wrong_value_count_is_refused(tmp_path):
    blob = _bytes_field(7, _bytes_field(1, _varint(5))) + _key(5, 2) + _varint(8) + bytes(8)
    layer = _bytes_field(1, b"x") + _bytes_field(2, b"Scale") + _bytes_field(7, blob)
    (tmp_path / "c.caffemodel").write_bytes(_bytes_field(100, layer))
    with pytest.raises(ConversionError, match=r"layer 'x'.*\(5,\) needs 5 values .* holds 2"):
        keras_seg.read_weights(tmp_path / "c.caffemodel")


@pytest.mark.parametrize("content", [b"", b"\xff" * 64, b"not a model at all\n" * 10])
def test_garbage_is_refused(tmp_path, content):
    (tmp_path / "g.caffemodel").write_bytes(content)
    with pytest.raises(ConversionError):
        keras_seg.read_weights(tmp_path / "g.caffemodel")


def test_v0_layers_are_refused_with_a_hint(tmp_path):
    layer = _bytes_field(4, b"old") + _bytes_field(1, _bytes_field(1, b"old"))
    (tmp_path / "v0.caffemodel").write_bytes(_bytes_field(2, layer))
    with pytest.raises(ConversionError, match="V0"):
        keras_seg.read_weights(tmp_path / "v0.caffemodel")


def test_packed_blobs_are_views_of_the_file_not_copies(tmp_path):
    path = write_caffemodel(tmp_path / "m.caffemodel", LAYERS)
    blobs = keras_seg.read_weights(path)
    assert not blobs["conv1/0"].flags.owndata and not blobs["conv1/0"].flags.writeable


def test_npz_reads_arrays_and_refuses_pickles(tmp_path):
    np.savez(tmp_path / "ok.npz", np.ones(3, "f4"), np.zeros((2, 2)))
    arrays = keras_seg.read_weights(tmp_path / "ok.npz")
    assert list(arrays) == ["arr_0", "arr_1"]
    np.savez(tmp_path / "evil.npz", np.array([{"x": 1}], dtype=object))
    with pytest.raises(ConversionError, match="pickle"):
        keras_seg.read_weights(tmp_path / "evil.npz")


def test_unknown_suffix_and_missing_file(tmp_path):
    (tmp_path / "w.bin").write_bytes(b"x")
    with pytest.raises(ConversionError, match="unknown weights format"):
        keras_seg.read_weights(tmp_path / "w.bin")
    with pytest.raises(ConversionError, match="no such file"):
        keras_seg.read_weights(tmp_path / "missing.caffemodel")
