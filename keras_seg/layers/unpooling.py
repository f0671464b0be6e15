"""SegNet's pooling indices: max pooling that returns Caffe's mask, and index unpooling.

Caffe's ``Pooling`` layer with two tops (SegNet: ``pool1`` and ``pool1_mask``) also gives,
for every pooled value, the flat index ``y * W + x`` of the maximum in its input plane, the
first maximum in row-major order where values tie, windows rounded up (ceil mode) at odd
sizes. The SegNet fork's ``Upsample`` layer writes each value back at its index in a map of
the encoder's size and zeros elsewhere. Both are written with ``keras.ops`` for 2x2 windows
of stride 2, the only ones SegNet uses: no scatter is needed, since each index falls inside
its own window.
"""

import keras
import numpy as np
from keras import ops

from keras_seg.layers.onnx_ops import ints
from keras_seg.layers.support import (
    AS_IS,
    CaffeCounterpart,
    SpatialRule,
    caffe_first,
    caffe_pair,
    register_support,
)


@keras.saving.register_keras_serializable(package="keras_seg")
class MaxPoolingWithArgmax2D(keras.layers.Layer):
    """2x2, stride-2 max pooling (ceil mode) that also returns Caffe's pooling mask.

    Returns ``[pooled, mask]``: ``mask`` (int32, same shape) holds ``y * W + x``, the flat
    index of each maximum in its (H, W) input plane, as Caffe's ``top[1]``.

    Example:
        >>> import numpy as np
        >>> x = np.array([[1, 5, 2], [5, 0, 7]], "float32")[None, :, :, None]
        >>> pooled, mask = MaxPoolingWithArgmax2D()(x)
        >>> pooled[0, :, :, 0].numpy().tolist(), mask[0, :, :, 0].numpy().tolist()
        ([[5.0, 7.0]], [[1, 5]])
    """

    def call(self, inputs):
        shape = ops.shape(inputs)
        height, width = shape[1], shape[2]
        pad_h, pad_w = height % 2, width % 2
        lowest = ops.cast(-3.0e38, inputs.dtype) if inputs.dtype != "float16" else -6.0e4
        x = ops.pad(inputs, [[0, 0], [0, pad_h], [0, pad_w], [0, 0]], constant_values=lowest)
        rows, cols = (height + pad_h) // 2, (width + pad_w) // 2
        channels = inputs.shape[-1]
        windows = ops.reshape(x, (-1, rows, 2, cols, 2, channels))
        windows = ops.transpose(windows, (0, 1, 3, 5, 2, 4))  # (N, h, w, C, dy, dx)
        windows = ops.reshape(windows, (-1, rows, cols, channels, 4))
        pooled = ops.max(windows, axis=-1)
        local = ops.argmax(windows, axis=-1)  # the first maximum, row-major in the window
        dy, dx = local // 2, local % 2
        y = 2 * ops.arange(rows)[None, :, None, None] + dy
        x_index = 2 * ops.arange(cols)[None, None, :, None] + dx
        mask = ops.cast(y * ops.cast(width, y.dtype) + x_index, "int32")
        return [pooled, mask]

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        shape = (n, None if h is None else -(-h // 2), None if w is None else -(-w // 2), c)
        return [shape, shape]

    def compute_output_spec(self, inputs):
        shape = self.compute_output_shape(inputs.shape)[0]
        return [keras.KerasTensor(shape, dtype=inputs.dtype),
                keras.KerasTensor(shape, dtype="int32")]


@keras.saving.register_keras_serializable(package="keras_seg")
class MaxUnpooling2D(keras.layers.Layer):
    """SegNet's ``Upsample``: put each value at its pooling index in a map of the encoder's size.

    Call it with ``[values, mask, reference]``: ``mask`` from
    :class:`MaxPoolingWithArgmax2D`, ``reference`` the map that was pooled (its height and
    width are the output's, as the prototxt's ``upsample_h``/``upsample_w`` give them at
    360x480, so odd sizes come out right at any input size).

    Example:
        >>> import numpy as np
        >>> x = np.array([[1, 5, 2], [5, 0, 7]], "float32")[None, :, :, None]
        >>> pooled, mask = MaxPoolingWithArgmax2D()(x)
        >>> MaxUnpooling2D()([pooled, mask, x])[0, :, :, 0].numpy().tolist()
        [[0.0, 5.0, 0.0], [0.0, 0.0, 7.0]]
    """

    def call(self, inputs):
        values, mask, reference = inputs
        shape = ops.shape(reference)
        height, width = shape[1], shape[2]
        rows, cols = ops.shape(values)[1], ops.shape(values)[2]
        channels = values.shape[-1]
        mask = ops.cast(mask, "int32")
        y0 = 2 * ops.arange(rows, dtype="int32")[None, :, None, None]
        x0 = 2 * ops.arange(cols, dtype="int32")[None, None, :, None]
        local = (mask // ops.cast(width, "int32") - y0) * 2 + (mask % ops.cast(width, "int32")
                                                               - x0)
        # expand_dims, not [..., None]: TFLite has no strided slice with a new axis
        slots = ops.one_hot(local, 4, dtype=values.dtype) * ops.expand_dims(values, -1)
        slots = ops.reshape(slots, (-1, rows, cols, channels, 2, 2))
        slots = ops.transpose(slots, (0, 1, 4, 2, 5, 3))  # (N, h, dy, w, dx, C)
        full = ops.reshape(slots, (-1, 2 * rows, 2 * cols, channels))
        return full[:, :height, :width, :]

    def compute_output_shape(self, input_shape):
        values, _, reference = input_shape
        return (values[0], reference[1], reference[2], values[3])


class _TFLiteMaxPoolingWithArgmax2D(MaxPoolingWithArgmax2D):
    """As the parent, with ``tf.argmax`` (first maximum, as Caffe) for ``ops.argmax``.

    On the TensorFlow backend ``ops.argmax``'s negative-zero fix uses ``BitwiseAnd``, which
    is not among TFLite's built-in operators.
    """

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


def _pool_onnx(graph, layer, inputs):
    """``MaxPool`` (ceil mode) with its ``Indices`` output.

    ONNX's indices count over the whole NCHW tensor and, as Caffe, keep the first maximum;
    the remainder modulo H * W is Caffe's mask ``y * W + x`` (int32, as the Keras layer).
    """
    name, x = layer.name, inputs[0]
    pooled, indices = graph.op("MaxPool", [x], f"{name}/pool", outputs=2, kernel_shape=[2, 2],
                               strides=[2, 2], ceil_mode=1)
    plane = graph.op("ReduceProd", [graph.shape(x, 2, 4, name)], f"{name}/plane", keepdims=0)
    mask = graph.op("Mod", [indices, plane], f"{name}/mask64")
    return [pooled, graph.op("Cast", [mask], f"{name}/mask", to=6)]  # INT32


def _unpool_onnx(graph, layer, inputs):
    """``MaxUnpool`` at Caffe's mask indices, cropped to the reference.

    As the Keras layer: the values go into a map of twice the pooled size, at the row
    ``mask // W`` and column ``mask % W`` (W the reference's width), which is then cropped
    to the reference's size. ``MaxUnpool`` indexes the whole NCHW map, so each index becomes
    ``((n * C + c) * 2h + row) * 2w + column``.
    """
    name = layer.name
    values, mask, reference = inputs
    spatial = graph.shape(reference, 2, 4, f"{name}/ref")
    width = graph.op("Gather", [spatial, graph.constant(np.int64(1), f"{name}/w_axis")],
                     f"{name}/width", axis=0)
    mask = graph.op("Cast", [mask], f"{name}/mask64", to=7)  # INT64
    rows = graph.op("Div", [mask, width], f"{name}/rows")
    cols = graph.op("Mod", [mask, width], f"{name}/cols")
    full = graph.op("Mul", [graph.shape(values, 2, 4, f"{name}/values"),
                            graph.constant(ints([2, 2]), f"{name}/two")], f"{name}/full")
    full_width = graph.op("Gather", [full, graph.constant(np.int64(1), f"{name}/fw_axis")],
                          f"{name}/full_width", axis=0)
    in_plane = graph.op("Add", [graph.op("Mul", [rows, full_width], f"{name}/row_starts"),
                                cols], f"{name}/in_plane")
    batch_channels = graph.shape(values, 0, 2, f"{name}/values")
    planes = graph.op("ReduceProd", [batch_channels], f"{name}/planes", keepdims=0)
    plane = graph.op("ReduceProd", [full], f"{name}/plane", keepdims=0)
    zero = graph.constant(np.int64(0), f"{name}/zero")
    step = graph.constant(np.int64(1), f"{name}/step")
    starts = graph.op("Mul", [graph.op("Range", [zero, planes, step], f"{name}/range"), plane],
                      f"{name}/plane_starts")
    four_d = graph.op("Concat", [batch_channels, graph.constant(ints([1, 1]), f"{name}/ones")],
                      f"{name}/offset_shape", axis=0)
    starts = graph.op("Reshape", [starts, four_d], f"{name}/offsets")
    indices = graph.op("Add", [in_plane, starts], f"{name}/indices")
    unpooled = graph.op("MaxUnpool", [values, indices], f"{name}/unpool", kernel_shape=[2, 2],
                        strides=[2, 2])
    origin = graph.constant(ints([0, 0]), f"{name}/origin")
    axes = graph.constant(ints([2, 3]), f"{name}/axes")
    return [graph.op("Slice", [unpooled, origin, spatial, axes], name)]


def _pool_window(layer, axis, n_in, n_out):
    return ("window", 2, 2, 1, 0)


def _unpool_upsample(layer, axis, n_in, n_out):
    return ("upsample", 2, False)


def two_tops(spec):
    """Whether a prototxt ``Pooling`` layer also gives the mask (SegNet's second top)."""
    return len(spec.get("top", [])) == 2


def _pool_checks(spec, layer, model_layers):
    param = caffe_first(spec, "pooling_param", {})
    yield "pool", str(caffe_first(param, "pool", "MAX")).lower(), "max"
    yield "kernel_size", caffe_pair(param, "kernel_size", None), (2, 2)
    yield "stride", caffe_pair(param, "stride", 1), (2, 2)
    yield "pad", caffe_pair(param, "pad", 0), (0, 0)


def _upsample_checks(spec, layer, model_layers):
    param = caffe_first(spec, "upsample_param", {})
    yield "scale", caffe_first(param, "scale", 2), 2


register_support(
    MaxPoolingWithArgmax2D,
    onnx=_pool_onnx,
    tflite=_TFLiteMaxPoolingWithArgmax2D,
    geometry=SpatialRule(_pool_window),
    caffe_check=CaffeCounterpart(("Pooling",), _pool_checks, accepts=two_tops),
    precision="policy",
)
register_support(
    MaxUnpooling2D,
    onnx=_unpool_onnx,
    tflite=AS_IS,
    geometry=SpatialRule(_unpool_upsample, shape_only_inputs=frozenset({2})),
    caffe_check=CaffeCounterpart(("Upsample",), _upsample_checks),
    precision="policy",
)
