"""Caffe's cross-channel local response normalisation (``LRN``, ACROSS_CHANNELS)."""

import keras
from keras import ops


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
