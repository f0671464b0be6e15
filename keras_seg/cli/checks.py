"""Refusals the command line makes before TensorFlow loads: flags, names, files, outputs.

Everything here imports only light modules (the standard library, NumPy, Pillow and the
keras-seg modules that import no Keras), and raises
:class:`~keras_seg.errors.InputError` with one line naming the flag, what it expected and
what it got.

Example:
    >>> check_at_least("--epochs", 3, 1)
"""

import os
from pathlib import Path

from keras_seg.errors import InputError
from keras_seg.model_names import BUILT_IN_MODELS, unknown_model_message


def check_model(model):
    """Refuse a model that is neither a built-in name nor an existing ``.keras`` file.

    Returns:
        True when ``model`` names a saved ``.keras`` model, False for a registered name.

    Example:
        >>> check_model("fcn8s")
        False
    """
    from keras_seg.presets import is_preset

    if is_preset(model):
        raise InputError(f"{model}: a weights preset; this command takes its network by name "
                         "(see its config.json) with the preset as --weights")
    if os.path.isdir(model):
        raise InputError(f"{model}: a folder, but not a weights preset (no config.json; "
                         "`keras-seg weights export` writes one)")
    if model.endswith(".keras") or os.sep in model:
        if not os.path.isfile(model):
            raise InputError(f"{model}: no such file (a saved .keras model, or a name from "
                             "`keras-seg models`)")
        if not model.endswith(".keras"):
            raise InputError(f"{model}: a model file must be a saved .keras model")
        return True
    if model not in BUILT_IN_MODELS:
        raise InputError(unknown_model_message(model))
    return False


def check_at_least(flag, value, low):
    """Refuse ``value`` below ``low`` (None passes: the flag was not given).

    Example:
        >>> check_at_least("--batch-size", 0, 1)
        Traceback (most recent call last):
        ...
        keras_seg.errors.InputError: --batch-size must be at least 1, got 0
    """
    if value is not None and value < low:
        raise InputError(f"{flag} must be at least {low}, got {value}")


def check_tiling(tile_size, overlap, batch_size):
    """Refuse tile sizes, overlap and batch size no tiling can use (the model aside).

    Example:
        >>> check_tiling([512], 0.25, 1)
    """
    tile = [tile_size] if isinstance(tile_size, int) else tile_size
    if tile is not None and (len(tile) > 2 or min(tile) < 1):
        raise InputError(f"--tile-size takes one or two positive sizes, got "
                         f"{' '.join(map(str, tile))}")
    if not 0 <= overlap < 1:
        raise InputError(f"--overlap must be in [0, 1), got {overlap}")
    check_at_least("--batch-size", batch_size, 1)


def check_writable(*paths):
    """Refuse, before any work, outputs whose folder is missing or not writable.

    Example:
        >>> check_writable("labels.png", None)
    """
    for path in filter(None, paths):
        folder = Path(path).parent
        if Path(path).is_dir():
            raise InputError(f"{path}: is a folder, expected a file name")
        if not folder.is_dir():
            raise InputError(f"{path}: cannot write there ({folder} does not exist)")
        if not os.access(folder, os.W_OK):
            raise InputError(f"{path}: cannot write there ({folder} is not writable)")


def check_image_output(flag, path, suffixes=None):
    """Refuse an output image whose suffix Pillow cannot write (or not one of ``suffixes``).

    Example:
        >>> check_image_output("--overlay", "o.jpg")
        >>> check_image_output("--overlay", "o.xyz")
        Traceback (most recent call last):
        ...
        keras_seg.errors.InputError: --overlay o.xyz: Pillow writes no '.xyz' images; \
expected one of .png, .jpg, .jpeg, .bmp, .tif, .tiff, .webp, ...
    """
    if path is None:
        return
    suffix = Path(path).suffix.lower()
    if suffixes is not None:
        if suffix not in suffixes:
            raise InputError(f"{flag} {path}: expected a name ending in "
                             f"{' or '.join(suffixes)}, got {suffix or 'no suffix'!r}")
        return
    if suffix not in writable_image_suffixes():
        raise InputError(f"{flag} {path}: Pillow writes no {suffix or 'suffix-less'!r} images;"
                         f" expected one of .png, .jpg, .jpeg, .bmp, .tif, .tiff, .webp, ...")


def writable_image_suffixes():
    """The file suffixes Pillow can write images to (``.png``, ``.jpg``...).

    Example:
        >>> ".png" in writable_image_suffixes()
        True
    """
    from PIL import Image

    return {suffix for suffix, format in Image.registered_extensions().items()
            if format in Image.SAVE}


def check_input_file(path, what="image"):
    """Refuse an input file that does not exist or cannot be opened.

    Example:
        >>> check_input_file("missing.png")
        Traceback (most recent call last):
        ...
        keras_seg.errors.InputError: missing.png: cannot read the image (no such file)
    """
    if not os.path.exists(path):
        raise InputError(f"{path}: cannot read the {what} (no such file)")
    if not os.path.isfile(path):
        raise InputError(f"{path}: cannot read the {what} (not a file)")
    if not os.access(path, os.R_OK):
        raise InputError(f"{path}: cannot read the {what} (not readable)")


def check_folder(path, flag=None):
    """Refuse a data folder that does not exist.

    Example:
        >>> check_folder("no/such/folder")
        Traceback (most recent call last):
        ...
        keras_seg.errors.InputError: no/such/folder: no such folder
    """
    if not os.path.isdir(path):
        what = "is a file, expected a folder" if os.path.exists(path) else "no such folder"
        raise InputError(f"{flag + ' ' if flag else ''}{path}: {what}")


def check_mask_format_files(args):
    """Refuse a ``--colors`` or ``--annotations`` file that cannot be read.

    Example:
        >>> import argparse
        >>> check_mask_format_files(argparse.Namespace(colors="no.txt", annotations=None))
        Traceback (most recent call last):
        ...
        keras_seg.errors.InputError: no.txt: cannot read the colour map (no such file)
    """
    if args.colors:
        check_input_file(args.colors, "colour map")
    if args.annotations:
        check_input_file(args.annotations, "annotations file")


def add_mask_format_arguments(sub):
    """``--colors``, ``--annotations`` and ``--classes``, as the training configuration has them.

    Example:
        >>> import argparse
        >>> parser = argparse.ArgumentParser()
        >>> add_mask_format_arguments(parser)
        >>> parser.parse_args(["--classes", "a,b"]).classes
        'a,b'
    """
    from keras_seg.training.config import TrainConfig

    for flags, keywords in TrainConfig.command_line_options():
        if keywords.get("dest") in ("colors", "annotations", "classes"):
            sub.add_argument(*flags, **keywords)
