"""Pooling with Caffe's output-size rounding and padding rules."""

import keras
from keras import ops


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
