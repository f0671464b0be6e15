"""keras-seg: classic semantic-segmentation networks for Keras 3, faithful to the originals.

Example:
    >>> import keras_seg
    >>> model = keras_seg.build("fcn8s")                                   # doctest: +SKIP
    >>> keras_seg.load_weights(model, "fcn8s-heavy-pascal.caffemodel")    # doctest: +SKIP

Heavy modules (TensorFlow, Keras) load on first use of a name that needs them. Saved
``.keras`` files name keras-seg's layers and model class; they are registered with Keras as
soon as Keras is imported, so ``import keras_seg`` is all a reload needs.
"""

import importlib
import importlib.abc
import importlib.util
import sys

from keras_seg.errors import ConversionError, InputError

__version__ = "0.1.0"

_LAZY = {
    "list_models": "keras_seg.registry",
    "list_weights": "keras_seg.registry",
    "get_spec": "keras_seg.registry",
    "spec_of": "keras_seg.registry",
    "unwrap": "keras_seg.registry",
    "class_names": "keras_seg.registry",
    "label_palette": "keras_seg.registry",
    "build": "keras_seg.hub",
    "load_weights": "keras_seg.convert.load",
    "read_weights": "keras_seg.convert.readers",
    "preprocess": "keras_seg.inference.preprocess",
    "predict": "keras_seg.inference.predict",
    "predict_tiled": "keras_seg.inference.tiling",
    "Prediction": "keras_seg.inference.predict",
    "Tiling": "keras_seg.inference.tiling",
}

__all__ = ["ConversionError", "InputError", *sorted(_LAZY)]


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'keras_seg' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)


def _register_keras_objects():
    for module in ("layers", "models.base", "training.losses", "training.metrics",
                   "training.recipes", "training.adversarial"):
        importlib.import_module(f"keras_seg.{module}")
    importlib.import_module("keras_seg.backends").use_torch_parameter_keys()


class _AfterKeras(importlib.abc.MetaPathFinder):
    """Registers keras-seg's serializable classes right after ``keras`` is imported.

    ``find_spec("keras")`` may also be asked without an import (TensorFlow checks for
    Keras that way), so every spec found is given the registering loader, and the finder
    leaves ``sys.meta_path`` once Keras has really been executed.
    """

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "keras":
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        exec_module = spec.loader.exec_module

        def exec_then_register(module):
            exec_module(module)
            if self in sys.meta_path:
                sys.meta_path.remove(self)
            _register_keras_objects()

        spec.loader.exec_module = exec_then_register
        return spec


if "keras" in sys.modules:
    _register_keras_objects()
elif not any(isinstance(finder, _AfterKeras) for finder in sys.meta_path):
    sys.meta_path.insert(0, _AfterKeras())
