"""Batch normalisation that always uses the statistics of the batch it is given."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_seg")
class BatchStatisticsNormalization(keras.layers.BatchNormalization):
    """Normalise with the batch's own mean and variance, in training and inference alike.

    The original FC-DenseNet (SimJeg/FC-DenseNet) trains and tests this way: its running
    averages were switched off on purpose, so the stored statistics of its released
    weights were never updated and faithful inference normalises each batch (one image:
    the image itself) with its own statistics. The layer keeps Keras's variables (gamma,
    beta and the unused moving statistics), so weights load as for ``BatchNormalization``;
    the moving statistics are never updated.

    Example:
        >>> import numpy as np
        >>> layer = BatchStatisticsNormalization(epsilon=1e-4)
        >>> y = layer(np.random.default_rng(0).normal(5, 2, (1, 8, 8, 3)).astype("f4"))
        >>> bool(abs(float(np.asarray(y).mean())) < 1e-4)
        True
    """

    def call(self, inputs, training=None, mask=None):
        axes = [i for i in range(len(inputs.shape)) if i != self.axis % len(inputs.shape)]
        mean, variance = ops.moments(inputs, axes=axes, keepdims=True)
        outputs = (inputs - mean) / ops.sqrt(variance + self.epsilon)
        if self.scale:
            outputs = outputs * self.gamma
        if self.center:
            outputs = outputs + self.beta
        return outputs
