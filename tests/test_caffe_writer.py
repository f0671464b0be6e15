"""The caffemodel writer (the inverse of the Caffe rules) and the labelled random stand-ins."""

import numpy as np
import pytest

import keras_seg
from keras_seg import pretrained
from keras_seg.convert.caffe_writer import (
    caffe_layers,
    random_caffe_layers,
    save_caffemodel,
    write_caffemodel,
)
from keras_seg.convert.caffemodel import parse_caffemodel
from keras_seg.errors import ConversionError, InputError

NARROW = {"widths": (4, 8, 8, 8, 8, 16), "num_classes": 3}


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_SEG_WEIGHTS", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _weights(model):
    return {v.path: np.asarray(v) for v in model.weights}


@pytest.mark.parametrize(("name", "arguments"), [
    ("fcn8s_atonce", NARROW),  # convolutions, frozen deconvolutions, Scale layers
    ("segnet", {"widths": (4, 8, 8, 8, 8), "num_classes": 3}),  # the fork's BN: 1xCx1x1
    ("dilation10_cityscapes", NARROW),  # a grouped deconvolution
])
def test_a_saved_model_loads_back_equal(name, arguments, tmp_path):
    source = keras_seg.build(name, **arguments)
    for variable in source.weights:  # values that differ from a fresh build's
        variable.assign(np.random.default_rng(1).normal(size=variable.shape))
    path = save_caffemodel(source, tmp_path / "saved.caffemodel")
    target = keras_seg.build(name, **arguments)
    report = keras_seg.load_weights(target, path)
    assert report.complete
    expected, found = _weights(source), _weights(target)
    assert all(np.array_equal(expected[key], found[key]) for key in expected)
    layers = {layer.name: layer for layer in parse_caffemodel(path)}
    kinds = {layer.type for layer in layers.values()}
    assert {"Convolution", "Deconvolution"} <= kinds or "BN" in kinds
    if name == "segnet":
        assert layers["conv1_1_bn"].blobs[0].shape == (1, 4, 1, 1)
    if name == "fcn8s_atonce":  # Caffe layouts: (out, in, kh, kw) and (in, out, kh, kw)
        assert layers["conv1_1"].blobs[0].shape == (4, 3, 3, 3)
        assert layers["upscore2"].blobs[0].shape == (3, 3, 4, 4)


def test_random_layers_have_the_layout_and_he_scale():
    model = keras_seg.build("fcn8s", **NARROW)
    layers, same = random_caffe_layers(model, seed=3), caffe_layers(model)
    assert [(n, t, [b.shape for b in blobs]) for n, t, blobs in layers] == [
        (n, t, [b.shape for b in blobs]) for n, t, blobs in same]
    fc6 = dict((n, blobs) for n, _, blobs in layers)["fc6"][0]  # (16, 8, 7, 7)
    assert abs(fc6.std() - np.sqrt(2 / (8 * 49))) < 0.01
    again = random_caffe_layers(model, seed=3)
    assert all(np.array_equal(a, b) for (_, _, x), (_, _, y) in zip(layers, again)
               for a, b in zip(x, y))


def test_the_legacy_format_has_no_scale_layers(tmp_path):
    with pytest.raises(ValueError, match="no Scale layers"):
        write_caffemodel(tmp_path / "v1.caffemodel", [("s", "Scale", [np.ones(3)])], v1=True)
    assert not list(tmp_path.iterdir())  # no partial file left behind
    path = write_caffemodel(tmp_path / "v1.caffemodel",
                            [("c", "Convolution", [np.ones((2, 3, 1, 1)), np.zeros(2)])],
                            v1=True)
    (layer,) = parse_caffemodel(path)
    assert (layer.name, layer.type, layer.blobs[0].shape) == ("c", "Convolution", (2, 3, 1, 1))


def test_a_stand_in_is_labelled_and_never_taken_for_the_release(tmp_path, cache):
    path = pretrained.write_stand_in("dilation8_camvid", tmp_path, widths=NARROW["widths"])
    assert path == tmp_path / "dilation8_camvid.RANDOM-STAND-IN.caffemodel"
    assert b"RANDOM-STAND-IN of dilation8_camvid" in path.read_bytes()[:200]
    model = keras_seg.build("dilation8_camvid", weights=path, widths=NARROW["widths"])
    assert model.output_shape[-1] == 11
    assert not pretrained.is_converted("dilation8_camvid")
    assert not (cache / "downloads").exists()
    with pytest.raises(InputError, match="random stand-in"):
        pretrained.fetch("dilation8_camvid", source=path)
    assert not (cache / "checksums.json").exists()  # its digest was not locked in
    with pytest.raises(InputError, match="real downloads"):
        pretrained.write_stand_in("fcn8s", cache / "downloads")
    with pytest.raises(InputError, match="caffemodel releases only"):
        pretrained.write_stand_in("fc_densenet103_camvid")
    # the default folder is the cache's stand-ins/, named after the published file
    default = pretrained.stand_in_path("unet")
    assert default == cache / "stand-ins" / "phseg_v5.RANDOM-STAND-IN.caffemodel"
    with pytest.raises(ConversionError, match="nothing loaded"):  # widths must match
        keras_seg.build("dilation8_camvid", weights=path)
