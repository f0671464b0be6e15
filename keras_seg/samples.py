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
