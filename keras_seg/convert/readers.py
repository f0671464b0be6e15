"""Readers by file format: each turns a weights file into named arrays and knows no family.

:func:`read_source` picks the reader from the file's suffix and returns a
:class:`SourceWeights`; :func:`keras_seg.read_weights` gives its flat ``{key: array}``.
"""

import os
import zipfile
from dataclasses import dataclass, field

import numpy as np

from keras_seg.convert.caffemodel import caffemodel_blobs, parse_caffemodel
from keras_seg.convert.torch_file import read_torch_file
from keras_seg.errors import ConversionError


@dataclass
class SourceWeights:
    """The arrays of one weights file.

    Attributes:
        path: the file.
        format: ``"caffemodel"``, ``"keras"``, ``"pth"`` or ``"npz"``.
        arrays: ``{key: array}`` in file order (Caffe ``"<layer>/<blob index>"``, Keras the
            variable paths of its weights file, Lasagne ``"arr_N"``).
        types: Caffe layer types by layer name (other formats: empty).
    """

    path: str
    format: str
    arrays: dict
    types: dict = field(default_factory=dict)


def _read_caffemodel(path):
    layers = parse_caffemodel(path)
    return SourceWeights(path, "caffemodel", caffemodel_blobs(layers, path),
                         {layer.name: layer.type for layer in layers if layer.blobs})


def _read_npz(path):
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except ValueError as error:  # object arrays need pickle: refused
        raise ConversionError(f"{path}: refused, it holds pickled objects ({error})") from None
    except (OSError, zipfile.BadZipFile) as error:
        raise ConversionError(f"{path}: not a readable .npz archive ({error})") from None
    return SourceWeights(path, "npz", arrays)


def _read_keras(path):
    import h5py

    arrays = {}

    def keep(name, item):
        if isinstance(item, h5py.Dataset):
            arrays[name] = item[()]

    try:
        if path.lower().endswith(".keras"):
            with (zipfile.ZipFile(path) as archive, archive.open("model.weights.h5") as f,
                  h5py.File(f, "r") as h5):
                h5.visititems(keep)
        else:
            with h5py.File(path, "r") as h5:
                h5.visititems(keep)
    except (OSError, KeyError, zipfile.BadZipFile) as error:
        raise ConversionError(f"{path}: not a readable Keras weights file ({error})") from None
    return SourceWeights(path, "keras", arrays)


def _read_torch(path):
    return SourceWeights(path, "pth", read_torch_file(path))


#: File suffix -> reader.
READERS = {
    ".caffemodel": _read_caffemodel,
    ".weights.h5": _read_keras,
    ".keras": _read_keras,
    ".npz": _read_npz,
    ".pth": _read_torch,
    ".pt": _read_torch,
}


def read_source(path):
    """Read any supported weights file into a :class:`SourceWeights`.

    Raises:
        ConversionError: a missing file, an unknown suffix, or a damaged or unsafe file.

    Example:
        >>> source = read_source("fcn8s-heavy-pascal.caffemodel")  # doctest: +SKIP
        >>> source.types["fc6"]  # doctest: +SKIP
        'Convolution'
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ConversionError(f"{path}: no such file")
    lower = path.lower()
    for suffix, reader in READERS.items():
        if lower.endswith(suffix):
            return reader(path)
    raise ConversionError(f"{path}: unknown weights format; expected one of "
                          f"{', '.join(READERS)}")


def read_weights(path):
    """Read any supported weights file into a flat ``{key: np.ndarray}``.

    Keys: Caffe ``"<layer>/<blob index>"`` (``"conv1_1/0"``), PyTorch the state-dict keys
    (``"conv1_1.weight"``), Lasagne ``"arr_N"``, Keras the variable paths of the
    ``.weights.h5`` file (``"layers/conv2d/vars/0"``).

    Args:
        path: a ``.caffemodel``, ``.pth``/``.pt``, ``.npz``, ``.weights.h5`` or ``.keras``
            file.

    Returns:
        The arrays, in file order.

    Raises:
        ConversionError: unknown suffix, or a corrupted, truncated or unsafe file.

    Example:
        >>> blobs = keras_seg.read_weights("fcn8s-heavy-pascal.caffemodel")  # doctest: +SKIP
        >>> blobs["fc6/0"].shape  # doctest: +SKIP
        (4096, 512, 7, 7)
    """
    return read_source(path).arrays
