"""Published weights by name: records, the Keras cache, checksums, fetch and convert offline."""

import dataclasses
import hashlib

import numpy as np
import pytest

import keras_seg
from keras_seg import ConversionError, InputError, cli, pretrained, registry
from keras_seg.convert.assign import weighted_layers
from keras_seg.convert.caffe import STRUCTURAL_TYPES
from keras_seg.convert.load import RULES
from keras_seg.convert.prototxt import first, load_prototxt, net_layers

from caffe_files import REFERENCE, caffemodel_from_model, reference_or_skip

NARROW = {"widths": (4, 8, 8, 8, 8, 16)}
NARROWER = {"unet": {"widths": (4, 8, 8, 8, 8)}, "segnet_basic": {"width": 4},
            "bayesian_segnet_basic": {"width": 4},
            "bayesian_segnet": {"widths": (4, 8, 8, 8, 8)}}
RECORDS = registry.list_weights()


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_SEG_WEIGHTS", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _published(tmp_path, monkeypatch, name="dilation8_camvid", checksum="right", seed=0):
    """A narrow stand-in for record ``name`` served from a local file:// URL."""
    record = RECORDS[name]
    model = keras_seg.build(record.model, **NARROW)
    path = tmp_path / f"published-{seed}" / record.file
    path.parent.mkdir(exist_ok=True)
    caffemodel_from_model(model, path, seed=seed)
    digest = hashlib.sha256(path.read_bytes()).hexdigest() if checksum == "right" else checksum
    changed = dataclasses.replace(record, url=path.as_uri(), checksum=digest,
                                  builder_args=NARROW)
    monkeypatch.setitem(registry._WEIGHTS, name, changed)
    return changed, path


def test_every_published_release_is_a_default_record():
    # SimJeg publishes no weights of FC-DenseNet56 and 67
    unpublished = {"fc_densenet56", "fc_densenet67", "unet_padded"}
    for name in keras_seg.list_models():
        spec = keras_seg.get_spec(name)
        if name in unpublished:
            assert spec.default_weights is None
            continue
        record = RECORDS[spec.default_weights]
        assert record.model == name and record.url.endswith("/" + record.file)
        assert record.rules in RULES and record.license
        assert (record.format, record.rules) in {("caffemodel", "caffe"),
                                                 ("npz", "lasagne_fc_densenet")}
    assert registry.get_weights_record("fcn8s").name == "fcn8s"
    with pytest.raises(ValueError, match="no published weights called 'fcn9s'; known: "):
        registry.get_weights_record("fcn9s")


@pytest.mark.parametrize("name", sorted(n for n, r in RECORDS.items() if r.prototxt))
def test_a_record_fills_the_weighted_layers_of_its_original_prototxt(name):
    record = RECORDS[name]
    net = load_prototxt(reference_or_skip(REFERENCE / record.prototxt))
    unweighted = STRUCTURAL_TYPES | {"Pooling", "Crop", "LRN", "Upsample"}
    weighted = {first(layer, "name") for layer in net_layers(net)
                if first(layer, "type") not in unweighted}
    model = keras_seg.build(record.model, **record.builder_args,
                            **NARROWER.get(record.model, NARROW))
    assert weighted == {layer.name for layer in weighted_layers(model)}


def test_fetch_verifies_converts_and_build_uses_the_cache(tmp_path, monkeypatch, cache):
    record, _ = _published(tmp_path, monkeypatch)
    out = pretrained.fetch("dilation8_camvid")
    assert out == cache / "dilation8_camvid.weights.h5"
    assert pretrained.is_converted("dilation8_camvid")
    assert (cache / "downloads" / record.file).exists()
    model = keras_seg.build("dilation8_camvid", weights="dilation8_camvid", **NARROW)
    random = keras_seg.build("dilation8_camvid", **NARROW)
    kernel = model.get_layer("ctx_final").kernel
    assert not np.allclose(kernel, random.get_layer("ctx_final").kernel)


def test_a_wrong_checksum_is_refused_and_the_download_removed(tmp_path, monkeypatch, cache):
    _published(tmp_path, monkeypatch, checksum="0" * 64)
    with pytest.raises(InputError, match="cannot download .*sha256 .* differs from the "
                                         "published 0000"):
        pretrained.fetch("dilation8_camvid")
    assert not list((cache / "downloads").iterdir())  # nothing half-written stays
    assert not pretrained.is_converted("dilation8_camvid")


def test_without_a_published_checksum_the_first_file_is_locked(tmp_path, monkeypatch, cache):
    _published(tmp_path, monkeypatch, checksum=None)
    pretrained.fetch("dilation8_camvid")
    assert "dilation8_camvid" in (cache / "checksums.json").read_text()
    _, other = _published(tmp_path, monkeypatch, checksum=None, seed=1)  # a different file
    with pytest.raises(ConversionError, match="differs from the locked"):
        pretrained.fetch("dilation8_camvid", source=other)
    assert other.exists()  # a --from file is the user's: refused, never deleted


def test_a_new_url_is_fetched_not_answered_from_the_cache(tmp_path, monkeypatch, cache):
    record, _ = _published(tmp_path, monkeypatch, checksum=None)
    pretrained.fetch("dilation8_camvid")
    first_download = (cache / "downloads" / record.file).read_bytes()
    (cache / "checksums.json").unlink()
    _, mirror = _published(tmp_path, monkeypatch, checksum=None, seed=1)
    pretrained.fetch("dilation8_camvid", url=mirror.as_uri())
    second = (cache / "downloads" / record.file).read_bytes()
    assert second != first_download and second == mirror.read_bytes()


def test_offline_gives_one_line_with_the_url_and_the_from_form(tmp_path, monkeypatch, capsys):
    record = dataclasses.replace(RECORDS["dilation8_pascal_voc"],
                                 url=(tmp_path / "absent.caffemodel").as_uri())
    monkeypatch.setitem(registry._WEIGHTS, "dilation8_pascal_voc", record)
    assert cli.main(["weights", "fetch", "dilation8_pascal_voc"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    assert f"cannot download {record.url}" in err
    assert "keras-seg weights fetch dilation8_pascal_voc --from FILE" in err


def test_fetch_from_a_local_file_through_the_command_line(tmp_path, monkeypatch, capsys):
    record, path = _published(tmp_path, monkeypatch, checksum=None)
    assert cli.main(["weights", "fetch", "dilation8_camvid", "--from", str(path)]) == 0
    assert "wrote" in capsys.readouterr().out
    assert cli.main(["weights", "list"]) == 0
    listing = capsys.readouterr().out
    assert f"dilation8_camvid         caffemodel converted   {record.url}" in listing
    assert "license: MIT" in listing


def test_a_file_with_other_layers_is_refused_naming_them(tmp_path, monkeypatch):
    import keras

    _published(tmp_path, monkeypatch, checksum=None)
    other = keras_seg.build("dilation8_camvid", context=False, **NARROW)
    assert isinstance(other, keras.Model)
    path = tmp_path / "frontend.caffemodel"
    caffemodel_from_model(other, path)
    with pytest.raises(ConversionError, match=r"left unfilled \(\d+\): .*ctx_conv1_1"):
        pretrained.fetch("dilation8_camvid", source=path)
    assert not pretrained.is_converted("dilation8_camvid")


def test_missing_sources_and_records_are_refusals(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        pretrained.fetch("fcn8s", source=tmp_path / "nothing.caffemodel")
    with pytest.raises(InputError, match="are for fcn8s, not fcn32s"):
        keras_seg.build("fcn32s", weights="fcn8s")


def test_a_release_archive_is_verified_then_its_member_converted(tmp_path, monkeypatch, cache):
    import tarfile

    narrow = {"widths": (4, 8, 8, 8, 8), "last_upconv": 8}
    caffemodel = tmp_path / "phseg_v5.caffemodel"
    caffemodel_from_model(keras_seg.build("unet", **narrow), caffemodel)
    archive = tmp_path / "u-net-release-2015-10-02.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(caffemodel, arcname="u-net-release/phseg_v5.caffemodel")
    record = dataclasses.replace(RECORDS["unet"], builder_args=narrow)
    monkeypatch.setitem(registry._WEIGHTS, "unet", record)
    out = pretrained.fetch("unet", source=archive)
    assert out == cache / "unet.weights.h5"
    assert (cache / "downloads" / "phseg_v5.caffemodel").read_bytes() == caffemodel.read_bytes()
    with tarfile.open(tmp_path / "empty.tar.gz", "w:gz") as tar:
        tar.add(caffemodel, arcname="other.caffemodel")
    (cache / "checksums.json").unlink()
    with pytest.raises(ConversionError, match="holds no phseg_v5.caffemodel"):
        pretrained.fetch("unet", source=tmp_path / "empty.tar.gz")


def test_a_record_builds_the_layout_of_its_file(tmp_path, monkeypatch, cache):
    """The web demo's SegNet has 12 classes: build and predict by name use the record's."""
    narrow = {"widths": (4, 8, 8, 8, 8)}
    record = dataclasses.replace(RECORDS["segnet_driving_webdemo"],
                                 builder_args={"num_classes": 12, **narrow})
    monkeypatch.setitem(registry._WEIGHTS, record.name, record)
    cache.mkdir(parents=True)
    keras_seg.build("segnet", num_classes=12, **narrow).save_weights(
        pretrained.converted_path(record.name))
    model = keras_seg.build("segnet", weights="segnet_driving_webdemo")
    assert model.output_shape[-1] == 12
    image = np.random.default_rng(0).integers(0, 256, (32, 48, 3), np.uint8)
    assert keras_seg.predict("segnet", image).shape == (32, 48)
