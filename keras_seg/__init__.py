"""keras-seg: classic semantic-segmentation networks for Keras 3, faithful to the originals.

Example:
    >>> import keras_seg
    >>> model = keras_seg.build("fcn8s")                                   # doctest: +SKIP
    >>> keras_seg.load_weights(model, "fcn8s-heavy-pascal.caffemodel")    # doctest: +SKIP

Heavy modules (TensorFlow, Keras) load on first use of a name that needs them. Saved
``.keras`` files name keras-seg's layers and model classes: ``import keras_seg`` registers
them with Keras when Keras is already imported, and so does building a model
(:mod:`keras_seg.registration`). ``import keras`` alone imports nothing of keras-seg.
"""

import importlib

from keras_seg.errors import ConversionError, InputError, ParameterError
from keras_seg.registration import register_if_keras_loaded

__version__ = "0.1.0"

_LAZY = {
    "list_models": "keras_seg.registry",
    "list_weights": "keras_seg.registry",
    "get_spec": "keras_seg.registry",
    "spec_of": "keras_seg.registry",
    "unwrap": "keras_seg.registry",
    "class_names": "keras_seg.registry",
    "label_palette": "keras_seg.registry",
    "build": "keras_seg.pretrained",
    "load_weights": "keras_seg.convert.load",
    "read_weights": "keras_seg.convert.readers",
    "preprocess": "keras_seg.inference.preprocess",
    "predict": "keras_seg.inference.predict",
    "predict_tiled": "keras_seg.inference.tiling",
    "predict_dataset": "keras_seg.inference.ray_predict",
    "Prediction": "keras_seg.inference.predict",
    "Tiling": "keras_seg.inference.tiling",
    "train": "keras_seg.training.trainer",
    "TrainConfig": "keras_seg.training.config",
    "evaluate": "keras_seg.training.evaluate",
    "evaluate_predictions": "keras_seg.training.evaluate",
    "export_model": "keras_seg.export",
    "register_model": "keras_seg.registry",
    "Geometry": "keras_seg.registry",
    "InputConvention": "keras_seg.input_conventions",
    "SegmentationModel": "keras_seg.models.base",
}
#: Public names defined under another name in their module.
_RENAMED = {"evaluate": "evaluate_folder"}
#: Public modules, imported on first use: ``keras_seg.data`` (datasets), ``images`` (reading
#: and writing), ``losses``, ``metrics``, ``export``, ``pretrained`` (published weights: fetch,
#: cache, convert), ``presets`` (converted weights in a folder to share, or ``hf://``),
#: ``samples`` (generated images), ``model_stats`` (parameters, FLOPs,
#: receptive fields), ``plots``.
_MODULES = ("data", "export", "images", "losses", "metrics", "model_stats", "plots",
            "presets", "pretrained", "samples")

__all__ = ["ConversionError", "InputError", "ParameterError", *sorted(_LAZY), *_MODULES]


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), _RENAMED.get(name, name))
    elif name in _MODULES:
        value = importlib.import_module(f"keras_seg.{name}")
    else:
        raise AttributeError(f"module 'keras_seg' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(__all__)


register_if_keras_loaded()
