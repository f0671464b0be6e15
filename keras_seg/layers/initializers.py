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


@keras.saving.register_keras_serializable(package="keras_seg")
class ContextIdentity(keras.initializers.Initializer):
    """Identity initialisation of a DilatedNet context layer (Yu & Koltun 2016, section 3).

    For a (kh, kw, c_in, c_out) kernel and ``num_classes`` C, the centre tap connecting input
    ``a`` to output ``b`` is ``C / c_out`` where ``floor(a C / c_in) == floor(b C / c_out)``,
    every other entry is ``N(0, stddev)``: with equal widths this is the identity, and across
    the wider layers of the large module the composition is the identity again.

    Args:
        num_classes: C, the width of the module's input and output.
        stddev: the paper's small noise epsilon (0 gives an exact identity).
        seed: seed of the noise.

    Example:
        >>> kernel = ContextIdentity(3)((3, 3, 3, 3))
        >>> kernel[1, 1].numpy().tolist()
        [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    """

    def __init__(self, num_classes, stddev=0.0, seed=None):
        self.num_classes = int(num_classes)
        self.stddev = float(stddev)
        self.seed = seed

    def __call__(self, shape, dtype=None):
        kh, kw, c_in, c_out = shape
        classes = self.num_classes
        kernel = np.random.default_rng(self.seed).normal(0, self.stddev, shape) if self.stddev \
            else np.zeros(shape)
        links = np.equal.outer(np.arange(c_in) * classes // c_in,
                               np.arange(c_out) * classes // c_out)
        kernel[kh // 2, kw // 2][links] = classes / c_out
        return keras.ops.convert_to_tensor(kernel.astype("float32"), dtype=dtype or "float32")

    def get_config(self):
        return {"num_classes": self.num_classes, "stddev": self.stddev, "seed": self.seed}
