"""``preprocess``: RGB pixels into a network's input blob, by its input convention."""

import numpy as np

from keras_seg.images import as_rgb_uint8
from keras_seg.input_conventions import InputConvention


def input_convention(name_or_model):
    """The :class:`~keras_seg.input_conventions.InputConvention` of a model, name or convention.

    A model built by keras-seg (also renamed, changed or reloaded from a ``.keras`` file)
    carries its convention; a registered name gives the original release's.

    Raises:
        ValueError: a model keras-seg did not build (pass ``preprocess=`` explicitly).

    Example:
        >>> input_convention("fcn8s").colour_order
        'BGR'
    """
    if isinstance(name_or_model, InputConvention):
        return name_or_model
    if isinstance(name_or_model, str):
        from keras_seg.registry import get_spec

        return get_spec(name_or_model).input
    metadata = getattr(name_or_model, "metadata", None) or {}
    if "input" in metadata:
        return InputConvention.from_config(metadata["input"])
    raise ValueError(f"model {getattr(name_or_model, 'name', name_or_model)!r} was not built by "
                     "keras-seg and carries no input convention; pass preprocess= (a function "
                     "or an InputConvention) and num_classes=")


def preprocess(name, images):
    """Turn RGB uint8 images into the original network's input blob, in NHWC float32.

    For the Caffe networks (FCN, DilatedNet, SegNet): channels reversed to BGR, the
    dataset's mean pixel subtracted, values kept in 0-255. Other families declare their own
    convention (RGB / 255, one channel...).

    Args:
        name: registered model name, a model built by keras-seg, or an
            :class:`~keras_seg.input_conventions.InputConvention`.
        images: (H, W, 3) or (N, H, W, 3) uint8 RGB; other modes are converted by
            :func:`~keras_seg.images.as_rgb_uint8`.

    Returns:
        float32 array of the same leading shape, with the convention's channels.

    Example:
        >>> x = preprocess("fcn8s", np.zeros((2, 2, 3), np.uint8))
        >>> x[0, 0].round(2).tolist()
        [-104.01, -116.67, -122.68]
    """
    convention = input_convention(name)
    images = np.asarray(images)
    if images.ndim == 4:
        batch = np.stack([as_rgb_uint8(image) for image in images])
    else:
        batch = as_rgb_uint8(images)
    return convention(batch)
