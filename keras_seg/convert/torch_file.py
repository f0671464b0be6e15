"""Read PyTorch ``.pth``/``.pt`` files without torch, and without running their pickles' code.

``torch.save`` writes a pickle whose tensors point to raw storages: in a zip archive
(``<name>/data.pkl`` and ``<name>/data/<key>``, the format since PyTorch 1.6) or, in the
legacy format (``_use_new_zipfile_serialization=False``, and files from before 1.6), in one
stream: magic number, protocol, system info, the pickle, the list of storage keys, then each
storage as an int64 element count followed by its bytes.

The unpickler here knows a short list of globals (ordered dicts, tensor and parameter
rebuild functions, the storage types of every float, int and bool dtype) and refuses every
other one with :class:`~keras_seg.errors.ConversionError`, so a malicious file cannot make it
run anything. Tensors are rebuilt as NumPy arrays from their storage, offset, size and
stride, with every index checked against the storage; views of one storage share it. Storages
are read one at a time (a zip is never read whole), and a storage whose size in the archive
differs from what its tensors need is refused before it is read.
"""

import collections
import io
import pickle
import struct
import zipfile

import numpy as np

from keras_seg.errors import ConversionError

#: torch's storage types and the NumPy dtype of their elements (bfloat16 as its raw bits).
STORAGE_DTYPES = {
    "DoubleStorage": np.float64, "FloatStorage": np.float32, "HalfStorage": np.float16,
    "BFloat16Storage": np.uint16, "LongStorage": np.int64, "IntStorage": np.int32,
    "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
#: Keys under which training scripts wrap a state dict.
WRAPPERS = ("state_dict", "model_state_dict", "model", "net")
_MAX_PICKLE = 256 * 2**20


class _StorageType:
    def __init__(self, name):
        self.name, self.dtype = name, np.dtype(STORAGE_DTYPES[name])


class _TensorRef:
    """A tensor before its storage is read: (storage key, offset, size, stride)."""

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset = storage, int(offset)
        self.size, self.stride = tuple(int(n) for n in size), tuple(int(s) for s in stride)


class _Storage:
    def __init__(self, key, storage_type, numel):
        self.key, self.type, self.numel = str(key), storage_type, int(numel)
        self.array = None


def _rebuild_tensor(storage, offset, size, stride, *_):
    if not isinstance(storage, _Storage):
        raise ConversionError("a tensor refers to something that is not a storage")
    return _TensorRef(storage, offset, size, stride)


def _rebuild_parameter(data, *_):
    return data


_GLOBALS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch", "Size"): tuple,
}


class _Unpickler(pickle.Unpickler):
    """Rebuilds tensors and containers only; every other global is refused."""

    def __init__(self, file, path, storages):
        super().__init__(file)
        self.path, self.storages = path, storages

    def find_class(self, module, name):
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(name)
        if (module, name) in _GLOBALS:
            return _GLOBALS[module, name]
        raise ConversionError(f"{self.path}: refused: the pickle asks for {module}.{name}, "
                              "which is not a tensor or a container (a .pth file that runs "
                              "code is never loaded)")

    def persistent_load(self, pid):
        if not isinstance(pid, tuple) or len(pid) < 5 or pid[0] != "storage":
            raise ConversionError(f"{self.path}: unknown persistent id {pid!r:.80}")
        storage_type, key, numel = pid[1], pid[2], pid[4]
        if not isinstance(storage_type, _StorageType):
            raise ConversionError(f"{self.path}: storage {key} has no known dtype")
        if not isinstance(numel, int) or numel < 0:
            raise ConversionError(f"{self.path}: storage {key} has a bad size {numel!r:.40}")
        if len(pid) > 5 and pid[5] is not None:
            raise ConversionError(f"{self.path}: storage views of the pre-1.0 format are not "
                                  "supported")
        storage = self.storages.setdefault(str(key), _Storage(key, storage_type, numel))
        if storage.numel != numel or storage.type.dtype != storage_type.dtype:
            raise ConversionError(f"{self.path}: storage {key} is declared twice differently")
        return storage


def read_torch_file(path):
    """Read a ``torch.save`` file into ``{state-dict key: np.ndarray}``.

    Args:
        path: a ``.pth``/``.pt`` file (zip or legacy format).

    Returns:
        The tensors, by their state-dict keys (a wrapping ``{"state_dict": ...}`` or
        ``{"model_state_dict": ...}`` is unwrapped; nested dicts join their keys with ".").

    Raises:
        ConversionError: a global other than tensors and containers, a damaged or truncated
            file, a storage too small for its tensors, an unknown dtype.

    Example:
        >>> arrays = read_torch_file("fcn8s_from_caffe.pth")  # doctest: +SKIP
        >>> arrays["conv1_1.weight"].shape  # doctest: +SKIP
        (64, 3, 3, 3)
    """
    path = str(path)
    try:
        result = _read_zip(path) if zipfile.is_zipfile(path) else _read_legacy(path)
    except ConversionError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError,
            AttributeError, struct.error, OSError, zipfile.BadZipFile, RecursionError) as error:
        raise ConversionError(f"{path}: not a readable PyTorch file ({type(error).__name__}: "
                              f"{error})") from None
    return _flatten(_unwrap(result), path)


def _read_zip(path):
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        pickles = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
        if len(pickles) != 1:
            raise ConversionError(f"{path}: a zip without one data.pkl is not a torch file")
        prefix = pickles[0][: -len("data.pkl")]
        if f"{prefix}byteorder" in names:
            order = archive.read(f"{prefix}byteorder").decode("ascii", "replace").strip()
            if order != "little":
                raise ConversionError(f"{path}: {order}-endian tensors are not supported")
        info = archive.getinfo(pickles[0])
        if info.file_size > _MAX_PICKLE:
            raise ConversionError(f"{path}: data.pkl declares {info.file_size} bytes; refused")
        storages = {}
        result = _Unpickler(io.BytesIO(archive.read(info)), path, storages).load()
        for key, storage in storages.items():
            name = f"{prefix}data/{key}"
            if name not in names:
                raise ConversionError(f"{path}: storage {key} is missing from the archive")
            entry = archive.getinfo(name)
            expected = storage.numel * storage.type.dtype.itemsize
            if entry.file_size != expected:  # checked before reading: no zip bomb unpacks
                raise ConversionError(f"{path}: storage {key} holds {entry.file_size} bytes, "
                                      f"its tensors need {expected}")
            storage.array = np.frombuffer(archive.read(entry), storage.type.dtype)
    return _materialise(result, path)


def _read_legacy(path):
    with open(path, "rb") as f:
        storages = {}

        def load():
            return _Unpickler(f, path, storages).load()

        magic = load()
        if magic != LEGACY_MAGIC:
            raise ConversionError(f"{path}: neither a zip nor a legacy torch file")
        load()  # protocol version
        load()  # system info (byte order, type sizes)
        result = load()
        keys = load()
        if not isinstance(keys, list):
            raise ConversionError(f"{path}: the storage list is missing")
        for key in keys:
            storage = storages.get(str(key))
            if storage is None:
                raise ConversionError(f"{path}: storage {key} is listed but never used")
            header = f.read(8)
            if len(header) != 8:
                raise ConversionError(f"{path}: truncated before storage {key}")
            (numel,) = struct.unpack("<q", header)
            if numel != storage.numel:
                raise ConversionError(f"{path}: storage {key} holds {numel} elements, its "
                                      f"tensors need {storage.numel}")
            size = numel * storage.type.dtype.itemsize
            data = f.read(size)
            if len(data) != size:
                raise ConversionError(f"{path}: truncated in storage {key}")
            storage.array = np.frombuffer(data, storage.type.dtype)
    return _materialise(result, path)


def _materialise(value, path):
    """Replace every tensor reference in a nest of containers by its array."""
    if isinstance(value, _TensorRef):
        return _tensor(value, path)
    if isinstance(value, dict):
        return {k: _materialise(v, path) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_materialise(v, path) for v in value)
    return value


def _tensor(ref, path):
    storage = ref.storage
    if storage.array is None:
        raise ConversionError(f"{path}: storage {storage.key} was never written")
    if len(ref.size) != len(ref.stride) or min(ref.stride, default=0) < 0 or ref.offset < 0:
        raise ConversionError(f"{path}: a tensor of storage {storage.key} has a bad layout "
                              f"(size {ref.size}, stride {ref.stride}, offset {ref.offset})")
    if 0 in ref.size:
        array = np.zeros(ref.size, storage.array.dtype)
    else:
        last = ref.offset + sum((n - 1) * s for n, s in zip(ref.size, ref.stride))
        if last >= storage.numel:
            raise ConversionError(f"{path}: a tensor reaches element {last} of storage "
                                  f"{storage.key}, which has {storage.numel}")
        itemsize = storage.array.dtype.itemsize
        array = np.lib.stride_tricks.as_strided(
            storage.array[ref.offset :], shape=ref.size,
            strides=tuple(s * itemsize for s in ref.stride)).copy()
    if storage.type.name == "BFloat16Storage":  # the high half of a float32
        array = (array.astype(np.uint32) << 16).view(np.float32)
    return array


def _unwrap(result):
    if isinstance(result, dict):
        for key in WRAPPERS:
            if isinstance(result.get(key), dict):
                return result[key]
    return result


def _flatten(result, path, prefix=""):
    if not isinstance(result, dict):
        raise ConversionError(f"{path}: holds a {type(result).__name__}, not a state dict")
    arrays = {}
    for key, value in result.items():
        name = f"{prefix}{key}"
        if isinstance(value, np.ndarray):
            arrays[name] = value
        elif isinstance(value, dict):
            arrays.update(_flatten(value, path, f"{name}."))
    return arrays
