"""Every keras-seg layer declares, beside its class, all that the library needs of it."""

import importlib
import inspect
import pathlib
import pkgutil
import re

import keras
import pytest

import keras_seg.layers
from keras_seg.layers import PadTo, ValidSize
from keras_seg.layers.support import (
    AS_IS,
    ASPECTS,
    POINTWISE,
    CaffeCounterpart,
    Refused,
    SpatialRule,
    missing_aspects,
    register_support,
    support_of,
)


def keras_seg_layer_classes():
    """The public Layer subclasses defined in any module of ``keras_seg.layers``."""
    classes = {obj for obj in vars(keras_seg.layers).values()
               if inspect.isclass(obj) and issubclass(obj, keras.layers.Layer)
               and obj.__module__.startswith("keras_seg.")}
    for info in pkgutil.iter_modules(keras_seg.layers.__path__):
        module = importlib.import_module(f"keras_seg.layers.{info.name}")
        classes |= {obj for name, obj in vars(module).items()
                    if inspect.isclass(obj) and issubclass(obj, keras.layers.Layer)
                    and obj.__module__ == module.__name__ and not name.startswith("_")}
    return sorted(classes, key=lambda cls: cls.__name__)


def lacking(classes):
    """``"<class>: <aspects>"`` for each class that has not declared every aspect."""
    return [f"{cls.__module__}.{cls.__name__}: {', '.join(missing)}"
            for cls in classes if (missing := missing_aspects(cls))]


def test_the_walk_finds_the_layers():
    names = {cls.__name__ for cls in keras_seg_layer_classes()}
    assert {"CaffeCrop", "MaxUnpooling2D", "PadTo", "ValidSize", "LRN"} <= names


def test_every_keras_seg_layer_declares_every_aspect():
    assert lacking(keras_seg_layer_classes()) == []


def test_a_new_layer_without_a_record_is_named():
    class NewLayer(keras.layers.Layer):
        def call(self, inputs):
            return inputs

    assert lacking([*keras_seg_layer_classes(), NewLayer]) == [
        f"{__name__}.NewLayer: {', '.join(ASPECTS)}"]


def test_a_layer_with_some_aspects_is_named_with_the_others():
    class HalfDeclared(keras.layers.Layer):
        pass

    register_support(HalfDeclared, geometry=POINTWISE, precision="policy")
    assert lacking([HalfDeclared]) == [f"{__name__}.HalfDeclared: onnx, tflite, caffe_check"]


@pytest.mark.parametrize("cls", keras_seg_layer_classes(), ids=lambda cls: cls.__name__)
def test_each_aspect_is_of_its_kind(cls):
    record = support_of(cls)
    assert callable(record.onnx) or isinstance(record.onnx, Refused)
    assert record.tflite is AS_IS or issubclass(record.tflite, cls)
    assert isinstance(record.geometry, SpatialRule)
    assert isinstance(record.caffe_check, CaffeCounterpart)
    assert callable(record.precision) or record.precision in ("float32", "policy")


def test_an_aspect_is_declared_once():
    with pytest.raises(ValueError, match=r"CaffeCrop: aspects \['onnx'\] are declared already"):
        register_support(keras_seg.layers.CaffeCrop, onnx=lambda graph, layer, inputs: [])


def test_an_invalid_aspect_is_refused_naming_what_was_expected():
    class Other(keras.layers.Layer):
        pass

    with pytest.raises(ValueError, match="unknown aspects"):
        register_support(Other, onxx=None)
    with pytest.raises(ValueError, match="geometry must be a SpatialRule, got 'pointwise'"):
        register_support(Other, geometry="pointwise")


def test_the_layers_package_imports_no_higher_level():
    higher = re.compile(r"^\s*(from|import) keras_seg\.(export|convert|inference|training|"
                        r"models|model_stats|cli)\b", re.MULTILINE)
    folder = pathlib.Path(keras_seg.layers.__file__).parent
    offenders = [path.name for path in folder.glob("*.py") if higher.search(path.read_text())]
    assert offenders == []


def test_moved_layers_keep_their_serialization_names():
    assert keras.saving.get_registered_name(PadTo) == "keras_seg>PadTo"
    assert keras.saving.get_registered_name(ValidSize) == "keras_seg>ValidSize"
    old = ValidSize.from_config({"name": "data_size", "trainable": True})  # saved before the
    assert (old.multiple, old.offset, old.smallest) == (16, 60, 188)     # rule was settable
