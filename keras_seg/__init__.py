"""keras-seg: classic semantic-segmentation networks for Keras 3, faithful to the originals.

Example:
    >>> import keras_seg
    >>> model = keras_seg.build("fcn8s")                                   # doctest: +SKIP
    >>> keras_seg.load_weights(model, "fcn8s-heavy-pascal.caffemodel")    # doctest: +SKIP

Heavy modules (TensorFlow, Keras) load on first use of a name that needs them.
"""

import importlib

from keras_seg.errors import ConversionError

__version__ = "0.1.0"

_LAZY = {
    "list_models": "keras_seg.registry",
    "build": "keras_seg.registry",
    "get_spec": "keras_seg.registry",
    "load_weights": "keras_seg.convert.load",
    "read_weights": "keras_seg.convert.load",
    "preprocess": "keras_seg.inference.preprocess",
    "predict": "keras_seg.inference.predict",
    "predict_tiled": "keras_seg.inference.tiling",
}

__all__ = ["ConversionError", *sorted(_LAZY)]


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'keras_seg' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
