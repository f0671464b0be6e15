"""Caffe's Crop layer: cut a tensor to the spatial size of a reference tensor."""

import keras
from keras import ops


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
