"""Keras counterparts of Caffe layers with Caffe's parameters (pad, stride, dilation).

Each helper adds the Keras layer named exactly like the Caffe layer it stands for. Caffe pads
inside its convolution; where that padding is not Keras's ``"same"``, a ``ZeroPadding2D``
named ``<name>_pad`` precedes the convolution, so the weighted layer keeps the original name.
"""

import functools

import keras

from keras_seg.layers import BilinearUpsampling, CaffePooling2D, GroupedConv2DTranspose


def conv(x, filters, kernel_size, *, name, pad=0, stride=1, dilation=1, use_bias=True,
         kernel_initializer="glorot_uniform", trainable=True):
    """Caffe ``Convolution``: cross-correlation with symmetric zero padding ``pad``.

    Args:
        x: input tensor (NHWC).
        filters: ``num_output``.
        kernel_size: square kernel side.
        name: the Caffe layer name.
        pad: zero padding on every side.
        stride: step.
        dilation: dilation of the kernel.
        use_bias: Caffe's ``bias_term``.
        kernel_initializer: initializer of the kernel.
        trainable: False where the original freezes the layer (``lr_mult: 0``).

    Returns:
        The output tensor.

    Example:
        >>> x = keras.Input((None, None, 3))
        >>> y = conv(x, 64, 3, name="conv1_1", pad=100)
    """
    same = stride == 1 and kernel_size % 2 == 1 and pad == dilation * (kernel_size - 1) // 2
    if pad and not same:
        x = keras.layers.ZeroPadding2D(pad, name=f"{name}_pad")(x)
    return keras.layers.Conv2D(
        filters,
        kernel_size,
        strides=stride,
        padding="same" if pad and same else "valid",
        dilation_rate=dilation,
        use_bias=use_bias,
        kernel_initializer=kernel_initializer,
        trainable=trainable,
        name=name,
    )(x)


def conv_relu(x, filters, kernel_size, *, name, relu_name, **kwargs):
    """A Caffe convolution followed by its in-place ``ReLU`` layer (two named layers)."""
    x = conv(x, filters, kernel_size, name=name, **kwargs)
    return keras.layers.ReLU(name=relu_name)(x)


def deconv(x, filters, kernel_size, *, name, stride=1, pad=0, groups=1, use_bias=False,
           trainable=True, kernel_initializer=None):
    """Caffe ``Deconvolution`` (transposed convolution), bilinear-initialised by default.

    The output has ``stride * (n - 1) + kernel_size - 2 * pad`` pixels per axis: a ``valid``
    transposed convolution, then a ``Cropping2D`` named ``<name>_crop`` of ``pad`` per side.

    Example:
        >>> x = keras.Input((None, None, 21))
        >>> y = deconv(x, 21, 4, stride=2, name="upscore2")
    """
    layer_class = keras.layers.Conv2DTranspose
    if groups > 1:
        layer_class = functools.partial(GroupedConv2DTranspose, groups=groups)
    x = layer_class(
        filters,
        kernel_size,
        strides=stride,
        padding="valid",
        use_bias=use_bias,
        kernel_initializer=kernel_initializer or BilinearUpsampling(),
        trainable=trainable,
        name=name,
    )(x)
    if pad:
        x = keras.layers.Cropping2D(pad, name=f"{name}_crop")(x)
    return x


def pool(x, *, name, kernel_size=2, stride=2, pad=0, method="max"):
    """Caffe ``Pooling`` (ceil-mode rounding)."""
    return CaffePooling2D(method, kernel_size, stride, pad, name=name)(x)
