"""keras-seg's classes registered with Keras, so that ``keras.saving.load_model`` reads its files.

A saved ``.keras`` file names keras-seg's layers, model classes, losses, metrics and
learning-rate schedules by their registered names (``"keras_seg>CaffeCrop"``); Keras finds
them once the modules that define them have been imported. :func:`register_with_keras`
imports them all (about 30 modules, a few hundredths of a second once Keras is loaded).

``import keras`` never imports keras-seg. ``import keras_seg`` registers when Keras is
already imported (``import tensorflow`` imports it too); so do importing the builders
(:mod:`keras_seg.models`, which every ``build`` does) and, where Keras is loaded,
:mod:`keras_seg.pretrained` (the command line loads ``.keras`` files after it). A process that
imports keras-seg before Keras and loads a file before any keras-seg call calls
:func:`register_with_keras` itself.

Example:
    >>> import keras
    >>> register_with_keras()
    >>> "keras_seg>SegmentationModel" in keras.saving.get_custom_objects()
    True
"""

import importlib
import sys

#: The modules that define keras-seg's serializable classes.
MODULES = ("keras_seg.layers", "keras_seg.models.base", "keras_seg.training.losses",
           "keras_seg.training.region_losses",
           "keras_seg.training.metrics", "keras_seg.training.optimizers",
           "keras_seg.training.recipes",
           "keras_seg.training.adversarial")


def register_with_keras():
    """Import every module that registers a keras-seg class with Keras; idempotent.

    Importing :mod:`keras_seg.models` also adapts Keras's torch backend to keras-seg's
    dotted layer names (:func:`keras_seg.backends.use_torch_parameter_keys`).

    Example:
        >>> register_with_keras()  # before keras.saving.load_model("run/best.keras")
    """
    for module in MODULES:
        importlib.import_module(module)


def register_if_keras_loaded():
    """:func:`register_with_keras` if Keras is imported already; otherwise nothing (cheap).

    Example:
        >>> register_if_keras_loaded()  # in a module that must not import Keras itself
    """
    if "keras" in sys.modules:
        register_with_keras()
