"""The input convention of each original network."""

import numpy as np

from keras_seg.inference.images import as_rgb_uint8
from keras_seg.registry import get_spec


def preprocess(name, images):
    """Turn RGB uint8 images into the original network's input blob, in NHWC float32.

    For the Caffe networks (FCN, DilatedNet, SegNet): channels reversed to BGR, the
    dataset's mean pixel subtracted, values kept in 0-255.

    Args:
        name: registered model name (or its ``ModelSpec``).
        images: (H, W, 3) or (N, H, W, 3) uint8 RGB; other modes are converted by
            :func:`~keras_seg.inference.images.as_rgb_uint8`.

    Returns:
        float32 array of the same leading shape.

    Example:
        >>> x = preprocess("fcn8s", np.zeros((2, 2, 3), np.uint8))
        >>> x[0, 0].round(2).tolist()
        [-104.01, -116.67, -122.68]
    """
    spec = get_spec(name) if isinstance(name, str) else name
    images = np.asarray(images)
    if images.ndim == 4:
        batch = np.stack([as_rgb_uint8(image) for image in images])
    else:
        batch = as_rgb_uint8(images)
    if spec.input_format != "caffe_bgr":
        raise ValueError(f"{spec.name}: unknown input format {spec.input_format!r}")
    return batch[..., ::-1].astype(np.float32) - np.asarray(spec.bgr_mean, np.float32)
