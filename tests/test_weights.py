"""The published-weights registry and fetch + convert, with local files only."""

import dataclasses
import hashlib

import numpy as np
import pytest

import keras_seg
from keras_seg import ConversionError, weights
from keras_seg.convert.assign import weighted_layers
from keras_seg.convert.caffe import STRUCTURAL_TYPES
from keras_seg.convert.prototxt import first, load_prototxt, net_layers

from caffe_files import DILATION, FCN, deploy_net, random_blobs, reference_or_skip, write_caffemodel

REGISTRY = weights.load_registry()


def test_every_entry_names_a_model_and_its_exact_layers():
    assert set(REGISTRY) == {name for name in keras_seg.list_models()
                             if name.startswith(("fcn", "dilation"))}
    for entry in REGISTRY.values():
        model = keras_seg.build(entry.model, widths=(4, 8, 16, 32, 32, 64))
        assert sorted(entry.layers) == sorted(layer.name for layer in weighted_layers(model))
        assert entry.url.endswith("/" + entry.file) and entry.format == "caffemodel"


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_layers_are_the_weighted_layers_of_the_original_prototxt(name):
    entry = REGISTRY[name]
    root = FCN.parent if name.startswith("fcn") else DILATION.parent
    net = load_prototxt(reference_or_skip(root / entry.prototxt))
    weighted = [first(layer, "name") for layer in net_layers(net)
                if first(layer, "type") not in STRUCTURAL_TYPES | {"Pooling", "Crop"}]
    assert sorted(weighted) == sorted(entry.layers)


def _local_entry(tmp_path, name, blobs, sha256="right"):
    path = write_caffemodel(tmp_path / "published.caffemodel", blobs)
    digest = hashlib.sha256(path.read_bytes()).hexdigest() if sha256 == "right" else sha256
    entry = dataclasses.replace(REGISTRY[name], url=path.as_uri(), sha256=digest)
    return {name: entry}


def test_fetch_verifies_the_checksum(tmp_path):
    blobs = [("conv1_1", "Convolution", [np.ones((2, 3, 3, 3), "f4")])]
    registry = _local_entry(tmp_path, "dilation8_camvid", blobs)
    path, digest = weights.fetch("dilation8_camvid", cache_dir=tmp_path / "dl", registry=registry)
    assert path.parent == (tmp_path / "dl").resolve()
    assert digest == registry["dilation8_camvid"].sha256
    bad = _local_entry(tmp_path, "dilation8_camvid", blobs, sha256="0" * 64)
    with pytest.raises(ValueError, match="corrupted"):
        weights.fetch("dilation8_camvid", cache_dir=tmp_path / "dl2", registry=bad)


def test_convert_refuses_a_file_with_other_layers(tmp_path):
    blobs = [("conv1_1", "Convolution", [np.ones((2, 3, 3, 3), "f4")])]
    path = write_caffemodel(tmp_path / "other.caffemodel", blobs)
    expected = r"not the published dilation8_camvid.*missing: \['conv1_2'"
    with pytest.raises(ConversionError, match=expected):
        weights.convert("dilation8_camvid", path, out_dir=tmp_path)


@pytest.mark.slow
def test_fetch_and_convert_a_full_release(tmp_path, monkeypatch, capsys):
    from keras_seg import cli

    source = reference_or_skip(DILATION / "models" / "dilation7_kitti_deploy.prototxt")
    blobs = random_blobs(deploy_net(source), seed=2)
    registry = _local_entry(tmp_path, "dilation7_kitti", blobs)
    monkeypatch.setattr(weights, "load_registry", lambda path=None: registry)
    monkeypatch.setattr(weights, "WEIGHTS_DIR", tmp_path / "weights")
    assert cli.main(["weights", "fetch", "dilation7_kitti"]) == 0
    out = tmp_path / "weights" / "dilation7_kitti.weights.h5"
    assert out.exists() and "wrote" in capsys.readouterr().out
    model = keras_seg.build("dilation7_kitti")
    keras_seg.load_weights(model, out)
    np.testing.assert_array_equal(model.get_layer("ctx_final").kernel.numpy()[0, 0],
                                  blobs[-1][2][0][:, :, 0, 0].T)
