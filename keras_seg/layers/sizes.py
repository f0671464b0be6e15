"""Layers about spatial sizes: pad a map to a reference's size, refuse an invalid input size.

Both come from U-Net ports: ``PadTo`` from milesial/Pytorch-UNet (an odd pixel lost to pooling
is padded back before a skip is concatenated), ``ValidSize`` from the original U-Net, whose
unpadded convolutions and 2x2 poolings take only some input sizes.
"""

import keras
from keras import ops

from keras_seg.layers.onnx_ops import identity, ints
from keras_seg.layers.support import (
    AS_IS,
    NO_CAFFE_LAYER,
    POINTWISE,
    SpatialRule,
    register_support,
)


def valid_sizes_near(size, multiple=16, offset=60, smallest=188):
    """The valid sizes (``offset + multiple * k``, at least ``smallest``) around ``size``.

    Args:
        size: a size in pixels.
        multiple: step between valid sizes.
        offset: the valid size of ``k = 0`` (before ``smallest`` applies).
        smallest: the smallest valid size.

    Returns:
        (the largest valid size at most ``size``, the smallest at least ``size``), both
        ``smallest`` below it.

    Example:
        >>> valid_sizes_near(500)
        (492, 508)
    """
    below = max(smallest, (size - offset) // multiple * multiple + offset)
    above = max(smallest, -(-(size - offset) // multiple) * multiple + offset)
    return below, above


@keras.saving.register_keras_serializable(package="keras_seg")
class ValidSize(keras.layers.Layer):
    """Passes its input through; refuses a spatial size outside ``offset + multiple * k``.

    The check runs wherever the size is known (building with a fixed size, eager calls);
    a size unknown while tracing is checked when it becomes known. The defaults are the
    original U-Net's rule (16k + 60, at least 188), which files saved before the rule was
    configurable rely on.

    Args:
        multiple: step between valid sizes.
        offset: the valid size of ``k = 0``.
        smallest: the smallest valid size.
        **kwargs: standard layer arguments (``name``...).

    Example:
        >>> ValidSize()(keras.ops.zeros((1, 190, 188, 1)))  # doctest: +SKIP
        ValueError: ... 190 ... nearest valid sizes: 188 and 204
    """

    def __init__(self, multiple=16, offset=60, smallest=188, **kwargs):
        super().__init__(**kwargs)
        self.multiple, self.offset, self.smallest = int(multiple), int(offset), int(smallest)

    def compute_output_shape(self, input_shape):
        self._check(input_shape[1:3])
        return input_shape

    def call(self, inputs):
        self._check(tuple(inputs.shape[1:3]))
        return ops.convert_to_tensor(inputs)

    def get_config(self):
        config = super().get_config()
        config.update(multiple=self.multiple, offset=self.offset, smallest=self.smallest)
        return config

    def _check(self, sizes):
        rule = (self.multiple, self.offset, self.smallest)
        for size in sizes:
            if size is None or not isinstance(size, int):
                continue
            if size < self.smallest or (size - self.offset) % self.multiple:
                below, above = valid_sizes_near(size, *rule)
                nearest = f"{below} and {above}" if below != above else f"{above}"
                raise ValueError(f"{self.name}: takes {self.multiple}k + {self.offset} pixels "
                                 f"per side (at least {self.smallest}); got {size}, nearest "
                                 f"valid sizes: {nearest}")


@keras.saving.register_keras_serializable(package="keras_seg")
class PadTo(keras.layers.Layer):
    """Zero-pad ``inputs[0]`` to the height and width of ``inputs[1]``.

    The extra row or column goes to the bottom/right, as PyTorch's
    ``F.pad(x, [d // 2, d - d // 2, ...])`` in milesial/Pytorch-UNet.

    Example:
        >>> import numpy as np
        >>> PadTo()([np.ones((1, 2, 2, 1)), np.ones((1, 3, 5, 1))]).shape
        (1, 3, 5, 1)
    """

    def call(self, inputs):
        x, reference = inputs
        dy = ops.shape(reference)[1] - ops.shape(x)[1]
        dx = ops.shape(reference)[2] - ops.shape(x)[2]
        return ops.pad(x, [[0, 0], [dy // 2, dy - dy // 2], [dx // 2, dx - dx // 2], [0, 0]])

    def compute_output_shape(self, input_shape):
        x, reference = input_shape
        return (x[0], reference[1], reference[2], x[3])


class _TFLitePadTo(PadTo):
    """As the parent, with the channel count restored (a ``Reshape``) after the padding.

    A padding computed at run time loses the static channel count that TFLite's
    ``CONV_2D`` needs.
    """

    def call(self, inputs):
        padded = super().call(inputs)
        shape = ops.shape(padded)
        return ops.reshape(padded, (shape[0], shape[1], shape[2], inputs[0].shape[-1]))


def _pad_to_onnx(graph, layer, inputs):
    """Zero-pad to the reference's size, the odd pixel at the end."""
    x, reference = inputs
    name = layer.name
    missing = graph.op("Sub", [graph.shape(reference, 2, 4, f"{name}/ref"),
                               graph.shape(x, 2, 4, f"{name}/x")], f"{name}/missing")
    before = graph.op("Div", [missing, graph.constant(ints([2, 2]), f"{name}/two")],
                      f"{name}/before")
    after = graph.op("Sub", [missing, before], f"{name}/after")
    zeros = graph.constant(ints([0, 0]), f"{name}/zeros")
    pads = graph.op("Concat", [zeros, before, zeros, after], f"{name}/pads", axis=0)
    return [graph.op("Pad", [x, pads], name)]


def _pad_to_shift(layer, axis, n_in, n_out):
    return ("shift", -((n_out - n_in) // 2))


# Neither has a Caffe layer: PadTo is the PyTorch port's F.pad, ValidSize a check.
register_support(PadTo, onnx=_pad_to_onnx, tflite=_TFLitePadTo,
                 geometry=SpatialRule(_pad_to_shift, shape_only_inputs=frozenset({1})),
                 caffe_check=NO_CAFFE_LAYER, precision="policy")
register_support(ValidSize, onnx=identity, tflite=AS_IS, geometry=POINTWISE,
                 caffe_check=NO_CAFFE_LAYER, precision="policy")
