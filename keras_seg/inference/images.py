"""Reading images and writing label maps, with odd modes and depths handled or refused."""

import warnings

import numpy as np

from keras_seg.errors import InputError


def as_rgb_uint8(image):
    """Bring an image array to (H, W, 3) uint8 RGB, warning about what was converted.

    Grayscale gets three equal channels, RGBA loses its alpha, 16-bit images are scaled to 8
    bits, float images in [0, 1] are scaled to 0-255.

    Args:
        image: array (H, W), (H, W, 1), (H, W, 3) or (H, W, 4).

    Returns:
        A (H, W, 3) uint8 array.

    Raises:
        ValueError: an empty image, another number of channels, or floats outside [0, 1].

    Example:
        >>> as_rgb_uint8(np.zeros((4, 5), np.uint8)).shape
        (4, 5, 3)
    """
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim not in (2, 3) or min(image.shape[:2], default=0) == 0:
        raise ValueError(f"expected an image (H, W) or (H, W, C) with H, W > 0, got {image.shape}")
    if image.dtype == np.uint16:
        warnings.warn("16-bit image scaled to 8 bits", stacklevel=2)
        image = (image >> 8).astype(np.uint8)
    elif np.issubdtype(image.dtype, np.floating):
        if image.size and (np.nanmin(image) < 0 or np.nanmax(image) > 1):
            raise ValueError("float images must lie in [0, 1]; pass uint8 for 0-255 data")
        image = np.round(image * 255).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise ValueError(f"unsupported image dtype {image.dtype}; expected uint8, uint16 or float")
    if image.ndim == 2:
        warnings.warn("grayscale image converted to RGB", stacklevel=2)
        return np.repeat(image[..., None], 3, axis=-1)
    if image.shape[-1] == 4:
        warnings.warn("RGBA image: alpha channel dropped", stacklevel=2)
        return np.ascontiguousarray(image[..., :3])
    if image.shape[-1] != 3:
        raise ValueError(f"expected 1, 3 or 4 channels, got {image.shape[-1]}")
    return image


def read_image(path):
    """Read an image file as (H, W, 3) uint8 RGB (see :func:`as_rgb_uint8`).

    Example:
        >>> image = read_image("street.png")  # doctest: +SKIP
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as pil:
            pil.load()
            if pil.mode == "P":
                pil = pil.convert("RGBA" if "transparency" in pil.info else "RGB")
            elif pil.mode in ("I;16", "I;16B", "I;16L", "I"):
                return as_rgb_uint8(np.asarray(pil).astype(np.uint16))
            elif pil.mode not in ("L", "RGB", "RGBA"):
                pil = pil.convert("RGB")
            array = np.asarray(pil)
    except (OSError, UnidentifiedImageError) as error:
        raise InputError(f"{path}: cannot read the image ({error})") from None
    return as_rgb_uint8(array)


def write_labels(path, labels, palette):
    """Write a label map as a palette PNG (pixel values are the class indices).

    Example:
        >>> write_labels("labels.png", labels, spec.palette())  # doctest: +SKIP
    """
    from PIL import Image

    labels = np.asarray(labels)
    if labels.max(initial=0) > 255:
        raise ValueError("palette PNGs hold at most 256 classes")
    pil = Image.fromarray(labels.astype(np.uint8), mode="P")
    flat = np.zeros((256, 3), np.uint8)
    flat[: len(palette)] = np.asarray(palette)[:256]
    pil.putpalette(flat.reshape(-1).tolist())
    pil.save(path, format="PNG")


def overlay(image, labels, palette, alpha=0.5):
    """Blend the label colours over the image: (H, W, 3) uint8."""
    colours = np.asarray(palette, np.uint8)[labels]
    return np.round((1 - alpha) * image + alpha * colours).astype(np.uint8)


def write_image(path, image):
    """Write an (H, W, 3) uint8 RGB array with Pillow (format from the suffix)."""
    from PIL import Image

    Image.fromarray(as_rgb_uint8(image)).save(path)
