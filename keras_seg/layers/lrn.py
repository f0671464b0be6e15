"""Caffe's cross-channel local response normalisation (``LRN``, ACROSS_CHANNELS)."""

import keras
from keras import ops

from keras_seg.layers.support import (
    AS_IS,
    POINTWISE,
    CaffeCounterpart,
    caffe_first,
    register_support,
)


@keras.saving.register_keras_serializable(package="keras_seg")
class LRN(keras.layers.Layer):
    """``x / (k + alpha / n * sum of x^2 over n neighbouring channels) ** beta`` (NHWC).

    Caffe's ``LRN`` with ``norm_region: ACROSS_CHANNELS``: the window of ``local_size`` (odd)
    channels is centred on each channel and zero-padded at the ends; note Caffe divides
    ``alpha`` by the window size (TensorFlow's ``local_response_normalization`` does not).

    Args:
        local_size: channels in the window (SegNet-Basic: 5).
        alpha: scale (SegNet-Basic: 0.0001).
        beta: exponent (SegNet-Basic: 0.75).
        k: offset (Caffe's default 1).
        **kwargs: standard layer arguments.

    Example:
        >>> import numpy as np
        >>> layer = LRN(local_size=1, alpha=1.0, beta=1.0)
        >>> float(layer(np.full((1, 1, 1, 1), 2.0, "f4"))[0, 0, 0, 0])
        0.4
    """

    def __init__(self, local_size=5, alpha=1e-4, beta=0.75, k=1.0, **kwargs):
        super().__init__(**kwargs)
        if local_size % 2 != 1:
            raise ValueError(f"local_size must be odd, got {local_size}")
        self.local_size, self.alpha, self.beta, self.k = int(local_size), float(alpha), \
            float(beta), float(k)

    def call(self, inputs):
        half = self.local_size // 2
        squares = ops.pad(ops.square(inputs), [[0, 0], [0, 0], [0, 0], [half, half]])
        channels = inputs.shape[-1]
        total = sum(squares[..., i : i + channels] for i in range(self.local_size))
        return inputs / ops.power(self.k + self.alpha / self.local_size * total, self.beta)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(local_size=self.local_size, alpha=self.alpha, beta=self.beta, k=self.k)
        return config


def _onnx(graph, layer, inputs):
    """ONNX's ``LRN`` has Caffe's formula (alpha / n)."""
    return [graph.op("LRN", inputs, layer.name, size=layer.local_size, alpha=layer.alpha,
                     beta=layer.beta, bias=layer.k)]


def _caffe_checks(spec, layer, model_layers):
    param = caffe_first(spec, "lrn_param", {})
    region = str(caffe_first(param, "norm_region", "ACROSS_CHANNELS"))
    yield "norm_region", region, "ACROSS_CHANNELS"
    yield "local_size", caffe_first(param, "local_size", 5), layer.local_size
    yield "alpha", caffe_first(param, "alpha", 1.0), layer.alpha
    yield "beta", caffe_first(param, "beta", 0.75), layer.beta
    yield "k", caffe_first(param, "k", 1.0), layer.k


# float32 under bfloat16: a sum of squares of 0-255 pixels raised to a fractional power
# needs float32's mantissa (in bfloat16 it changed 5% of SegNet-Basic's labels, against
# 1.5% without it), and costs little.
register_support(LRN, onnx=_onnx, tflite=AS_IS, geometry=POINTWISE,
                 caffe_check=CaffeCounterpart(("LRN",), _caffe_checks), precision="float32")
