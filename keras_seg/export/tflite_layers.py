"""Swap in the TFLite-ready stand-ins of the layers whose TensorFlow graph needs TF Select.

The LiteRT interpreter (``ai-edge-litert``) has no Flex delegate, so a TFLite export may use
TFLite's built-in operators only. A layer whose TensorFlow graph leaves that set declares a
stand-in (its ``tflite`` aspect in :mod:`keras_seg.layers.support`, beside the layer class)
computing the same values with built-in operators: keras-seg's index pooling
(``keras.ops.argmax`` uses ``BitwiseAnd``) and ``PadTo`` (a padding computed at run time
loses the static channel count that ``CONV_2D`` needs). :func:`tflite_ready` swaps them in
before conversion, sharing every other layer (and its weights) with the model.
"""

import keras

from keras_seg.layers.support import AS_IS, MISSING, aspect_of


def stand_in_of(layer):
    """The TFLite stand-in class of ``layer`` (exact class), or None to keep it as it is.

    Example:
        >>> stand_in_of(keras_seg.layers.MaxPoolingWithArgmax2D()).__name__  # doctest: +SKIP
        '_TFLiteMaxPoolingWithArgmax2D'
    """
    stand_in = aspect_of(layer, "tflite", inherit=False)
    return None if stand_in is AS_IS or stand_in is MISSING else stand_in


def tflite_ready(model):
    """``model``, or a clone sharing its layers with the stand-ins swapped in.

    Example:
        >>> tflite_ready(keras_seg.build("segnet_basic")).get_layer("pool1")  # doctest: +SKIP
    """
    if not any(stand_in_of(layer) is not None for layer in model.layers):
        return model

    def clone(layer):
        stand_in = stand_in_of(layer)
        return layer if stand_in is None else stand_in.from_config(layer.get_config())

    return keras.models.clone_model(model, clone_function=clone)
