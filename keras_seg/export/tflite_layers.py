"""TFLite-ready stand-ins for the layers whose TensorFlow graph needs TF Select operators.

The LiteRT interpreter (``ai-edge-litert``) has no Flex delegate, so a TFLite export may use
TFLite's built-in operators only. Two keras-seg layers trace to operators outside that set
on the TensorFlow backend: ``keras.ops.argmax`` (its negative-zero fix uses ``BitwiseAnd``)
and a padding computed at run time (which loses the static channel count that ``CONV_2D``
needs); the unpooling layer itself avoids ``[..., None]`` (a ``StridedSlice`` with
``new_axis_mask``). The
stand-ins compute the same values with built-in operators; :func:`tflite_ready` swaps them
in before conversion, sharing every other layer (and its weights) with the model.
"""

import keras
from keras import ops

from keras_seg.layers import MaxPoolingWithArgmax2D, PadTo


class _TFLiteMaxPoolingWithArgmax2D(MaxPoolingWithArgmax2D):
    """As the parent, with ``tf.argmax`` (first maximum, as Caffe) for ``ops.argmax``."""

    def call(self, inputs):
        import tensorflow as tf

        shape = ops.shape(inputs)
        height, width = shape[1], shape[2]
        pad_h, pad_w = height % 2, width % 2
        x = ops.pad(inputs, [[0, 0], [0, pad_h], [0, pad_w], [0, 0]], constant_values=-3.0e38)
        rows, cols = (height + pad_h) // 2, (width + pad_w) // 2
        channels = inputs.shape[-1]
        windows = ops.reshape(x, (-1, rows, 2, cols, 2, channels))
        windows = ops.reshape(ops.transpose(windows, (0, 1, 3, 5, 2, 4)),
                              (-1, rows, cols, channels, 4))
        pooled = ops.max(windows, axis=-1)
        local = tf.argmax(windows, axis=-1, output_type=tf.int32)
        dy, dx = local // 2, local % 2
        y = 2 * ops.arange(rows, dtype="int32")[None, :, None, None] + dy
        x_index = 2 * ops.arange(cols, dtype="int32")[None, None, :, None] + dx
        return [pooled, y * width + x_index]


class _TFLitePadTo(PadTo):
    """As the parent, with the channel count restored (a ``Reshape``) after the padding."""

    def call(self, inputs):
        padded = super().call(inputs)
        shape = ops.shape(padded)
        return ops.reshape(padded, (shape[0], shape[1], shape[2], inputs[0].shape[-1]))


STAND_INS = {MaxPoolingWithArgmax2D: _TFLiteMaxPoolingWithArgmax2D, PadTo: _TFLitePadTo}


def tflite_ready(model):
    """``model``, or a clone sharing its layers with the stand-ins swapped in.

    Example:
        >>> tflite_ready(keras_seg.build("segnet_basic")).get_layer("pool1")  # doctest: +SKIP
    """
    if not any(type(layer) in STAND_INS for layer in model.layers):
        return model

    def clone(layer):
        stand_in = STAND_INS.get(type(layer))
        return layer if stand_in is None else stand_in.from_config(layer.get_config())

    return keras.models.clone_model(model, clone_function=clone)
