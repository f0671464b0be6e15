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
from keras import ops


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
