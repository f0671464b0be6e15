"""One ONNX converter per Keras layer type, mirroring each layer's ``call`` in NCHW.

A converter takes the :class:`~keras_seg.export.onnx_graph.GraphBuilder`, the layer and the
ONNX names of its input tensors (NCHW, in the order the layer was called with them) and
returns the names of its outputs. :data:`CONVERTERS` maps the exact layer class to its
converter: a subclass may change ``call``, so it is refused until it has its own entry.
"""

import keras
import numpy as np

from keras_seg.export.onnx_graph import UnsupportedLayerError
from keras_seg.layers import (
    LRN,
    BatchStatisticsNormalization,
    CaffeBN,
    CaffeCrop,
    CaffePooling2D,
    GroupedConv2DTranspose,
    MaxPoolingWithArgmax2D,
    MaxUnpooling2D,
    PadTo,
    SamplingDropout,
    Scale,
    ValidSize,
)

#: Keras NHWC axis -> the NCHW axis of the graph.
NCHW_AXIS = {0: 0, 1: 2, 2: 3, 3: 1}
_INT64_MAX = np.iinfo(np.int64).max
#: Activations written as one ONNX operator (``linear`` writes nothing).
ACTIVATIONS = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "softmax": "Softmax"}


def _array(variable):
    return np.asarray(keras.ops.convert_to_numpy(variable), np.float32)


def _ints(values):
    return np.asarray(values, np.int64)


def _channel_vector(graph, variable, hint):
    """A per-channel weight as (1, C, 1, 1), to broadcast over NCHW."""
    return graph.constant(_array(variable).reshape(1, -1, 1, 1), hint)


def _activation(graph, activation, x, hint):
    name = keras.activations.serialize(activation)
    if name == "linear":
        return x
    if name not in ACTIVATIONS:
        raise UnsupportedLayerError(f"{hint}: activation {name!r} has no ONNX converter "
                                    f"(supported: linear, {', '.join(ACTIVATIONS)})")
    axis = {"axis": 1} if name == "softmax" else {}
    return graph.op(ACTIVATIONS[name], [x], f"{hint}/{name}", **axis)


def _same_pads(kernel_size, dilation):
    """Keras/TF "same" padding at stride 1: the extra pixel goes to the end."""
    totals = [d * (k - 1) for k, d in zip(kernel_size, dilation)]
    return [t // 2 for t in totals] + [t - t // 2 for t in totals]


def conv2d(graph, layer, inputs):
    """``Conv2D`` (strides, dilation, groups, valid/same) -> ``Conv`` (+ activation)."""
    kernel = _array(layer.kernel).transpose(3, 2, 0, 1)  # (kh, kw, in/g, out) -> OIHW
    operands = [inputs[0], graph.constant(kernel, f"{layer.name}/kernel")]
    if layer.use_bias:
        operands.append(graph.constant(_array(layer.bias), f"{layer.name}/bias"))
    padding = {}
    if layer.padding == "same" and max(layer.strides) == 1:
        padding["pads"] = _same_pads(layer.kernel_size, layer.dilation_rate)
    elif layer.padding == "same":
        padding["auto_pad"] = "SAME_UPPER"
    y = graph.op("Conv", operands, f"{layer.name}/conv", kernel_shape=list(layer.kernel_size),
                 strides=list(layer.strides), dilations=list(layer.dilation_rate),
                 group=layer.groups, **padding)
    return [_activation(graph, layer.activation, y, layer.name)]


def conv2d_transpose(graph, layer, inputs, kernel=None, group=1):
    """``Conv2DTranspose`` (valid/same, no ``output_padding``) -> ``ConvTranspose``.

    TensorFlow's transposed convolution, Caffe's deconvolution and ONNX's ``ConvTranspose``
    are the same operation (the gradient of a convolution, kernel unflipped); the Keras
    kernel (kh, kw, out, in) becomes (in, out, kh, kw).
    """
    if layer.output_padding is not None:
        raise UnsupportedLayerError(f"{layer.name}: output_padding has no ONNX converter")
    kernel = _array(layer.kernel) if kernel is None else kernel
    operands = [inputs[0], graph.constant(kernel.transpose(3, 2, 0, 1), f"{layer.name}/kernel")]
    if layer.use_bias:
        operands.append(graph.constant(_array(layer.bias), f"{layer.name}/bias"))
    pads = [0, 0, 0, 0]
    if layer.padding == "same":  # TF crops (k_eff - s) // 2 at the start, the rest at the end
        totals = [d * (k - 1) + 1 - s for k, s, d in
                  zip(layer.kernel_size, layer.strides, layer.dilation_rate)]
        if min(totals) < 0:
            raise UnsupportedLayerError(f"{layer.name}: 'same' with strides larger than the "
                                        "kernel has no ONNX converter")
        pads = [t // 2 for t in totals] + [t - t // 2 for t in totals]
    y = graph.op("ConvTranspose", operands, f"{layer.name}/deconv",
                 kernel_shape=list(layer.kernel_size), strides=list(layer.strides),
                 dilations=list(layer.dilation_rate), group=group, pads=pads)
    return [_activation(graph, layer.activation, y, layer.name)]


def grouped_conv2d_transpose(graph, layer, inputs):
    """``GroupedConv2DTranspose`` -> ``ConvTranspose`` with ``group``.

    The per-group kernel (kh, kw, out/g, in) is exactly the grouped weight (in, out/g, kh,
    kw) of ``ConvTranspose``, so the block-diagonal kernel that the layer expands is never
    built.
    """
    return conv2d_transpose(graph, layer, inputs, group=layer.groups)


def caffe_pooling(graph, layer, inputs):
    """``CaffePooling2D``: ceil-mode windows, Caffe's overhang rule and average divisor.

    As the layer: pad ``p`` before and ``p + s - 1`` after (``-inf`` for max, zeros for
    average), pool without padding or rounding, then (with padding) drop the last window
    where it starts inside the padding; average pooling divides the window sums by each
    window's area clipped to the input plus padding.
    """
    (kh, kw), (sh, sw), (ph, pw) = layer.kernel_size, layer.strides, layer.pad
    window = {"kernel_shape": [kh, kw], "strides": [sh, sw]}
    fill = -np.inf if layer.pool == "max" else 0.0
    padded = _pad(graph, inputs[0], (ph, pw), (ph + sh - 1, pw + sw - 1), fill,
                  f"{layer.name}/padded")
    if layer.pool == "max":
        pooled = graph.op("MaxPool", [padded], f"{layer.name}/max", **window)
    else:
        pooled = _caffe_average(graph, layer, inputs[0], padded, window)
    if ph == 0 and pw == 0:
        return [pooled]
    sizes = _caffe_pool_sizes(graph, layer, inputs[0])
    starts = graph.constant(_ints([0, 0]), f"{layer.name}/starts")
    axes = graph.constant(_ints([2, 3]), f"{layer.name}/axes")
    return [graph.op("Slice", [pooled, starts, sizes, axes], layer.name)]


def _pad(graph, x, before, after, value, hint):
    """Constant padding of H and W (NCHW)."""
    pads = graph.constant(_ints([0, 0, *before, 0, 0, *after]), f"{hint}/pads")
    fill = graph.constant(np.float32(value), f"{hint}/value")
    return graph.op("Pad", [x, pads, fill], hint)


def _caffe_average(graph, layer, x, padded, window):
    """Window sums over the zero-padded map, divided by the windows' areas in input + pad."""
    (kh, kw), (sh, sw), (ph, pw) = layer.kernel_size, layer.strides, layer.pad
    area = graph.constant(np.float32(kh * kw), f"{layer.name}/area")
    mean = graph.op("AveragePool", [padded], f"{layer.name}/mean", **window)
    sums = graph.op("Mul", [mean, area], f"{layer.name}/sums")
    # Count each window's positions inside [-p, n + p): pool a map of ones padded by p with
    # ones and by the overhang (s - 1) with zeros.
    plane = graph.op("Concat", [graph.constant(_ints([1, 1]), f"{layer.name}/one_one"),
                                graph.shape(x, 2, 4, layer.name)], f"{layer.name}/plane",
                     axis=0)
    ones = graph.op("ConstantOfShape", [plane], f"{layer.name}/ones",
                    value=_float_tensor(1.0))
    ones = _pad(graph, ones, (ph, pw), (ph, pw), 1.0, f"{layer.name}/ones_padded")
    ones = _pad(graph, ones, (0, 0), (sh - 1, sw - 1), 0.0, f"{layer.name}/ones_overhang")
    counts = graph.op("AveragePool", [ones], f"{layer.name}/count_mean", **window)
    counts = graph.op("Mul", [counts, area], f"{layer.name}/counts")
    return graph.op("Div", [sums, counts], f"{layer.name}/ave")


def _float_tensor(value):
    from onnx import numpy_helper

    return numpy_helper.from_array(np.asarray([value], np.float32))


def _caffe_pool_sizes(graph, layer, x):
    """Caffe's pooled sizes at run time: ceil windows, less one starting in the padding."""
    (kh, kw), (sh, sw), (ph, pw) = layer.kernel_size, layer.strides, layer.pad
    name = layer.name
    n = graph.shape(x, 2, 4, name)
    c = graph.constant  # int64 pairs over (H, W)
    full = graph.op("Add", [n, c(_ints([2 * ph - kh + sh - 1, 2 * pw - kw + sw - 1]),
                                 f"{name}/extent")], f"{name}/extent")
    full = graph.op("Add", [graph.op("Div", [full, c(_ints([sh, sw]), f"{name}/stride")],
                                     f"{name}/windows"), c(_ints([1, 1]), f"{name}/one")],
                    f"{name}/ceil_sizes")
    last = graph.op("Mul", [graph.op("Sub", [full, c(_ints([1, 1]), f"{name}/one_")],
                                     f"{name}/last"), c(_ints([sh, sw]), f"{name}/stride_")],
                    f"{name}/last_start")
    bound = graph.op("Add", [n, c(_ints([ph, pw]), f"{name}/pad")], f"{name}/bound")
    overhang = graph.op("Cast", [graph.op("GreaterOrEqual", [last, bound], f"{name}/overhang")],
                        f"{name}/overhang_int", to=7)  # INT64
    return graph.op("Sub", [full, overhang], f"{name}/sizes")


def keras_pooling(graph, layer, inputs):
    """``MaxPooling2D`` / ``AveragePooling2D``: floor windows, or TF's "same" padding."""
    op_type = "MaxPool" if isinstance(layer, keras.layers.MaxPooling2D) else "AveragePool"
    extra = {} if op_type == "MaxPool" else {"count_include_pad": 0}
    if layer.padding == "same":
        extra["auto_pad"] = "SAME_UPPER"
    return [graph.op(op_type, inputs, layer.name, kernel_shape=list(layer.pool_size),
                     strides=list(layer.strides), **extra)]


def cropping(graph, layer, inputs):
    """``Cropping2D``: ((top, bottom), (left, right)) -> ``Slice`` of H and W."""
    (top, bottom), (left, right) = layer.cropping
    starts = graph.constant(_ints([top, left]), f"{layer.name}/starts")
    ends = graph.constant(_ints([-bottom if bottom else _INT64_MAX,
                                 -right if right else _INT64_MAX]), f"{layer.name}/ends")
    axes = graph.constant(_ints([2, 3]), f"{layer.name}/axes")
    return [graph.op("Slice", [inputs[0], starts, ends, axes], layer.name)]


def zero_padding(graph, layer, inputs):
    """``ZeroPadding2D`` -> ``Pad`` (constant zeros)."""
    (top, bottom), (left, right) = layer.padding
    pads = graph.constant(_ints([0, 0, top, left, 0, 0, bottom, right]), f"{layer.name}/pads")
    return [graph.op("Pad", [inputs[0], pads], layer.name)]


def caffe_crop(graph, layer, inputs):
    """``CaffeCrop``: ``x[:, :, oy:oy + H_ref, ox:ox + W_ref]``, sizes read at run time."""
    x, reference = inputs
    offset = _ints(layer.offset)
    starts = graph.constant(offset, f"{layer.name}/offset")
    ends = graph.op("Add", [graph.shape(reference, 2, 4, layer.name), starts],
                    f"{layer.name}/ends")
    axes = graph.constant(_ints([2, 3]), f"{layer.name}/axes")
    return [graph.op("Slice", [x, starts, ends, axes], layer.name)]


def pad_to(graph, layer, inputs):
    """U-Net's ``PadTo``: zero-pad to the reference's size, the odd pixel at the end."""
    x, reference = inputs
    name = layer.name
    missing = graph.op("Sub", [graph.shape(reference, 2, 4, f"{name}/ref"),
                               graph.shape(x, 2, 4, f"{name}/x")], f"{name}/missing")
    before = graph.op("Div", [missing, graph.constant(_ints([2, 2]), f"{name}/two")],
                      f"{name}/before")
    after = graph.op("Sub", [missing, before], f"{name}/after")
    zeros = graph.constant(_ints([0, 0]), f"{name}/zeros")
    pads = graph.op("Concat", [zeros, before, zeros, after], f"{name}/pads", axis=0)
    return [graph.op("Pad", [x, pads], name)]


def identity(graph, layer, inputs):
    """Layers that pass their input at inference (dropout, U-Net's ``ValidSize``)."""
    return [graph.op("Identity", inputs, layer.name)]


def relu(graph, layer, inputs):
    """``ReLU`` (with ``negative_slope`` and ``max_value``; threshold 0 only)."""
    if float(layer.threshold) != 0.0:
        raise UnsupportedLayerError(f"{layer.name}: ReLU with a threshold has no ONNX "
                                    "converter")
    slope = float(layer.negative_slope)
    y = graph.op("LeakyRelu" if slope else "Relu", inputs, f"{layer.name}/relu",
                 alpha=slope or None)
    if layer.max_value is not None:
        top = graph.constant(np.float32(layer.max_value), f"{layer.name}/max_value")
        y = graph.op("Min", [y, top], f"{layer.name}/clip")
    return [y]


def activation(graph, layer, inputs):
    """``Activation`` -> the operator of its function."""
    return [graph.op("Identity", [_activation(graph, layer.activation, inputs[0], layer.name)],
                     layer.name)]


def merge(graph, layer, inputs):
    """``Add``, ``Multiply``, ``Maximum``, ``Minimum``, ``Average`` of any number of inputs."""
    op_type = {keras.layers.Add: "Sum", keras.layers.Multiply: "Mul",
               keras.layers.Maximum: "Max", keras.layers.Minimum: "Min",
               keras.layers.Average: "Mean"}[type(layer)]
    if op_type != "Mul":
        return [graph.op(op_type, inputs, layer.name)]
    y = inputs[0]
    for x in inputs[1:]:
        y = graph.op("Mul", [y, x], layer.name)
    return [y]


def subtract(graph, layer, inputs):
    """``Subtract`` -> ``Sub``."""
    return [graph.op("Sub", inputs, layer.name)]


def concatenate(graph, layer, inputs):
    """``Concatenate`` along the NCHW counterpart of its axis."""
    return [graph.op("Concat", inputs, layer.name, axis=NCHW_AXIS[layer.axis % 4])]


def batch_norm(graph, layer, inputs):
    """``BatchNormalization`` at inference: the moving statistics, one ``BatchNormalization``."""
    channels = layer.moving_mean.shape[0]
    gamma = _array(layer.gamma) if layer.scale else np.ones(channels, np.float32)
    beta = _array(layer.beta) if layer.center else np.zeros(channels, np.float32)
    operands = [inputs[0]] + [graph.constant(array, f"{layer.name}/{part}") for part, array in
                              (("gamma", gamma), ("beta", beta),
                               ("moving_mean", _array(layer.moving_mean)),
                               ("moving_variance", _array(layer.moving_variance)))]
    return [graph.op("BatchNormalization", operands, layer.name, epsilon=float(layer.epsilon))]


def batch_statistics_norm(graph, layer, inputs):
    """``BatchStatisticsNormalization``: the batch's mean and variance (``ReduceMean``)."""
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
        y = graph.op("Mul", [y, _channel_vector(graph, layer.gamma, f"{name}/gamma")],
                     f"{name}/scaled")
    if layer.center:
        y = graph.op("Add", [y, _channel_vector(graph, layer.beta, f"{name}/beta")],
                     f"{name}/shifted")
    return [y]


def scale(graph, layer, inputs):
    """``Scale`` and ``CaffeBN``: ``x * gamma (+ beta)`` per channel."""
    y = graph.op("Mul", [inputs[0], _channel_vector(graph, layer.gamma, f"{layer.name}/gamma")],
                 f"{layer.name}/scaled")
    if layer.use_bias:
        y = graph.op("Add", [y, _channel_vector(graph, layer.beta, f"{layer.name}/beta")],
                     f"{layer.name}/shifted")
    return [y]


def lrn(graph, layer, inputs):
    """Caffe's cross-channel ``LRN``: ONNX's ``LRN`` has the same formula (alpha / n)."""
    return [graph.op("LRN", inputs, layer.name, size=layer.local_size, alpha=layer.alpha,
                     beta=layer.beta, bias=layer.k)]


def max_pool_with_argmax(graph, layer, inputs):
    """``MaxPoolingWithArgmax2D``: ``MaxPool`` (ceil mode) with its ``Indices`` output.

    ONNX's indices count over the whole NCHW tensor and, as Caffe, keep the first maximum;
    the remainder modulo H * W is Caffe's mask ``y * W + x`` (int32, as the Keras layer).
    """
    name, x = layer.name, inputs[0]
    pooled, indices = graph.op("MaxPool", [x], f"{name}/pool", outputs=2, kernel_shape=[2, 2],
                               strides=[2, 2], ceil_mode=1)
    plane = graph.op("ReduceProd", [graph.shape(x, 2, 4, name)], f"{name}/plane", keepdims=0)
    mask = graph.op("Mod", [indices, plane], f"{name}/mask64")
    return [pooled, graph.op("Cast", [mask], f"{name}/mask", to=6)]  # INT32


def max_unpool(graph, layer, inputs):
    """``MaxUnpooling2D``: ``MaxUnpool`` at Caffe's mask indices, cropped to the reference.

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
                            graph.constant(_ints([2, 2]), f"{name}/two")], f"{name}/full")
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
    four_d = graph.op("Concat", [batch_channels, graph.constant(_ints([1, 1]), f"{name}/ones")],
                      f"{name}/offset_shape", axis=0)
    starts = graph.op("Reshape", [starts, four_d], f"{name}/offsets")
    indices = graph.op("Add", [in_plane, starts], f"{name}/indices")
    unpooled = graph.op("MaxUnpool", [values, indices], f"{name}/unpool", kernel_shape=[2, 2],
                        strides=[2, 2])
    origin = graph.constant(_ints([0, 0]), f"{name}/origin")
    axes = graph.constant(_ints([2, 3]), f"{name}/axes")
    return [graph.op("Slice", [unpooled, origin, spatial, axes], name)]


#: Exact layer class -> converter.
CONVERTERS = {
    keras.layers.Conv2D: conv2d,
    keras.layers.Conv2DTranspose: conv2d_transpose,
    GroupedConv2DTranspose: grouped_conv2d_transpose,
    CaffePooling2D: caffe_pooling,
    keras.layers.MaxPooling2D: keras_pooling,
    keras.layers.AveragePooling2D: keras_pooling,
    keras.layers.Cropping2D: cropping,
    keras.layers.ZeroPadding2D: zero_padding,
    CaffeCrop: caffe_crop,
    PadTo: pad_to,
    ValidSize: identity,
    keras.layers.Dropout: identity,
    keras.layers.SpatialDropout2D: identity,
    keras.layers.GaussianDropout: identity,
    keras.layers.GaussianNoise: identity,
    keras.layers.Identity: identity,
    keras.layers.ReLU: relu,
    keras.layers.Activation: activation,
    keras.layers.Add: merge,
    keras.layers.Multiply: merge,
    keras.layers.Maximum: merge,
    keras.layers.Minimum: merge,
    keras.layers.Average: merge,
    keras.layers.Subtract: subtract,
    keras.layers.Concatenate: concatenate,
    keras.layers.BatchNormalization: batch_norm,
    BatchStatisticsNormalization: batch_statistics_norm,
    Scale: scale,
    CaffeBN: scale,
    LRN: lrn,
    MaxPoolingWithArgmax2D: max_pool_with_argmax,
    MaxUnpooling2D: max_unpool,
}
#: Why some layers are refused although they could be written.
REFUSALS = {
    SamplingDropout: "it samples at inference (Monte Carlo dropout) and an exported graph is "
                     "deterministic; export the model with its plain Dropout layers",
}


def convert_layer(graph, layer, inputs):
    """The ONNX output names of ``layer`` applied to ``inputs`` (NCHW names)."""
    return CONVERTERS[type(layer)](graph, layer, inputs)


def refuse_unsupported(model):
    """Raise before writing anything if a layer of ``model`` cannot be written.

    Raises:
        UnsupportedLayerError: naming the first such layer, its class and the reason.

    Example:
        >>> refuse_unsupported(keras_seg.build("fcn8s"))  # doctest: +SKIP
    """
    for layer in model.layers:
        kind = type(layer)
        where = f"layer {layer.name!r} ({kind.__module__}.{kind.__name__})"
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if kind in REFUSALS:
            raise UnsupportedLayerError(f"cannot write {where} to ONNX: {REFUSALS[kind]}")
        if kind not in CONVERTERS:
            raise UnsupportedLayerError(
                f"cannot write {where} to ONNX: no converter for this layer type (supported: "
                f"{', '.join(sorted(c.__name__ for c in CONVERTERS))})")
        if getattr(layer, "data_format", "channels_last") != "channels_last":
            raise UnsupportedLayerError(f"cannot write {where} to ONNX: data_format "
                                        f"{layer.data_format!r} (only channels_last)")
        if layer.compute_dtype != "float32":
            raise UnsupportedLayerError(f"cannot write {where} to ONNX: it computes in "
                                        f"{layer.compute_dtype} (only float32)")
        axis = getattr(layer, "axis", -1)
        if isinstance(layer, keras.layers.BatchNormalization) and axis not in (-1, 3):
            raise UnsupportedLayerError(f"cannot write {where} to ONNX: normalises axis "
                                        f"{axis}, not the channels")
