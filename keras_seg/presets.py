"""Presets: converted weights in a self-contained folder anyone can share, by path or ``hf://``.

A link from 2015 may die; once anyone has converted its file, a preset keeps it usable.
``keras-seg weights export NAME --out DIR`` writes:

- ``config.json``: the network and its builder arguments, the input convention, the
  classes and palette, the licence, the provenance (record, URLs, the original file's
  SHA-256, the keras-seg version that converted it) and the published scores;
- ``model.weights.h5``: the converted weights;
- ``README.md``: a model card saying the same in prose (the licence first).

``keras_seg.build(DIR)``, ``keras_seg.build("hf://owner/repo")`` (through
``huggingface_hub``, honouring its cache and ``HF_HUB_OFFLINE``) and ``keras-seg predict DIR``
load it.

Example:
    >>> folder = export_preset("dilation8_camvid", "presets/dilation8_camvid")  # doctest: +SKIP
    >>> model = load_preset(folder)  # doctest: +SKIP
"""

import json
import os
import shutil
from pathlib import Path

from keras_seg.errors import ConversionError, InputError, ParameterError

CONFIG = "config.json"
WEIGHTS = "model.weights.h5"
CARD = "README.md"
FORMAT = "keras-seg-preset"
HUB_PREFIX = "hf://"
#: Licence wordings that grant others the right to redistribute the weights.
REDISTRIBUTABLE = ("mit", "bsd", "apache", "cc by")


def is_preset(location):
    """Whether ``location`` names a preset: ``hf://...`` or a folder holding ``config.json``.

    Example:
        >>> is_preset("hf://someone/fcn8s-voc"), is_preset("fcn8s")
        (True, False)
    """
    location = os.fspath(location)
    return location.startswith(HUB_PREFIX) or (Path(location) / CONFIG).is_file()


def may_redistribute(license):
    """Whether a record's licence, as the release states it, lets others share the weights.

    A licence that is not stated grants nothing (all rights stay with the authors).

    Example:
        >>> may_redistribute("CC BY-NC 4.0"), may_redistribute("not stated in the release")
        (True, False)
    """
    text = license.lower()
    return not text.startswith(("not stated", "none stated")) and any(
        grant in text for grant in REDISTRIBUTABLE)


def export_preset(name, out, *, accept_license=False):
    """Write the preset of weights record (or model) ``name`` into the folder ``out``.

    The record must be converted in the cache (``keras-seg weights fetch NAME``).

    Args:
        name: a weights record, or a model meaning its default record.
        out: the folder to write (created; an existing preset there is replaced).
        accept_license: export although the licence does not let others redistribute the
            weights (for use inside an organisation, or with the authors' permission).

    Returns:
        The folder, a :class:`~pathlib.Path`.

    Raises:
        ParameterError: a licence that forbids redistribution without ``accept_license``,
            or weights not converted yet.

    Example:
        >>> export_preset("dilation8_camvid", "presets/dilation8_camvid")  # doctest: +SKIP
        PosixPath('presets/dilation8_camvid')
    """
    from keras_seg import __version__, pretrained
    from keras_seg.registry import get_spec, get_weights_record

    record = get_weights_record(name)
    if not may_redistribute(record.license) and not accept_license:
        raise ParameterError(
            "{name}: its licence does not let others redistribute the weights ({license}); "
            "pass {accept_license} to export it for your own use", name=record.name,
            license=record.license)
    converted = pretrained.converted_path(record.name)
    if not converted.is_file():
        raise ParameterError("{name} is not converted in {cache}; run `keras-seg weights "
                             "fetch {name}` first", name=record.name,
                             cache=pretrained.cache_dir())
    spec = get_spec(record.model)
    model = _built(record)
    config = {
        "format": FORMAT, "format_version": 1, "network": record.model,
        "builder_args": model.metadata.get("builder_args", {}),
        "input_convention": spec.input.to_config(),
        "num_classes": int(model.output_shape[-1]),
        "classes": list(record.classes), "palette_rgb": record.palette()[
            :len(record.classes)].tolist(),
        "license": record.license,
        "provenance": {"record": record.name, "paper": spec.paper, "dataset": record.dataset,
                       "file": record.file, "urls": [record.url, *record.mirrors],
                       "source": record.source, "sha256": _original_sha256(record),
                       "converted_by": f"keras-seg {__version__}"},
        "published_scores": _published_scores(record),
    }
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(converted, out / WEIGHTS)
    (out / CONFIG).write_text(json.dumps(config, indent=1) + "\n", encoding="utf-8")
    (out / CARD).write_text(_card(config), encoding="utf-8")
    return out


def load_preset(location):
    """Build the network of a preset folder or ``hf://owner/repo[@revision]`` with its weights.

    Args:
        location: a folder written by :func:`export_preset`, or a Hugging Face Hub model
            repository holding one (downloaded into, or read offline from, the hub's cache).

    Returns:
        The model, its metadata naming the preset's classes and palette.

    Raises:
        InputError: no such preset, a folder that is not one, or ``huggingface_hub`` absent.
        ConversionError: weights that do not fit the network the preset names.

    Example:
        >>> model = load_preset("hf://someone/dilation8-camvid")  # doctest: +SKIP
    """
    from keras_seg.convert.load import load_weights
    from keras_seg.registry import build_model, list_models

    folder = _hub_folder(location) if os.fspath(location).startswith(HUB_PREFIX) else Path(
        location)
    config = read_config(folder)
    if config["network"] not in list_models():
        raise InputError(f"{location}: a preset of {config['network']!r}, which this "
                         "keras-seg does not have (a newer version may)")
    model = build_model(config["network"], **config.get("builder_args", {}))
    load_weights(model, folder / WEIGHTS)
    model.metadata = {**model.metadata, "classes": config.get("classes"),
                      "palette": config.get("palette_rgb"),
                      "weights": config.get("provenance", {}).get("record"),
                      "preset": os.fspath(location)}
    return model


def read_config(folder):
    """The ``config.json`` of a preset folder, checked.

    Raises:
        InputError: the folder is not a preset, or its weights file is missing.

    Example:
        >>> read_config("presets/dilation8_camvid")["network"]  # doctest: +SKIP
        'dilation8_camvid'
    """
    folder = Path(folder)
    path = folder / CONFIG
    if not path.is_file():
        raise InputError(f"{folder}: not a preset folder (no {CONFIG})")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise InputError(f"{path}: not a keras-seg preset (its \"format\" is not {FORMAT!r})")
    if not (folder / WEIGHTS).is_file():
        raise InputError(f"{folder}: a preset without its {WEIGHTS}")
    return config


def _built(record):
    from keras_seg.registry import build_model

    return build_model(record.model, **record.builder_args)


def _original_sha256(record):
    """The SHA-256 of the original file that converted: the lock's, or the download's."""
    from keras_seg import pretrained

    locked = pretrained._read_lock().get(record.name, {}).get("sha256")
    if locked:
        return locked
    download = pretrained.cache_dir() / "downloads" / record.file
    if download.is_file():
        return pretrained._digest(download, "sha256")
    if record.hash_algorithm == "sha256":
        return record.checksum
    return None


def _published_scores(record):
    """The record's published scores as JSON-ready dicts."""
    from dataclasses import asdict, is_dataclass

    scores = getattr(record, "scores", None) or ()
    return [asdict(s) if is_dataclass(s) else s for s in scores]


def _hub_folder(location):
    """Download (or find in the cache) ``hf://owner/repo[@revision]``; returns its folder."""
    spec = os.fspath(location)[len(HUB_PREFIX):]
    repo_id, _, revision = spec.partition("@")
    if repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise InputError(f"{location}: a hub preset is hf://OWNER/REPO[@REVISION]")
    try:
        import huggingface_hub
    except ImportError:
        raise InputError(f"{location}: loading hf:// presets needs huggingface_hub: pip "
                         "install \"keras-seg[hub]\"") from None
    try:
        folder = huggingface_hub.snapshot_download(
            repo_id, revision=revision or None, allow_patterns=[CONFIG, WEIGHTS, CARD])
    except Exception as error:  # the hub's errors: offline misses, 404s, auth, network
        reason = str(error).strip().splitlines()[0] if str(error) else type(error).__name__
        reason = reason.split(". ")[0].rstrip(".")  # the first sentence says it
        raise InputError(f"{location}: cannot get the preset ({type(error).__name__}: "
                         f"{reason})") from None
    return Path(folder)


def _card(config):
    """A short model card (the hub shows README.md)."""
    provenance = config["provenance"]
    scores = "".join(
        f"- {s.get('dataset')} {s.get('split')}, {s.get('metric')}: "
        f"{s.get('value') if s.get('value') is not None else 'not reported'}"
        f" ({s.get('where')})\n" for s in config["published_scores"]) or "- not recorded\n"
    return (f"# {provenance['record']} (keras-seg preset)\n\n"
            f"**Licence**: {config['license']}\n\n"
            f"{config['network']} with the weights of {provenance['paper']}, trained on "
            f"{provenance['dataset']}, converted from `{provenance['file']}` "
            f"(SHA-256 `{provenance['sha256']}`) by {provenance['converted_by']}.\n\n"
            "```python\nimport keras_seg\nmodel = keras_seg.build(\"hf://OWNER/REPO\")  "
            "# or the folder\n```\n\n## Published scores\n\n" + scores)


def check_no_overrides(location, weights, overrides):
    """Refuse weights or builder arguments given with a preset (it fixes both)."""
    if weights is not None or overrides:
        given = ", ".join(["weights"] * (weights is not None) + sorted(overrides))
        raise ConversionError(f"{location}: a preset fixes its network and weights; "
                              f"{given} cannot be given with it")
