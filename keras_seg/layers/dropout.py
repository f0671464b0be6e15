"""Dropout that samples at inference too: Monte Carlo dropout for Bayesian SegNet."""

import keras

from keras_seg.layers.support import AS_IS, NO_CAFFE_LAYER, POINTWISE, Refused, register_support


@keras.saving.register_keras_serializable(package="keras_seg")
class SamplingDropout(keras.layers.Dropout):
    """Dropout active whether training or not (Gal & Ghahramani 2016's MC dropout).

    Bayesian SegNet's releases set ``sample_weights_test``: their dropout layers keep
    sampling at test time, and the mean of many forwards is the prediction.

    Example:
        >>> import numpy as np
        >>> layer = SamplingDropout(0.5, seed=1)
        >>> bool((np.asarray(layer(np.ones((1, 64)), training=False)) == 0).any())
        True
    """

    def call(self, inputs, training=None):
        return super().call(inputs, training=True)


# The prototxts' Dropout layers (sample_weights_test) have no weights and are not checked.
register_support(
    SamplingDropout,
    onnx=Refused("it samples at inference (Monte Carlo dropout) and an exported graph is "
                 "deterministic; export the model with its plain Dropout layers"),
    tflite=AS_IS,
    geometry=POINTWISE,
    caffe_check=NO_CAFFE_LAYER,
    precision="policy",
)
