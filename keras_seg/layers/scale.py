"""Caffe's Scale layer: a learned per-channel multiplier (and optional bias)."""

import keras

from keras_seg.layers.onnx_ops import channel_vector
from keras_seg.layers.support import (
    AS_IS,
    POINTWISE,
    CaffeCounterpart,
    caffe_first,
    register_support,
)


@keras.saving.register_keras_serializable(package="keras_seg")
class Scale(keras.layers.Layer):
    """Multiply each channel by a learned factor, optionally add a learned bias (NHWC).

    Caffe's ``Scale`` layer with one bottom and ``axis: 1`` (channels). FCN-8s at-once uses it
    with constant, frozen factors (0.01 on pool4, 0.0001 on pool3); SegNet and FC-DenseNet
    ports use it after batch normalisation.

    Args:
        value: initial value of every factor.
        use_bias: add a per-channel bias (Caffe's ``bias_term``).
        **kwargs: standard layer arguments (``name``, ``trainable``...).

    Example:
        >>> import numpy as np
        >>> layer = Scale(value=0.01)
        >>> float(layer(np.ones((1, 2, 2, 4), "float32"))[0, 0, 0, 0])
        0.01
    """

    def __init__(self, value=1.0, use_bias=False, **kwargs):
        super().__init__(**kwargs)
        self.value = float(value)
        self.use_bias = bool(use_bias)

    def build(self, input_shape):
        channels = input_shape[-1]
        self.gamma = self.add_weight(
            shape=(channels,), initializer=keras.initializers.Constant(self.value), name="gamma"
        )
        self.beta = (
            self.add_weight(shape=(channels,), initializer="zeros", name="beta")
            if self.use_bias
            else None
        )

    def call(self, inputs):
        outputs = inputs * self.gamma
        return outputs + self.beta if self.use_bias else outputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(value=self.value, use_bias=self.use_bias)
        return config


@keras.saving.register_keras_serializable(package="keras_seg")
class CaffeBN(Scale):
    """The SegNet fork's ``BN`` layer in inference mode: ``x * scale + shift`` per channel.

    In ``bn_mode: INFERENCE`` the fork's published weights hold the batch statistics folded
    into its two blobs (``scale`` and ``shift``, each 1xCx1x1), so the layer is an affine map;
    a separate class keeps the Caffe layer type (``BN``) for the converter's checks.

    Example:
        >>> import numpy as np
        >>> layer = CaffeBN()
        >>> layer(np.ones((1, 1, 1, 3), "float32")).shape
        (1, 1, 1, 3)
    """

    def __init__(self, **kwargs):
        kwargs.pop("use_bias", None)
        kwargs.pop("value", None)
        super().__init__(value=1.0, use_bias=True, **kwargs)

    def get_config(self):
        config = super().get_config()
        config.pop("use_bias", None)
        config.pop("value", None)
        return config


def _onnx(graph, layer, inputs):
    """``Scale`` and ``CaffeBN``: ``x * gamma (+ beta)`` per channel."""
    y = graph.op("Mul", [inputs[0], channel_vector(graph, layer.gamma, f"{layer.name}/gamma")],
                 f"{layer.name}/scaled")
    if layer.use_bias:
        y = graph.op("Add", [y, channel_vector(graph, layer.beta, f"{layer.name}/beta")],
                     f"{layer.name}/shifted")
    return [y]


def _scale_checks(spec, layer, model_layers):
    param = caffe_first(spec, "scale_param", {})
    yield "bias_term", caffe_first(param, "bias_term", False), layer.use_bias


def _bn_checks(spec, layer, model_layers):
    mode = str(caffe_first(caffe_first(spec, "bn_param", {}), "bn_mode", "INFERENCE"))
    yield "bn_mode", "INFERENCE", mode  # LEARN mode normalises with batch statistics


register_support(Scale, onnx=_onnx, tflite=AS_IS, geometry=POINTWISE,
                 caffe_check=CaffeCounterpart(("Scale",), _scale_checks), precision="policy")
register_support(CaffeBN, onnx=_onnx, tflite=AS_IS, geometry=POINTWISE,
                 caffe_check=CaffeCounterpart(("BN",), _bn_checks), precision="policy")
