"""Small helpers the layers' ONNX forms share: arrays, NCHW axes, padding, activations.

Each builds on the graph builder it is handed (``graph.op``, ``graph.constant``,
``graph.shape``, see :class:`keras_seg.export.onnx_graph.GraphBuilder`); nothing here
imports the exporter, and ``onnx`` itself only inside :func:`float_tensor`.

Example:
    >>> same_pads((3, 3), (2, 2))
    [2, 2, 2, 2]
"""

import keras
import numpy as np

from keras_seg.errors import UnsupportedLayerError

#: Keras NHWC axis -> the NCHW axis of the graph.
NCHW_AXIS = {0: 0, 1: 2, 2: 3, 3: 1}
INT64_MAX = np.iinfo(np.int64).max
#: Activations written as one ONNX operator (``linear`` writes nothing).
ACTIVATIONS = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "softmax": "Softmax"}


def array(variable):
    """A Keras variable (or tensor) as a float32 NumPy array."""
    return np.asarray(keras.ops.convert_to_numpy(variable), np.float32)


def ints(values):
    """``values`` as an int64 array (ONNX's shapes, pads, starts)."""
    return np.asarray(values, np.int64)


def channel_vector(graph, variable, hint):
    """A per-channel weight as (1, C, 1, 1), to broadcast over NCHW."""
    return graph.constant(array(variable).reshape(1, -1, 1, 1), hint)


def activation(graph, function, x, hint):
    """The ONNX operator of a Keras activation applied to ``x`` (``linear``: ``x``)."""
    name = keras.activations.serialize(function)
    if name == "linear":
        return x
    if name not in ACTIVATIONS:
        raise UnsupportedLayerError(f"{hint}: activation {name!r} has no ONNX converter "
                                    f"(supported: linear, {', '.join(ACTIVATIONS)})")
    axis = {"axis": 1} if name == "softmax" else {}
    return graph.op(ACTIVATIONS[name], [x], f"{hint}/{name}", **axis)


def same_pads(kernel_size, dilation):
    """Keras/TF "same" padding at stride 1: the extra pixel goes to the end."""
    totals = [d * (k - 1) for k, d in zip(kernel_size, dilation)]
    return [t // 2 for t in totals] + [t - t // 2 for t in totals]


def pad(graph, x, before, after, value, hint):
    """Constant padding of H and W (NCHW)."""
    pads = graph.constant(ints([0, 0, *before, 0, 0, *after]), f"{hint}/pads")
    fill = graph.constant(np.float32(value), f"{hint}/value")
    return graph.op("Pad", [x, pads, fill], hint)


def float_tensor(value):
    """A one-element float32 ``TensorProto`` (an attribute value)."""
    from onnx import numpy_helper

    return numpy_helper.from_array(np.asarray([value], np.float32))


def identity(graph, layer, inputs):
    """Layers that pass their input at inference (dropout, ``ValidSize``)."""
    return [graph.op("Identity", inputs, layer.name)]
