"""Class names and palettes belong to the weights: records, built models, legends, exports."""

import dataclasses
import inspect

import keras
import numpy as np
import pytest

import keras_seg
from keras_seg import dataset_labels, pretrained, registry
from keras_seg.export.metadata import export_metadata

RECORDS = registry.list_weights()
NARROW = {"widths": (4, 8, 8, 8, 8)}


def _narrow(builder):
    """Narrow widths for a builder that takes them: the number of classes stays the file's."""
    parameters = inspect.signature(builder).parameters
    if "widths" in parameters:
        return {"widths": tuple(4 for _ in parameters["widths"].default)}
    return {"width": 4} if "width" in parameters else {}


@pytest.mark.parametrize("name", sorted(RECORDS))
def test_every_record_names_as_many_classes_as_its_network_outputs(name):
    record = RECORDS[name]
    spec = registry.get_spec(record.model)
    model = spec.builder(**{**spec.defaults, **record.builder_args, **_narrow(spec.builder)})
    assert len(record.classes) == model.output_shape[-1], record.name
    assert len(record.palette()) >= len(record.classes)
    assert len(set(record.classes)) == len(record.classes)


def test_segnet_releases_with_other_datasets_carry_their_own_classes():
    assert RECORDS["segnet_sun"].classes == dataset_labels.SUN_RGBD_CLASSES
    assert RECORDS["segnet_sun"].ignore_label == 0
    assert RECORDS["segnet_pascal"].classes[15] == "person"
    webdemo = RECORDS["segnet_driving_webdemo"]
    assert webdemo.classes[3] == "road_marking" and len(webdemo.palette()) == 12
    assert RECORDS["bayesian_segnet_camvid"].classes == dataset_labels.SEGNET_CAMVID_CLASSES


def test_a_record_whose_class_count_differs_from_its_network_must_name_them():
    record = dataclasses.replace(RECORDS["segnet_sun"], name="other", classes=())
    with pytest.raises(ValueError, match="have 38 classes, bayesian_segnet names 11"):
        registry._with_classes(record, registry.get_spec("bayesian_segnet"))
    wrong = dataclasses.replace(record, classes=("a", "b"))
    with pytest.raises(ValueError, match="name 2 classes for a score layer of 38"):
        registry._with_classes(wrong, registry.get_spec("bayesian_segnet"))


def test_a_built_network_names_its_classes_only_when_it_has_their_number():
    model = keras_seg.build("segnet", **NARROW)
    assert registry.class_names(model) == dataset_labels.SEGNET_CAMVID_CLASSES
    assert registry.label_palette(model)[0].tolist() == [128, 128, 128]  # SegNet's sky
    other = keras_seg.build("segnet", num_classes=5, **NARROW)
    assert registry.class_names(other) is None
    assert registry.label_palette(other)[1].tolist() == [128, 0, 0]  # PASCAL's colours


def test_weights_built_by_record_bring_the_record_s_classes(tmp_path, monkeypatch):
    """SUN's 38 classes, not Bayesian SegNet's 11 CamVid names, in legends and exports."""
    monkeypatch.setenv("KERAS_SEG_WEIGHTS", str(tmp_path / "cache"))
    record = dataclasses.replace(RECORDS["segnet_sun"],
                                 builder_args={"num_classes": 38, **NARROW})
    monkeypatch.setitem(registry._WEIGHTS, record.name, record)
    (tmp_path / "cache").mkdir()
    keras_seg.build("bayesian_segnet", num_classes=38, **NARROW).save_weights(
        pretrained.converted_path(record.name))
    model = keras_seg.build("bayesian_segnet", weights="segnet_sun")
    assert model.metadata["weights"] == "segnet_sun"
    assert registry.class_names(model) == dataset_labels.SUN_RGBD_CLASSES
    assert np.array_equal(registry.label_palette(model), record.palette())
    facts = export_metadata(model, "onnx")
    assert facts["classes"][1] == "wall" and len(facts["palette_rgb"]) == 38
    saved = tmp_path / "sun.keras"
    model.save(saved)
    assert registry.class_names(keras.saving.load_model(saved)) == dataset_labels.SUN_RGBD_CLASSES


def test_spec_of_and_unwrap_find_the_network_behind_a_model():
    model = keras_seg.build("segnet_basic", width=4)
    assert registry.spec_of(model).name == "segnet_basic"

    class Wrapper:
        segmenter = model

    assert registry.unwrap(Wrapper()) is model
    assert registry.spec_of(Wrapper()).name == "segnet_basic"
    plain = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(2, 1)])
    assert registry.spec_of(plain) is None and registry.class_names(plain) is None
