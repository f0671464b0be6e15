"""Presets: converted weights exported to a folder, loaded by path, by hf:// and by predict."""

import dataclasses
import hashlib
import json
import shutil

import numpy as np
import pytest

import keras_seg
from keras_seg import InputError, cli, pretrained, registry
from keras_seg.presets import load_preset, may_redistribute

from caffe_files import caffemodel_from_model

NARROW = {"widths": (4, 8, 8, 8, 8, 16)}
NAME = "dilation8_camvid"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """A narrow stand-in of the CamVid release, fetched --from a file into a module cache."""
    root = tmp_path_factory.mktemp("presets")
    patch = pytest.MonkeyPatch()
    patch.setenv("KERAS_SEG_WEIGHTS", str(root / "cache"))
    record = dataclasses.replace(registry.get_weights_record(NAME), builder_args=NARROW)
    patch.setitem(registry._WEIGHTS, NAME, record)
    original = root / record.file
    caffemodel_from_model(keras_seg.build(NAME, **NARROW), original)
    pretrained.fetch(NAME, source=original)
    folder = root / "preset"
    assert cli.main(["weights", "export", NAME, "--out", str(folder)]) == 0
    yield root, folder, hashlib.sha256(original.read_bytes()).hexdigest()
    patch.undo()


@pytest.fixture(scope="module")
def expected(converted):
    image = np.random.default_rng(3).integers(0, 256, (53, 67, 3), np.uint8)
    return image, keras_seg.predict(keras_seg.build(NAME, weights=NAME), image)


def test_the_preset_folder_says_what_the_weights_are(converted):
    _, folder, sha256 = converted
    config = json.loads((folder / "config.json").read_text())
    record = registry.get_weights_record(NAME)
    assert config["network"] == NAME and config["builder_args"]["widths"] == list(
        NARROW["widths"])
    assert config["input_convention"]["colour_order"] == "BGR"
    assert config["classes"] == list(record.classes) and len(config["palette_rgb"]) == 11
    assert config["license"] == record.license
    assert config["provenance"]["sha256"] == sha256
    assert config["provenance"]["urls"][0] == record.url
    assert (folder / "model.weights.h5").is_file()
    assert record.license in (folder / "README.md").read_text()


def test_a_preset_loads_by_folder_and_predicts_as_the_record(converted, expected):
    _, folder, _ = converted
    image, labels = expected
    model = keras_seg.build(str(folder))
    np.testing.assert_array_equal(keras_seg.predict(model, image), labels)
    assert keras_seg.class_names(model) == registry.get_weights_record(NAME).classes
    with pytest.raises(keras_seg.ConversionError, match="a preset fixes its network"):
        keras_seg.build(str(folder), num_classes=3)


def test_a_preset_loads_from_a_hub_cache_offline(converted, expected, monkeypatch, tmp_path):
    import huggingface_hub.constants

    _, folder, _ = converted
    repo = tmp_path / "hub" / "models--someone--dilation8-camvid"
    shutil.copytree(folder, repo / "snapshots" / COMMIT)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    image, labels = expected
    model = load_preset("hf://someone/dilation8-camvid")
    np.testing.assert_array_equal(keras_seg.predict(model, image), labels)
    with pytest.raises(InputError, match="hf://someone/absent: cannot get the preset"):
        load_preset("hf://someone/absent")
    with pytest.raises(InputError, match="hf://OWNER/REPO"):
        load_preset("hf://no-owner")


def test_predict_takes_a_preset_folder(converted, expected, tmp_path, capsys):
    from PIL import Image

    from keras_seg.images import write_image

    _, folder, _ = converted
    image, labels = expected
    write_image(tmp_path / "street.png", image)
    out = tmp_path / "labels.png"
    assert cli.main(["predict", str(folder), str(tmp_path / "street.png"),
                     "--out", str(out)]) == 0
    np.testing.assert_array_equal(np.asarray(Image.open(out)), labels)
    assert cli.main(["predict", str(folder), str(tmp_path / "street.png"),
                     "--random-weights"]) == 2
    assert "a preset fixes its network" in capsys.readouterr().err


def test_a_licence_that_grants_nothing_needs_accept_license(converted, monkeypatch, tmp_path,
                                                            capsys):
    assert may_redistribute("MIT (fyu/dilation README: code and models)")
    assert may_redistribute(registry.get_weights_record("fcn8s").license)  # BSD-2, BVLC
    assert not may_redistribute(registry.get_weights_record("unet").license)
    unstated = dataclasses.replace(registry.get_weights_record(NAME),
                                   license="not stated in the release")
    monkeypatch.setitem(registry._WEIGHTS, NAME, unstated)
    assert cli.main(["weights", "export", NAME, "--out", str(tmp_path / "p")]) == 2
    err = capsys.readouterr().err
    assert "does not let others redistribute" in err and "--accept-license" in err
    assert not (tmp_path / "p").exists()
    assert cli.main(["weights", "export", NAME, "--out", str(tmp_path / "p"),
                     "--accept-license"]) == 0
    assert json.loads((tmp_path / "p" / "config.json").read_text())["license"] == (
        "not stated in the release")


def test_export_needs_converted_weights(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KERAS_SEG_WEIGHTS", str(tmp_path / "empty"))
    assert cli.main(["weights", "export", "fc_densenet103", "--out", str(tmp_path / "p"),
                     "--accept-license"]) == 2
    assert "keras-seg weights fetch fc_densenet103_camvid` first" in capsys.readouterr().err
