"""The registry of published weights (``weights/registry.json``) and fetch + convert.

Downloads go through ``keras.utils.get_file`` (hash-checked when the registry records one);
conversion is the strict :func:`keras_seg.load_weights`, plus a check that the file holds
exactly the weighted layers the registry lists.
"""

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from keras_seg.errors import ConversionError

#: The project's weights folder: registry.json, downloads/ and converted files.
WEIGHTS_DIR = Path(
    os.environ.get("KERAS_SEG_WEIGHTS", Path(__file__).resolve().parents[1] / "weights")
)


@dataclass(frozen=True)
class WeightsEntry:
    """One published weights file (see ``weights/README.md``)."""

    name: str
    model: str
    format: str
    file: str
    url: str
    sha256: str | None
    source: str
    prototxt: str
    license: str
    trained_on: str
    layers: tuple


def load_registry(path=None):
    """All entries of the weights registry, by name.

    Example:
        >>> "dilation8_pascal_voc" in load_registry()
        True
    """
    path = Path(path) if path else WEIGHTS_DIR / "registry.json"
    with open(path, encoding="utf-8") as f:
        entries = json.load(f)["weights"]
    return {name: WeightsEntry(name=name, **{**entry, "layers": tuple(entry["layers"])})
            for name, entry in entries.items()}


def get_entry(name, registry=None):
    """The :class:`WeightsEntry` called ``name``; ValueError listing the known ones."""
    registry = registry or load_registry()
    if name not in registry:
        raise ValueError(f"no published weights called {name!r}; known: {', '.join(registry)}")
    return registry[name]


def fetch(name, *, url=None, cache_dir=None, registry=None):
    """Download a published weights file (once) and verify its recorded SHA-256.

    Args:
        name: registry name.
        url: another origin for the same file (a mirror, or ``file://`` for a local copy).
        cache_dir: where downloads go (default ``weights/downloads``).
        registry: entries to use instead of ``weights/registry.json``.

    Returns:
        (path, sha256 of the file).

    Example:
        >>> path, digest = fetch("dilation8_camvid")  # doctest: +SKIP
    """
    import keras

    entry = get_entry(name, registry)
    cache_dir = Path(cache_dir or WEIGHTS_DIR / "downloads").resolve()
    cache_dir.mkdir(parents=True, exist_ok=True)  # get_file falls back to /tmp otherwise
    path = keras.utils.get_file(entry.file, url or entry.url, file_hash=entry.sha256,
                                hash_algorithm="sha256", cache_dir=str(cache_dir),
                                cache_subdir="")
    return Path(path), _sha256(path)


def convert(name, source, *, out_dir=None, registry=None):
    """Convert a downloaded weights file to ``<out_dir>/<name>.weights.h5`` (atomically).

    The file must hold exactly the weighted layers the registry lists, and load strictly.

    Returns:
        The path of the converted file.

    Raises:
        ConversionError: the file's layers differ from the registry's, or it does not load.
    """
    from keras_seg.convert.caffemodel import parse_caffemodel
    from keras_seg.convert.load import load_weights
    from keras_seg.registry import build

    entry = get_entry(name, registry)
    found = tuple(layer.name for layer in parse_caffemodel(source) if layer.blobs)
    if sorted(found) != sorted(entry.layers):
        missing = sorted(set(entry.layers) - set(found))
        extra = sorted(set(found) - set(entry.layers))
        raise ConversionError(
            f"{source}: not the published {name} file; layers missing: {missing or 'none'}, "
            f"unexpected: {extra or 'none'}"
        )
    model = build(entry.model)
    load_weights(model, source)
    out = Path(out_dir or WEIGHTS_DIR) / f"{name}.weights.h5"
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial.weights.h5")
    model.save_weights(partial)
    os.replace(partial, out)
    return out


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
