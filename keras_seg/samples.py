"""Images the project generates itself, for demos and tests (nothing is downloaded)."""

import numpy as np


def street_scene(height=240, width=320, seed=0):
    """A synthetic street-like RGB image: sky, buildings, road, a car-like box, noise.

    Example:
        >>> street_scene(60, 80).shape
        (60, 80, 3)
    """
    rng = np.random.default_rng(seed)
    rows = np.linspace(0, 1, height)[:, None, None]
    image = np.empty((height, width, 3))
    image[:] = (1 - rows) * [110, 160, 230] + rows * [180, 200, 235]  # sky
    horizon = int(height * 0.55)
    x = 0
    while x < width:  # buildings
        w, h = rng.integers(width // 10, width // 4), rng.integers(height // 5, horizon)
        image[horizon - h : horizon, x : x + w] = rng.integers(60, 160, 3)
        x += w + rng.integers(0, 6)
    image[horizon:] = [90, 90, 95]  # road
    image[horizon + (height - horizon) // 2 : horizon + (height - horizon) // 2 + 3] = 230
    top, left = horizon - height // 12, width // 3
    image[top : top + height // 6, left : left + width // 4] = [170, 30, 30]  # a red car
    image += rng.normal(0, 6, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


SHAPE_CLASSES = ("background", "disc", "box", "triangle")
#: Label colours of the shape classes that stand out from the shapes' own colours.
SHAPE_PALETTE = np.array([[40, 40, 40], [255, 200, 0], [0, 200, 255], [255, 60, 200]],
                         np.uint8)
#: Shape colours per class: distinct hues (the default), or distinct brightness for
#: one-channel networks (U-Net), whose grayscale input would hide the hues.
SHAPE_COLOURS = {"colour": {1: (200, 60, 60), 2: (60, 180, 70), 3: (60, 80, 210)},
                 "gray": {1: (20, 20, 20), 2: (240, 240, 240), 3: (205, 205, 205)}}


def shapes_example(height=96, width=128, seed=0, ignore_label=255, colours="colour"):
    """A synthetic segmentation example: discs, boxes and triangles on a textured background.

    Each shape class has its own colour family (``colours``: a key of
    :data:`SHAPE_COLOURS`); a 2-pixel band along shape boundaries is labelled
    ``ignore_label``, as the VOC masks are.

    Returns:
        (image (H, W, 3) uint8 RGB, mask (H, W) uint8 with classes 0-3 and ignore).

    Example:
        >>> image, mask = shapes_example(48, 64)
        >>> sorted(set(mask.ravel().tolist()) - {255}) <= [0, 1, 2, 3]
        True
    """
    import cv2

    rng = np.random.default_rng(seed)
    texture = cv2.GaussianBlur(rng.normal(0, 1, (height, width)), (0, 0), 2)
    image = np.empty((height, width, 3))
    image[:] = rng.uniform(90, 150, 3)
    image += texture[..., None] * 25
    mask = np.zeros((height, width), np.uint8)
    colours = SHAPE_COLOURS[colours]
    for _ in range(rng.integers(2, 5)):
        kind = int(rng.integers(1, 4))
        layer = np.zeros((height, width), np.uint8)
        cy, cx = rng.integers(0, height), rng.integers(0, width)
        r = int(rng.integers(min(height, width) // 10, min(height, width) // 4))
        if kind == 1:
            cv2.circle(layer, (int(cx), int(cy)), r, 1, -1)
        elif kind == 2:
            cv2.rectangle(layer, (int(cx - r), int(cy - r // 2)), (int(cx + r), int(cy + r)), 1, -1)
        else:
            points = np.array([[cx, cy - r], [cx - r, cy + r], [cx + r, cy + r]], np.int32)
            cv2.fillPoly(layer, [points], 1)
        inside = layer.astype(bool)
        image[inside] = np.asarray(colours[kind]) + rng.normal(0, 12, (inside.sum(), 3))
        mask[inside] = kind
    edges = cv2.morphologyEx(mask, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
    mask[edges] = ignore_label
    image += rng.normal(0, 6, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8), mask


def write_shapes_dataset(root, count, height=96, width=128, seed=0, colours="colour"):
    """Write ``count`` :func:`shapes_example` pairs to ``root/images`` and ``root/masks``.

    Masks are palette PNGs whose indices are the classes. Returns ``root``.

    Example:
        >>> write_shapes_dataset("data/shapes/train", 40)  # doctest: +SKIP
    """
    from pathlib import Path

    from PIL import Image

    from keras_seg.dataset_labels import pascal_palette

    root = Path(root)
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(parents=True, exist_ok=True)
    palette = pascal_palette(256).reshape(-1).tolist()
    for i in range(count):
        image, mask = shapes_example(height, width, seed=seed * 100003 + i, colours=colours)
        Image.fromarray(image).save(root / "images" / f"{i:04d}.png")
        pil = Image.fromarray(mask, mode="P")
        pil.putpalette(palette)
        pil.save(root / "masks" / f"{i:04d}.png")
    return root
