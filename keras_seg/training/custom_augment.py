"""The augmentation hook: the user's own function or albumentations pipeline in the input workers.

A custom augmentation runs on each training crop after the built-in ones (crop, rescaling,
flips...), inside the ``tf.data`` workers, on NumPy arrays: the image as (H, W, 3) uint8 RGB,
the mask as (H, W) class indices (uint8 when every label fits, else int32; the ignore label
included). It returns the pair in the same size. Two forms are taken:

- an albumentations transform (``A.Compose([...])``), called as ``t(image=, mask=)``; each
  input worker thread uses its own copy, seeded per crop, so a run and its resumption see
  the same augmentations;
- any function ``f(image, mask) -> (image, mask)``; one that takes a ``seed`` keyword gets a
  per-crop seed (reproducible), others draw from their own random state.

Example:
    >>> import albumentations as A  # doctest: +SKIP
    >>> keras_seg.train("unet", "data", num_classes=2, checkpoint_dir="ckpt",
    ...                 augment=A.Compose([A.RandomBrightnessContrast()]))  # doctest: +SKIP
"""

import copy
import importlib
import importlib.util
import inspect
import sys
import threading
from pathlib import Path

import numpy as np

from keras_seg.errors import ParameterError


def load_augment(spec):
    """The callable that ``module:function`` (or ``path/to/file.py:function``) names.

    A module is imported as Python imports it (the current folder first); a ``.py`` path is
    loaded from that file. The attribute may be a function or an object such as an
    albumentations ``Compose``.

    Raises:
        ParameterError: a spec without ``:``, a module or file that cannot be imported, or a
            name it does not define (each named).

    Example:
        >>> load_augment("math:sqrt")(16.0)
        4.0
    """
    module_name, _, attribute = str(spec).rpartition(":")
    if not module_name or not attribute:
        raise ParameterError("{augment} {spec}: give module:function (or file.py:function)",
                             spec=spec)
    try:
        if module_name.endswith(".py"):
            path = Path(module_name)
            if not path.is_file():
                raise ParameterError("{augment} {spec}: {path} does not exist", spec=spec,
                                     path=path)
            module_spec = importlib.util.spec_from_file_location(path.stem, path)
            module = importlib.util.module_from_spec(module_spec)
            module_spec.loader.exec_module(module)
        else:
            if "" not in sys.path:
                sys.path.insert(0, "")  # the current folder, as `python -m` would
            module = importlib.import_module(module_name)
    except ParameterError:
        raise
    except Exception as error:  # the user's module: any failure is theirs to see, named
        raise ParameterError("{augment} {spec}: cannot import {module}: {error}", spec=spec,
                             module=module_name, error=f"{type(error).__name__}: {error}"
                             ) from None
    if not hasattr(module, attribute):
        raise ParameterError("{augment} {spec}: {module} defines no {name}", spec=spec,
                             module=module_name, name=attribute)
    return getattr(module, attribute)


def describe(transform):
    """A short name for messages: the function's qualified name or the object's class."""
    return getattr(transform, "__qualname__", type(transform).__name__)


class CustomAugment:
    """Calls a user's augmentation on one crop, as the input pipeline's workers need it.

    Args:
        transform: an albumentations transform or a function ``(image, mask) -> (image,
            mask)`` (optionally taking ``seed=``).

    Example:
        >>> flip = CustomAugment(lambda image, mask: (image[:, ::-1], mask[:, ::-1]))
        >>> image, mask = flip(np.zeros((2, 3, 3), np.float32), np.eye(2, 3, dtype=np.int32), 7)
        >>> mask.tolist()
        [[0, 0, 1], [0, 1, 0]]
    """

    def __init__(self, transform):
        if not callable(transform):
            raise ParameterError("{augment}: {name} is not callable", name=describe(transform))
        self.transform = transform
        self.albumentations = type(transform).__module__.startswith("albumentations")
        self.takes_seed = not self.albumentations and _takes_seed(transform)
        self._local = threading.local()

    def __call__(self, image, mask, seed):
        """The augmented (float32 image, int32 mask) of a float32 0-255 crop and its mask.

        Raises:
            ValueError: the transform failed or changed the crop's size or channels (named).
        """
        seed = int(seed) % 2**32
        pixels = np.clip(np.rint(image), 0, 255).astype(np.uint8)
        labels = (mask.astype(np.uint8) if mask.min(initial=0) >= 0
                  and mask.max(initial=0) <= 255 else mask.astype(np.int32))
        try:
            if self.albumentations:
                transform = self._thread_copy()
                transform.set_random_seed(seed)
                out = transform(image=pixels, mask=labels)
                new_image, new_mask = out["image"], out["mask"]
            elif self.takes_seed:
                new_image, new_mask = self.transform(pixels, labels, seed=seed)
            else:
                new_image, new_mask = self.transform(pixels, labels)
        except Exception as error:  # the user's code: report it as theirs, not ours
            raise ValueError(f"augment {describe(self.transform)} failed: "
                             f"{type(error).__name__}: {error}") from None
        new_image, new_mask = np.asarray(new_image), np.asarray(new_mask)
        if new_image.shape != pixels.shape or new_mask.shape != labels.shape:
            raise ValueError(f"augment {describe(self.transform)} returned an image "
                             f"{new_image.shape} and a mask {new_mask.shape} for "
                             f"{pixels.shape} and {labels.shape}; keep the crop's size")
        return new_image.astype(np.float32), new_mask.astype(np.int32)

    def check(self, crop_size, num_classes, ignore_label):
        """Try the transform once on a made-up crop, so a broken one stops the run at once.

        Raises:
            ParameterError: the transform failed or changed the crop's size (named).
        """
        rng = np.random.default_rng(0)
        height, width = crop_size
        image = rng.uniform(0, 255, (height, width, 3)).astype(np.float32)
        mask = rng.integers(0, num_classes, (height, width)).astype(np.int32)
        mask[0] = ignore_label
        try:
            self(image, mask, 0)
        except ValueError as error:
            raise ParameterError("{augment}: {error}", error=error) from None

    def _thread_copy(self):
        """This thread's own copy (albumentations' random state is per object)."""
        transform = getattr(self._local, "transform", None)
        if transform is None:
            transform = self._local.transform = copy.deepcopy(self.transform)
        return transform


def _takes_seed(function):
    try:
        return "seed" in inspect.signature(function).parameters
    except (TypeError, ValueError):  # builtins without a signature
        return False
