"""Grouped transposed convolution, as Caffe's ``Deconvolution`` with ``group`` > 1."""

import keras
import numpy as np
from keras import ops

from keras_seg.layers import keras_layers
from keras_seg.layers.support import AS_IS, aspect_of, register_support


@keras.saving.register_keras_serializable(package="keras_seg")
class GroupedConv2DTranspose(keras.layers.Conv2DTranspose):
    """``Conv2DTranspose`` whose channels are split into ``groups`` independent groups.

    The kernel has Caffe's per-group shape, (kh, kw, filters / groups, in_channels); the
    forward pass expands it to a block-diagonal full kernel, which costs little for the
    upsampling layers this exists for (DilatedNet's ``ctx_upsample``, one group per class).

    Args:
        filters: output channels.
        kernel_size: int or pair.
        groups: number of groups; divides both channel counts.
        **kwargs: ``Conv2DTranspose`` arguments (``strides``, ``use_bias``, ``name``...).

    Example:
        >>> layer = GroupedConv2DTranspose(19, 16, strides=8, groups=19, use_bias=False)
        >>> layer.build((None, None, None, 19))
        >>> tuple(layer.kernel.shape)
        (16, 16, 1, 19)
    """

    def __init__(self, filters, kernel_size, groups=1, **kwargs):
        super().__init__(filters, kernel_size, **kwargs)
        if groups < 1 or filters % groups:
            raise ValueError(f"groups={groups} must divide filters={filters}")
        self.groups = int(groups)

    def build(self, input_shape):
        in_channels = input_shape[-1]
        if in_channels % self.groups:
            raise ValueError(f"groups={self.groups} must divide the {in_channels} input channels")
        self.input_spec = keras.layers.InputSpec(min_ndim=4, axes={-1: in_channels})
        per_group = self.filters // self.groups
        self.kernel = self.add_weight(
            name="kernel", shape=(*self.kernel_size, per_group, in_channels),
            initializer=self.kernel_initializer, regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint, dtype=self.dtype,
        )
        self.bias = self.add_weight(
            name="bias", shape=(self.filters,), initializer=self.bias_initializer,
            regularizer=self.bias_regularizer, constraint=self.bias_constraint, dtype=self.dtype,
        ) if self.use_bias else None
        outputs, inputs = np.arange(self.filters), np.arange(in_channels)
        self._rows = outputs % per_group  # which per-group output row each output reads
        group_in = in_channels // self.groups
        self._mask = np.equal.outer(outputs // per_group, inputs // group_in).astype("float32")
        self.built = True

    def call(self, inputs):
        full = ops.take(self.kernel, self._rows, axis=2) * ops.cast(self._mask, self.kernel.dtype)
        outputs = ops.conv_transpose(inputs, full, strides=list(self.strides),
                                     padding=self.padding, dilation_rate=self.dilation_rate)
        if self.use_bias:
            outputs = outputs + self.bias
        return outputs if self.activation is None else self.activation(outputs)

    def get_config(self):
        config = super().get_config()
        config.update(groups=self.groups)
        return config


def _onnx(graph, layer, inputs):
    """``ConvTranspose`` with ``group``.

    The per-group kernel (kh, kw, out/g, in) is exactly the grouped weight (in, out/g, kh,
    kw) of ``ConvTranspose``, so the block-diagonal kernel that the layer expands is never
    built.
    """
    return keras_layers.conv2d_transpose(graph, layer, inputs, group=layer.groups)


# A transposed convolution for the receptive field, Caffe (Deconvolution with group) and
# precision; its own ONNX form.
_PARENT = keras.layers.Conv2DTranspose
register_support(GroupedConv2DTranspose, onnx=_onnx, tflite=AS_IS,
                 geometry=aspect_of(_PARENT, "geometry", inherit=False),
                 caffe_check=aspect_of(_PARENT, "caffe_check", inherit=False),
                 precision=aspect_of(_PARENT, "precision", inherit=False))
