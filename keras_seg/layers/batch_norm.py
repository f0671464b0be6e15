"""Batch normalisation that always uses the statistics of the batch it is given."""

import keras
import numpy as np
from keras import ops

from keras_seg.layers.onnx_ops import channel_vector
from keras_seg.layers.support import AS_IS, NO_CAFFE_LAYER, POINTWISE, register_support


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


def _onnx(graph, layer, inputs):
    """The batch's mean and variance (``ReduceMean``), then gamma and beta."""
    name, x = layer.name, inputs[0]
    mean = graph.op("ReduceMean", [x], f"{name}/mean", axes=[0, 2, 3], keepdims=1)
    centred = graph.op("Sub", [x, mean], f"{name}/centred")
    variance = graph.op("ReduceMean", [graph.op("Mul", [centred, centred], f"{name}/squares")],
                        f"{name}/variance", axes=[0, 2, 3], keepdims=1)
    epsilon = graph.constant(np.float32(layer.epsilon), f"{name}/epsilon")
    std = graph.op("Sqrt", [graph.op("Add", [variance, epsilon], f"{name}/var_eps")],
                   f"{name}/std")
    y = graph.op("Div", [centred, std], f"{name}/normalised")
    if layer.scale:
        y = graph.op("Mul", [y, channel_vector(graph, layer.gamma, f"{name}/gamma")],
                     f"{name}/scaled")
    if layer.center:
        y = graph.op("Add", [y, channel_vector(graph, layer.beta, f"{name}/beta")],
                     f"{name}/shifted")
    return [y]


# No Caffe layer: the Lasagne release's batch normalisation (FC-DenseNet).
register_support(BatchStatisticsNormalization, onnx=_onnx, tflite=AS_IS, geometry=POINTWISE,
                 caffe_check=NO_CAFFE_LAYER, precision="policy")
