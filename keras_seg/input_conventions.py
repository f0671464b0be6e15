"""Input conventions: how an original network wants its pixels, defined once.

One :class:`InputConvention` per original release turns RGB 0-255 pixels into the network's
input blob. The same arithmetic runs on NumPy arrays (inference) and on TensorFlow tensors
(the ``tf.data`` training pipeline), so the two can never disagree. This module imports
neither Keras nor TensorFlow.
"""

from dataclasses import asdict, dataclass

import numpy as np

#: ITU-R BT.601 luma weights, as Pillow's ``convert("L")``.
_LUMA = (0.299, 0.587, 0.114)


@dataclass(frozen=True)
class InputConvention:
    """The input blob of an original network, from RGB pixels in 0-255.

    ``x = (pixels_in_channel_order * scale - mean) / std``

    Attributes:
        channels: 3 (colour) or 1 (grayscale, BT.601 luma of the RGB image).
        colour_order: ``"RGB"``, ``"BGR"`` (Caffe networks) or ``"gray"``.
        scale: factor applied to the 0-255 values first (1/255 for [0, 1] inputs).
        mean: subtracted after scaling, in the network's channel order.
        std: divisor after the mean, in the network's channel order.
        description: where the convention comes from, for users and docs.

    Example:
        >>> caffe = InputConvention(colour_order="BGR", mean=(104.0, 117.0, 123.0))
        >>> caffe(np.array([[[10, 20, 30]]], np.uint8)).tolist()
        [[[-74.0, -97.0, -113.0]]]
    """

    channels: int = 3
    colour_order: str = "RGB"
    scale: float = 1.0
    mean: tuple = (0.0, 0.0, 0.0)
    std: tuple = (1.0, 1.0, 1.0)
    description: str = ""

    def __post_init__(self):
        if self.colour_order not in ("RGB", "BGR", "gray"):
            raise ValueError(f"colour_order must be RGB, BGR or gray, got {self.colour_order!r}")
        if (self.colour_order == "gray") != (self.channels == 1):
            raise ValueError("a grayscale convention has one channel, a colour one three")
        for field in ("mean", "std"):
            if len(getattr(self, field)) != self.channels:
                raise ValueError(f"{field} needs {self.channels} values, got "
                                 f"{getattr(self, field)}")

    def __call__(self, images):
        """Apply the convention to RGB 0-255 pixels, NumPy or TensorFlow, (..., H, W, 3).

        NumPy input gives a float32 NumPy array; a float32 tensor gives a tensor.
        """
        if isinstance(images, np.ndarray):
            images = images.astype(np.float32)
        if self.colour_order == "gray":
            r, g, b = (images[..., i : i + 1] for i in range(3))
            x = r * _LUMA[0] + g * _LUMA[1] + b * _LUMA[2]
        elif self.colour_order == "BGR":
            x = images[..., ::-1]
        else:
            x = images
        if self.scale != 1.0:
            x = x * np.float32(self.scale)
        if any(self.mean):
            x = x - np.asarray(self.mean, np.float32)
        if any(s != 1.0 for s in self.std):
            x = x / np.asarray(self.std, np.float32)
        return x

    def to_config(self):
        """A JSON-ready dict (stored with saved models)."""
        config = asdict(self)
        config["mean"], config["std"] = list(self.mean), list(self.std)
        return config

    @classmethod
    def from_config(cls, config):
        """The convention of :meth:`to_config`'s dict."""
        config = dict(config)
        return cls(**{**config, "mean": tuple(config["mean"]), "std": tuple(config["std"])})


def caffe_bgr(mean, description="BGR, 0-255, minus the dataset's mean pixel (Caffe)"):
    """The Caffe convention: BGR channel order, 0-255, minus a mean pixel given as (B, G, R).

    Example:
        >>> caffe_bgr((1.0, 2.0, 3.0)).colour_order
        'BGR'
    """
    return InputConvention(colour_order="BGR", mean=tuple(float(m) for m in mean),
                           description=description)
