"""Images in and out: ``keras_seg.images``, read for training and inference alike.

Reading handles or refuses odd modes and depths with the reason; label maps are written as
palette PNGs and drawn over their images with a legend.

Example:
    >>> from keras_seg.images import overlay, read_image  # doctest: +SKIP
    >>> picture = overlay(read_image("street.jpg"), labels, keras_seg.label_palette(model))
    ... # doctest: +SKIP
"""

import warnings

import numpy as np

from keras_seg.errors import InputError

#: Suffixes of the files every command takes as images (and masks), in folders and lists.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


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


def overlay(image, labels, palette, alpha=0.5, outline=True):
    """Blend the label colours over the image, with the regions' outlines: (H, W, 3) uint8.

    Args:
        image: (H, W, 3) uint8 RGB.
        labels: (H, W) class indices.
        palette: RGB colour per class.
        alpha: weight of the label colours.
        outline: draw class boundaries (white on dark regions, black on light ones).

    Example:
        >>> overlay(np.zeros((2, 2, 3), np.uint8), np.zeros((2, 2), int), [[255, 0, 0]],
        ...         outline=False)[0, 0].tolist()
        [128, 0, 0]
    """
    labels = np.asarray(labels)
    colours = np.asarray(palette, np.uint8)[labels]
    blended = np.round((1 - alpha) * image + alpha * colours).astype(np.uint8)
    if outline:
        edge = np.zeros(labels.shape, bool)
        edge[:-1] |= labels[:-1] != labels[1:]
        edge[:, :-1] |= labels[:, :-1] != labels[:, 1:]
        dark = blended.mean(axis=-1) < 128
        blended[edge & dark] = 255
        blended[edge & ~dark] = 0
    return blended


def with_legend(picture, labels, palette, class_names):
    """The picture with a legend strip below it: a swatch and the name of each class present.

    Example:
        >>> with_legend(overlaid, labels, palette, spec.classes)  # doctest: +SKIP
    """
    from PIL import Image, ImageDraw

    present = [int(c) for c in np.unique(labels)]
    row, width = 14, picture.shape[1]
    per_line = max(1, width // 110)
    lines = -(-len(present) // per_line)
    strip = Image.new("RGB", (width, lines * row + 4), (255, 255, 255))
    draw = ImageDraw.Draw(strip)
    for i, c in enumerate(present):
        x, y = (i % per_line) * 110 + 2, (i // per_line) * row + 2
        colour = tuple(int(v) for v in np.asarray(palette)[c])
        draw.rectangle([x, y + 1, x + 10, y + 11], fill=colour, outline=(0, 0, 0))
        name = class_names[c] if class_names is not None and c < len(class_names) else str(c)
        draw.text((x + 14, y), str(name)[:15], fill=(0, 0, 0))
    return np.concatenate([picture, np.asarray(strip)], axis=0)


def write_image(path, image):
    """Write an (H, W, 3) uint8 RGB array with Pillow (format from the suffix)."""
    from PIL import Image

    Image.fromarray(as_rgb_uint8(image)).save(path)
