"""Caffe's Crop layer: cut a tensor to the spatial size of a reference tensor."""

import keras
from keras import ops

from keras_seg.layers.onnx_ops import ints
from keras_seg.layers.support import (
    AS_IS,
    CaffeCounterpart,
    SpatialRule,
    caffe_first,
    register_support,
)


@keras.saving.register_keras_serializable(package="keras_seg")
class CaffeCrop(keras.layers.Layer):
    """Crop ``inputs[0]`` to the height and width of ``inputs[1]``, starting at ``offset``.

    Mirrors Caffe's ``Crop`` layer with ``axis: 2`` (the spatial axes of NCHW): the offset
    applies to every spatial axis and the output takes the reference's size. Channels are
    kept from the first input.

    Args:
        offset: int, or (offset_h, offset_w).
        **kwargs: standard layer arguments (``name``...).

    Example:
        >>> import numpy as np
        >>> crop = CaffeCrop(offset=19)
        >>> x, ref = np.zeros((1, 64, 64, 21), "float32"), np.zeros((1, 20, 25, 3), "float32")
        >>> tuple(crop([x, ref]).shape)
        (1, 20, 25, 21)
    """

    def __init__(self, offset=0, **kwargs):
        super().__init__(**kwargs)
        offset = (offset, offset) if isinstance(offset, int) else tuple(int(o) for o in offset)
        if len(offset) != 2 or min(offset) < 0:
            raise ValueError(f"offset must be one or two non-negative ints, got {offset}")
        self.offset = offset

    def call(self, inputs):
        x, reference = inputs
        ref_shape = ops.shape(reference)
        (oy, ox), height, width = self.offset, ref_shape[1], ref_shape[2]
        return x[:, oy : oy + height, ox : ox + width, :]

    def compute_output_shape(self, input_shape):
        x_shape, ref_shape = input_shape
        for axis, (n, ref, off) in enumerate(zip(x_shape[1:3], ref_shape[1:3], self.offset)):
            if n is not None and ref is not None and off + ref > n:
                raise ValueError(
                    f"{self.name}: crop of size {ref} at offset {off} does not fit in axis "
                    f"{axis + 1} of size {n} (input shapes {x_shape} and {ref_shape})"
                )
        return (x_shape[0], ref_shape[1], ref_shape[2], x_shape[3])

    def get_config(self):
        config = super().get_config()
        config.update(offset=self.offset)
        return config


def _onnx(graph, layer, inputs):
    """``x[:, :, oy:oy + H_ref, ox:ox + W_ref]``, the sizes read at run time."""
    x, reference = inputs
    starts = graph.constant(ints(layer.offset), f"{layer.name}/offset")
    ends = graph.op("Add", [graph.shape(reference, 2, 4, layer.name), starts],
                    f"{layer.name}/ends")
    axes = graph.constant(ints([2, 3]), f"{layer.name}/axes")
    return [graph.op("Slice", [x, starts, ends, axes], layer.name)]


def _shift(layer, axis, n_in, n_out):
    return ("shift", layer.offset[axis])


def _caffe_checks(spec, layer, model_layers):
    param = caffe_first(spec, "crop_param", {})
    yield "axis", caffe_first(param, "axis", 2), 2
    offsets = param.get("offset", [0])
    yield "offset", (offsets[0], offsets[-1]), layer.offset


register_support(
    CaffeCrop,
    onnx=_onnx,
    tflite=AS_IS,
    geometry=SpatialRule(_shift, shape_only_inputs=frozenset({1})),
    caffe_check=CaffeCounterpart(("Crop",), _caffe_checks),
    precision="policy",
)
