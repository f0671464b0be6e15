"""Initializers used by the original networks."""

import keras
import numpy as np


def bilinear_kernel(size):
    """The 2-D bilinear interpolation kernel of Caffe's ``bilinear`` filler.

    Args:
        size: kernel side, normally ``2 * factor - factor % 2``.

    Returns:
        A float32 array of shape (size, size).

    Example:
        >>> bilinear_kernel(4)[1]
        array([0.1875, 0.5625, 0.5625, 0.1875], dtype=float32)
    """
    factor = (size + 1) // 2
    center = factor - 1 if size % 2 == 1 else factor - 0.5
    ramp = 1 - np.abs(np.arange(size) - center) / factor
    return np.outer(ramp, ramp).astype("float32")


@keras.saving.register_keras_serializable(package="keras_seg")
class BilinearUpsampling(keras.initializers.Initializer):
    """Bilinear-interpolation weights for a ``Conv2DTranspose`` kernel (kh, kw, out, in).

    With as many outputs as inputs, each channel is upsampled on its own (a diagonal kernel,
    as FCN's ``surgery.interp`` sets it); with one input channel per group (a grouped
    deconvolution, as in DilatedNet's ``ctx_upsample``) every entry gets the kernel, as
    Caffe's ``bilinear`` filler does.

    Example:
        >>> kernel = BilinearUpsampling()((4, 4, 3, 3))
        >>> tuple(kernel.shape)
        (4, 4, 3, 3)
    """

    def __call__(self, shape, dtype=None):
        kh, kw, out_channels, in_channels = shape
        if kh != kw:
            raise ValueError(f"bilinear kernels are square, got {kh}x{kw}")
        kernel = np.zeros(shape, "float32")
        if in_channels == 1 or out_channels == 1:
            kernel[...] = bilinear_kernel(kh)[:, :, None, None]
        elif in_channels == out_channels:
            kernel[:, :, range(in_channels), range(in_channels)] = bilinear_kernel(kh)[..., None]
        else:
            raise ValueError(
                f"bilinear upsampling needs equal in/out channels or one per group, got {shape}"
            )
        return keras.ops.convert_to_tensor(kernel, dtype=dtype or "float32")

    def get_config(self):
        return {}
