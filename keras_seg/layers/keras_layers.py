"""The support records of the stock Keras layers keras-seg's networks are built from.

The same five aspects as a keras-seg layer declares beside its class
(:mod:`keras_seg.layers.support`), for ``Conv2D``, pooling, padding, merges and the rest.
An aspect a stock layer does not declare falls back to the plain case: no ONNX form
(refused, naming the layer), no TFLite stand-in, pixel to pixel, no Caffe counterpart,
the policy's precision.

Example:
    >>> import keras
    >>> from keras_seg.layers.support import support_of
    >>> support_of(keras.layers.Conv2D).caffe_check.types
    ('Convolution',)
"""

import keras
import numpy as np

from keras_seg.errors import UnsupportedLayerError
from keras_seg.layers import onnx_ops
from keras_seg.layers.onnx_ops import identity, ints
from keras_seg.layers.support import (
    CaffeCounterpart,
    SpatialRule,
    caffe_first,
    caffe_pair,
    register_support,
)


def conv2d(graph, layer, inputs):
    """``Conv2D`` (strides, dilation, groups, valid/same) -> ``Conv`` (+ activation)."""
    kernel = onnx_ops.array(layer.kernel).transpose(3, 2, 0, 1)  # (kh, kw, in/g, out) -> OIHW
    operands = [inputs[0], graph.constant(kernel, f"{layer.name}/kernel")]
    if layer.use_bias:
        operands.append(graph.constant(onnx_ops.array(layer.bias), f"{layer.name}/bias"))
    padding = {}
    if layer.padding == "same" and max(layer.strides) == 1:
        padding["pads"] = onnx_ops.same_pads(layer.kernel_size, layer.dilation_rate)
    elif layer.padding == "same":
        padding["auto_pad"] = "SAME_UPPER"
    y = graph.op("Conv", operands, f"{layer.name}/conv", kernel_shape=list(layer.kernel_size),
                 strides=list(layer.strides), dilations=list(layer.dilation_rate),
                 group=layer.groups, **padding)
    return [onnx_ops.activation(graph, layer.activation, y, layer.name)]


def conv2d_transpose(graph, layer, inputs, kernel=None, group=1):
    """``Conv2DTranspose`` (valid/same, no ``output_padding``) -> ``ConvTranspose``.

    TensorFlow's transposed convolution, Caffe's deconvolution and ONNX's ``ConvTranspose``
    are the same operation (the gradient of a convolution, kernel unflipped); the Keras
    kernel (kh, kw, out, in) becomes (in, out, kh, kw).
    """
    if layer.output_padding is not None:
        raise UnsupportedLayerError(f"{layer.name}: output_padding has no ONNX converter")
    kernel = onnx_ops.array(layer.kernel) if kernel is None else kernel
    operands = [inputs[0], graph.constant(kernel.transpose(3, 2, 0, 1), f"{layer.name}/kernel")]
    if layer.use_bias:
        operands.append(graph.constant(onnx_ops.array(layer.bias), f"{layer.name}/bias"))
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
    return [onnx_ops.activation(graph, layer.activation, y, layer.name)]


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
    starts = graph.constant(ints([top, left]), f"{layer.name}/starts")
    ends = graph.constant(ints([-bottom if bottom else onnx_ops.INT64_MAX,
                                -right if right else onnx_ops.INT64_MAX]), f"{layer.name}/ends")
    axes = graph.constant(ints([2, 3]), f"{layer.name}/axes")
    return [graph.op("Slice", [inputs[0], starts, ends, axes], layer.name)]


def zero_padding(graph, layer, inputs):
    """``ZeroPadding2D`` -> ``Pad`` (constant zeros)."""
    (top, bottom), (left, right) = layer.padding
    pads = graph.constant(ints([0, 0, top, left, 0, 0, bottom, right]), f"{layer.name}/pads")
    return [graph.op("Pad", [inputs[0], pads], layer.name)]


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
    y = onnx_ops.activation(graph, layer.activation, inputs[0], layer.name)
    return [graph.op("Identity", [y], layer.name)]


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
    return [graph.op("Concat", inputs, layer.name, axis=onnx_ops.NCHW_AXIS[layer.axis % 4])]


def batch_norm(graph, layer, inputs):
    """``BatchNormalization`` at inference: the moving statistics, one ``BatchNormalization``."""
    channels = layer.moving_mean.shape[0]
    gamma = onnx_ops.array(layer.gamma) if layer.scale else np.ones(channels, np.float32)
    beta = onnx_ops.array(layer.beta) if layer.center else np.zeros(channels, np.float32)
    operands = [inputs[0]] + [graph.constant(values, f"{layer.name}/{part}") for part, values in
                              (("gamma", gamma), ("beta", beta),
                               ("moving_mean", onnx_ops.array(layer.moving_mean)),
                               ("moving_variance", onnx_ops.array(layer.moving_variance)))]
    return [graph.op("BatchNormalization", operands, layer.name, epsilon=float(layer.epsilon))]


def _same_before(n_in, n_out, k, s, d, transposed=False):
    """Keras/TensorFlow ``"same"`` padding before the first pixel (the smaller half)."""
    if transposed:  # the convolution it transposes maps n_out pixels to n_in
        n_in, n_out = n_out, n_in
    return max((n_out - 1) * s + d * (k - 1) + 1 - n_in, 0) // 2


def conv_window(layer, axis, n_in, n_out):
    """Convolutions (plain, depthwise, separable, transposed): kernel, stride, dilation."""
    transposed = isinstance(layer, keras.layers.Conv2DTranspose)
    k, s, d = layer.kernel_size[axis], layer.strides[axis], layer.dilation_rate[axis]
    before = 0 if layer.padding == "valid" else _same_before(n_in, n_out, k, s, d, transposed)
    return ("transposed" if transposed else "window", k, s, d, before)


def _pool_window(layer, axis, n_in, n_out):
    k, s = layer.pool_size[axis], layer.strides[axis]
    before = 0 if layer.padding == "valid" else _same_before(n_in, n_out, k, s, 1)
    return ("window", k, s, 1, before)


def _upsampling(layer, axis, n_in, n_out):
    return ("upsample", layer.size[axis], layer.interpolation != "nearest")


def _zero_padding(layer, axis, n_in, n_out):
    return ("shift", -layer.padding[axis][0])


def _cropping(layer, axis, n_in, n_out):
    return ("shift", layer.cropping[axis][0])


def conv_checks(spec, layer, model_layers):
    """A Caffe ``Convolution``/``Deconvolution`` against a Keras (transposed) convolution."""
    param = caffe_first(spec, "convolution_param", {})
    yield "num_output", caffe_first(param, "num_output"), layer.filters
    yield "kernel_size", caffe_pair(param, "kernel_size", None), tuple(layer.kernel_size)
    yield "stride", caffe_pair(param, "stride", 1), tuple(layer.strides)
    yield "dilation", caffe_pair(param, "dilation", 1), tuple(layer.dilation_rate)
    yield "bias_term", caffe_first(param, "bias_term", True), layer.use_bias
    yield "group", caffe_first(param, "group", 1), getattr(layer, "groups", 1)
    yield "pad", caffe_pair(param, "pad", 0), _model_pad(layer, model_layers)


def _model_pad(layer, model_layers):
    """Caffe's pad of a convolution: the builders' ``<name>_pad`` / ``<name>_crop`` layer."""
    if isinstance(layer, keras.layers.Conv2DTranspose):
        crop = model_layers.get(f"{layer.name}_crop")
        return tuple(c[0] for c in crop.cropping) if crop is not None else (0, 0)
    pad = model_layers.get(f"{layer.name}_pad")
    if pad is not None:
        return tuple(p[0] for p in pad.padding)
    if layer.padding == "same":
        return tuple(d * (k - 1) // 2 for k, d in zip(layer.kernel_size, layer.dilation_rate))
    return (0, 0)


def _upsampling_keeps_float32(layer):
    """Transposed convolutions of stride 8 or more (FCN's bilinear upsampling) keep float32.

    Little arithmetic, but oneDNN's bfloat16 kernel runs FCN-32s's 64x64 ``upscore`` many
    times slower than float32 does (``benchmarks/xla_choice.py`` prints both).
    """
    return "float32" if max(layer.strides) >= 8 else "policy"


DECONVOLUTION = CaffeCounterpart(("Deconvolution",), conv_checks)

register_support(keras.layers.Conv2D, onnx=conv2d, geometry=SpatialRule(conv_window),
                 caffe_check=CaffeCounterpart(("Convolution",), conv_checks))
register_support(keras.layers.Conv2DTranspose, onnx=conv2d_transpose,
                 geometry=SpatialRule(conv_window), caffe_check=DECONVOLUTION,
                 precision=_upsampling_keeps_float32)
for _kind in (keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D):
    register_support(_kind, geometry=SpatialRule(conv_window))
for _kind in (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D):
    register_support(_kind, onnx=keras_pooling, geometry=SpatialRule(_pool_window))
register_support(keras.layers.UpSampling2D, geometry=SpatialRule(_upsampling))
register_support(keras.layers.Cropping2D, onnx=cropping, geometry=SpatialRule(_cropping))
register_support(keras.layers.ZeroPadding2D, onnx=zero_padding,
                 geometry=SpatialRule(_zero_padding))
for _kind in (keras.layers.Dropout, keras.layers.SpatialDropout2D, keras.layers.GaussianDropout,
              keras.layers.GaussianNoise, keras.layers.Identity):
    register_support(_kind, onnx=identity)
for _kind in (keras.layers.Add, keras.layers.Multiply, keras.layers.Maximum,
              keras.layers.Minimum, keras.layers.Average):
    register_support(_kind, onnx=merge)
register_support(keras.layers.ReLU, onnx=relu)
register_support(keras.layers.Activation, onnx=activation)
register_support(keras.layers.Subtract, onnx=subtract)
register_support(keras.layers.Concatenate, onnx=concatenate)
register_support(keras.layers.BatchNormalization, onnx=batch_norm)
