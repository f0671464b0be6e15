"""``read_weights`` and ``load_weights``: the format is chosen by the file's suffix."""

import os
import zipfile

import numpy as np

from keras_seg.convert.assign import LoadReport, assign
from keras_seg.convert.caffe import caffe_transfers, check_prototxt
from keras_seg.convert.caffemodel import parse_caffemodel, read_caffemodel
from keras_seg.convert.prototxt import load_prototxt
from keras_seg.errors import ConversionError

SUFFIXES = (".caffemodel", ".npz", ".weights.h5", ".keras")


def read_weights(path):
    """Read any supported weights file into a flat ``{key: np.ndarray}``.

    Keys: Caffe ``"<layer>/<blob index>"`` (``"conv1_1/0"``), Lasagne ``"arr_N"``, Keras
    the variable paths of the ``.weights.h5`` file (``"layers/conv1_1/vars/0"``).

    Args:
        path: a ``.caffemodel``, ``.npz``, ``.weights.h5`` or ``.keras`` file.

    Returns:
        The arrays, in file order.

    Raises:
        ConversionError: unknown suffix, or a corrupted, truncated or unsafe file.

    Example:
        >>> blobs = keras_seg.read_weights("fcn8s-heavy-pascal.caffemodel")  # doctest: +SKIP
        >>> blobs["fc6/0"].shape  # doctest: +SKIP
        (4096, 512, 7, 7)
    """
    path = os.fspath(path)
    _check_exists(path)
    kind = _kind(path)
    if kind == ".caffemodel":
        return read_caffemodel(path)
    if kind == ".npz":
        try:
            with np.load(path, allow_pickle=False) as archive:
                return {key: archive[key] for key in archive.files}
        except ValueError as error:  # object arrays need pickle: refused
            raise ConversionError(f"{path}: refused, it holds pickled objects ({error})") from None
        except (OSError, zipfile.BadZipFile) as error:
            raise ConversionError(f"{path}: not a readable .npz archive ({error})") from None
    return _read_keras(path, kind)


def load_weights(model, path, *, prototxt=None, strict=True):
    """Load a weights file into ``model``, checking every shape; all or nothing.

    Args:
        model: a model from :func:`keras_seg.build` (layer names are the original ones).
        path: ``.caffemodel``, ``.weights.h5`` or ``.keras``.
        prototxt: for a caffemodel, the network definition to check the model against.
        strict: refuse a file with weights the model lacks or lacking weights the model has
            (otherwise load the matching part and report the rest).

    Returns:
        A :class:`~keras_seg.convert.assign.LoadReport`.

    Raises:
        ConversionError: naming the layer, the expected and the found shape; the model's
            weights are unchanged.

    Example:
        >>> model = keras_seg.build("fcn8s")
        >>> report = keras_seg.load_weights(
        ...     model, "fcn8s-heavy-pascal.caffemodel")  # doctest: +SKIP
    """
    path = os.fspath(path)
    _check_exists(path)
    kind = _kind(path)
    if kind == ".caffemodel":
        if prototxt is not None:
            check_prototxt(model, load_prototxt(prototxt), source=os.fspath(prototxt))
        layers = parse_caffemodel(path)
        blobs = {
            f"{layer.name}/{i}": blob for layer in layers for i, blob in enumerate(layer.blobs)
        }
        types = {layer.name: layer.type for layer in layers if layer.blobs}
        return assign(caffe_transfers(model), blobs, source_name=path, strict=strict,
                      source_types=types)
    if kind in (".weights.h5", ".keras"):
        try:
            model.load_weights(path)
        except (ValueError, OSError) as error:
            raise ConversionError(f"{path}: cannot load into {model.name!r}: {error}") from None
        return LoadReport(path, assigned=[v.path for v in model.weights])
    raise ConversionError(f"{path}: {kind} files cannot be loaded into a model yet")


def _kind(path):
    lower = path.lower()
    for suffix in SUFFIXES:
        if lower.endswith(suffix):
            return suffix
    raise ConversionError(
        f"{path}: unknown weights format; expected one of {', '.join(SUFFIXES)}"
    )


def _check_exists(path):
    if not os.path.isfile(path):
        raise ConversionError(f"{path}: no such file")


def _read_keras(path, kind):
    import h5py

    try:
        if kind == ".keras":
            with (
                zipfile.ZipFile(path) as archive,
                archive.open("model.weights.h5") as f,
                h5py.File(f, "r") as h5,
            ):
                return _h5_arrays(h5)
        with h5py.File(path, "r") as h5:
            return _h5_arrays(h5)
    except (OSError, KeyError, zipfile.BadZipFile) as error:
        raise ConversionError(f"{path}: not a readable Keras weights file ({error})") from None


def _h5_arrays(h5):
    import h5py

    arrays = {}
    h5.visititems(
        lambda name, item: arrays.__setitem__(name, item[()]) if isinstance(item, h5py.Dataset)
        else None
    )
    return arrays
