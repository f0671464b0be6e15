"""Pooling with Caffe's output-size rounding and padding rules."""

import keras
import numpy as np
from keras import ops

from keras_seg.layers import onnx_ops
from keras_seg.layers.onnx_ops import ints
from keras_seg.layers.support import (
    AS_IS,
    CaffeCounterpart,
    SpatialRule,
    caffe_first,
    caffe_pair,
    register_support,
)


def caffe_pool_size(size, kernel, stride, pad):
    """Output length of a Caffe pooling layer along one axis.

    Caffe rounds up, ``ceil((size + 2 * pad - kernel) / stride) + 1``, then drops the last
    window if it would start inside the bottom/right padding.

    Args:
        size: input length (int or integer tensor).
        kernel: window length.
        stride: window step.
        pad: padding added to both ends.

    Returns:
        The pooled length, of the type of ``size``.

    Example:
        >>> caffe_pool_size(7, 2, 2, 0)
        4
    """
    out = (size + 2 * pad - kernel + stride - 1) // stride + 1
    if pad > 0:
        overhang = (out - 1) * stride >= size + pad
        out = out - (int(overhang) if isinstance(overhang, bool) else ops.cast(overhang, "int32"))
    return out


@keras.saving.register_keras_serializable(package="keras_seg")
class CaffePooling2D(keras.layers.Layer):
    """Max or average pooling that rounds like Caffe (ceil mode), NHWC.

    Keras pooling rounds the output size down; Caffe rounds it up, so the last window may
    hang over the bottom/right border. Max pooling ignores the overhang; average pooling
    divides by the window clipped to ``size + pad`` (padding counts, overhang does not),
    exactly as Caffe's ``PoolingLayer`` does.

    Args:
        pool: ``"max"`` or ``"ave"``.
        kernel_size: int or (kh, kw).
        strides: int or (sh, sw); 1 if omitted, as in Caffe.
        pad: int or (ph, pw), added on every side.
        **kwargs: standard layer arguments (``name``...).

    Example:
        >>> import numpy as np
        >>> layer = CaffePooling2D("max", 2, 2)
        >>> tuple(layer(np.zeros((1, 5, 7, 3), "float32")).shape)
        (1, 3, 4, 3)
    """

    def __init__(self, pool="max", kernel_size=2, strides=1, pad=0, **kwargs):
        super().__init__(**kwargs)
        pool = pool.lower()
        if pool not in ("max", "ave"):
            raise ValueError(f"pool must be 'max' or 'ave', got {pool!r}")
        self.pool = pool
        self.kernel_size = _pair(kernel_size)
        self.strides = _pair(strides)
        self.pad = _pair(pad)
        for k, s, p in zip(self.kernel_size, self.strides, self.pad):
            if p >= k:
                raise ValueError(f"pad {self.pad} must be smaller than kernel {self.kernel_size}")
            if s < 1:
                raise ValueError(f"strides must be positive, got {self.strides}")

    def _out_sizes(self, height, width):
        return tuple(
            caffe_pool_size(n, k, s, p)
            for n, k, s, p in zip((height, width), self.kernel_size, self.strides, self.pad)
        )

    def call(self, inputs):
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.strides, self.pad
        shape = ops.shape(inputs)
        height, width = shape[1], shape[2]
        # Pad enough on the far side for Caffe's last (overhanging) window; valid pooling of
        # the padded map then yields ceil((n + 2p - k) / s) + 1 windows, cropped below.
        fill = float("-inf") if self.pool == "max" else 0.0
        paddings = [(0, 0), (ph, ph + sh - 1), (pw, pw + sw - 1), (0, 0)]
        padded = ops.pad(inputs, paddings, constant_values=fill)
        if self.pool == "max":
            pooled = ops.max_pool(padded, (kh, kw), (sh, sw), padding="valid")
        else:
            pooled = ops.average_pool(padded, (kh, kw), (sh, sw), padding="valid") * (kh * kw)
        out_h, out_w = self._out_sizes(height, width)
        pooled = pooled[:, :out_h, :out_w, :]
        if self.pool == "ave":
            pooled = pooled / self._window_areas(height, width, out_h, out_w, pooled.dtype)
        return pooled

    def _window_areas(self, height, width, out_h, out_w, dtype):
        """Caffe's divisor: each window clipped to the input plus padding."""
        counts = []
        for n, out, k, s, p in zip(
            (height, width), (out_h, out_w), self.kernel_size, self.strides, self.pad
        ):
            start = ops.arange(out) * s - p
            counts.append(ops.cast(ops.minimum(start + k, n + p) - start, dtype))
        return ops.reshape(counts[0], (-1, 1, 1)) * ops.reshape(counts[1], (1, -1, 1))

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        out_h, out_w = (
            None if n is None else caffe_pool_size(n, k, s, p)
            for n, k, s, p in zip((height, width), self.kernel_size, self.strides, self.pad)
        )
        return (batch, out_h, out_w, channels)

    def get_config(self):
        config = super().get_config()
        config.update(
            pool=self.pool, kernel_size=self.kernel_size, strides=self.strides, pad=self.pad
        )
        return config


def _pair(value):
    if isinstance(value, int):
        return (value, value)
    value = tuple(int(v) for v in value)
    if len(value) != 2:
        raise ValueError(f"expected an int or a pair, got {value}")
    return value


def _onnx(graph, layer, inputs):
    """Ceil-mode windows, Caffe's overhang rule and average divisor.

    As the layer: pad ``p`` before and ``p + s - 1`` after (``-inf`` for max, zeros for
    average), pool without padding or rounding, then (with padding) drop the last window
    where it starts inside the padding; average pooling divides the window sums by each
    window's area clipped to the input plus padding.
    """
    (kh, kw), (sh, sw), (ph, pw) = layer.kernel_size, layer.strides, layer.pad
    window = {"kernel_shape": [kh, kw], "strides": [sh, sw]}
    fill = -np.inf if layer.pool == "max" else 0.0
    padded = onnx_ops.pad(graph, inputs[0], (ph, pw), (ph + sh - 1, pw + sw - 1), fill,
                 f"{layer.name}/padded")
    if layer.pool == "max":
        pooled = graph.op("MaxPool", [padded], f"{layer.name}/max", **window)
    else:
        pooled = _onnx_average(graph, layer, inputs[0], padded, window)
    if ph == 0 and pw == 0:
        return [pooled]
    sizes = _onnx_pool_sizes(graph, layer, inputs[0])
    starts = graph.constant(ints([0, 0]), f"{layer.name}/starts")
    axes = graph.constant(ints([2, 3]), f"{layer.name}/axes")
    return [graph.op("Slice", [pooled, starts, sizes, axes], layer.name)]


def _onnx_average(graph, layer, x, padded, window):
    """Window sums over the zero-padded map, divided by the windows' areas in input + pad."""
    (kh, kw), (sh, sw), (ph, pw) = layer.kernel_size, layer.strides, layer.pad
    area = graph.constant(np.float32(kh * kw), f"{layer.name}/area")
    mean = graph.op("AveragePool", [padded], f"{layer.name}/mean", **window)
    sums = graph.op("Mul", [mean, area], f"{layer.name}/sums")
    # Count each window's positions inside [-p, n + p): pool a map of ones padded by p with
    # ones and by the overhang (s - 1) with zeros.
    plane = graph.op("Concat", [graph.constant(ints([1, 1]), f"{layer.name}/one_one"),
                                graph.shape(x, 2, 4, layer.name)], f"{layer.name}/plane",
                     axis=0)
    ones = graph.op("ConstantOfShape", [plane], f"{layer.name}/ones",
                    value=onnx_ops.float_tensor(1.0))
    ones = onnx_ops.pad(graph, ones, (ph, pw), (ph, pw), 1.0, f"{layer.name}/ones_padded")
    ones = onnx_ops.pad(graph, ones, (0, 0), (sh - 1, sw - 1), 0.0, f"{layer.name}/ones_overhang")
    counts = graph.op("AveragePool", [ones], f"{layer.name}/count_mean", **window)
    counts = graph.op("Mul", [counts, area], f"{layer.name}/counts")
    return graph.op("Div", [sums, counts], f"{layer.name}/ave")


def _onnx_pool_sizes(graph, layer, x):
    """Caffe's pooled sizes at run time: ceil windows, less one starting in the padding."""
    (kh, kw), (sh, sw), (ph, pw) = layer.kernel_size, layer.strides, layer.pad
    name = layer.name
    n = graph.shape(x, 2, 4, name)
    c = graph.constant  # int64 pairs over (H, W)
    full = graph.op("Add", [n, c(ints([2 * ph - kh + sh - 1, 2 * pw - kw + sw - 1]),
                                 f"{name}/extent")], f"{name}/extent")
    full = graph.op("Add", [graph.op("Div", [full, c(ints([sh, sw]), f"{name}/stride")],
                                     f"{name}/windows"), c(ints([1, 1]), f"{name}/one")],
                    f"{name}/ceil_sizes")
    last = graph.op("Mul", [graph.op("Sub", [full, c(ints([1, 1]), f"{name}/one_")],
                                     f"{name}/last"), c(ints([sh, sw]), f"{name}/stride_")],
                    f"{name}/last_start")
    bound = graph.op("Add", [n, c(ints([ph, pw]), f"{name}/pad")], f"{name}/bound")
    overhang = graph.op("Cast", [graph.op("GreaterOrEqual", [last, bound], f"{name}/overhang")],
                        f"{name}/overhang_int", to=7)  # INT64
    return graph.op("Sub", [full, overhang], f"{name}/sizes")


def _window(layer, axis, n_in, n_out):
    return ("window", layer.kernel_size[axis], layer.strides[axis], 1, layer.pad[axis])


def one_top(spec):
    """Whether a prototxt ``Pooling`` layer gives the pooled map only (no mask top)."""
    return len(spec.get("top", [])) != 2


def _caffe_checks(spec, layer, model_layers):
    param = caffe_first(spec, "pooling_param", {})
    yield "pool", str(caffe_first(param, "pool", "MAX")).lower(), layer.pool
    if caffe_first(param, "global_pooling", False):
        yield "global_pooling", True, False
        return
    yield "kernel_size", caffe_pair(param, "kernel_size", None), layer.kernel_size
    yield "stride", caffe_pair(param, "stride", 1), layer.strides
    yield "pad", caffe_pair(param, "pad", 0), layer.pad


register_support(
    CaffePooling2D,
    onnx=_onnx,
    tflite=AS_IS,
    geometry=SpatialRule(_window),
    caffe_check=CaffeCounterpart(("Pooling",), _caffe_checks, accepts=one_top),
    precision="policy",
)
