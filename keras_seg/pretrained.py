"""Published weights by name: the Keras cache, fetch with checksums, convert, build.

Downloads and converted files live under the Keras cache (``$KERAS_HOME/keras_seg``, by
default ``~/.keras/keras_seg``; ``$KERAS_SEG_WEIGHTS`` overrides the folder), never in the
source tree:

- ``downloads/<file>``: the original files, as published;
- ``<record>.weights.h5``: the converted Keras weights, written atomically;
- ``checksums.json``: the SHA-256 of the first file seen for a record that publishes no
  checksum, against which later fetches are checked (a lock file);
- ``stand-ins/<file>.RANDOM-STAND-IN.caffemodel``: random-weight files in a release's
  layout (:func:`write_stand_in`), for demos and tests where the real file is absent;
  ``fetch`` refuses them, so they never reach ``downloads/`` or a converted file.

Example:
    >>> model = build("dilation8_camvid", weights="dilation8_camvid")  # doctest: +SKIP
"""

import hashlib
import json
import os
import sys
from pathlib import Path

from keras_seg.errors import ConversionError, InputError, ParameterError
from keras_seg.files import atomic_path
from keras_seg.registry import build_model, describe_weights, get_spec, get_weights_record

LOCK = "checksums.json"
#: The mark in the name (and the ``NetParameter.name``) of every random stand-in file.
STAND_IN_LABEL = "RANDOM-STAND-IN"


def cache_dir():
    """The folder of downloads and converted weights (created on first write).

    Example:
        >>> cache_dir().name  # doctest: +SKIP
        'keras_seg'
    """
    if os.environ.get("KERAS_SEG_WEIGHTS"):
        return Path(os.environ["KERAS_SEG_WEIGHTS"]).expanduser()
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "keras_seg"


def converted_path(name):
    """Where the converted weights of record (or model) ``name`` live in the cache."""
    return cache_dir() / f"{get_weights_record(name).name}.weights.h5"


def is_converted(name):
    """Whether record (or model) ``name`` has converted weights in the cache."""
    return converted_path(name).is_file()


def fetch(name, *, url=None, source=None):
    """Download (or take) a published weights file, check it, convert it into the cache.

    Nothing is trusted before it converts: the file must look like its format (an HTML page,
    an empty, truncated or other kind of file is refused in one line saying what it is),
    match the record's checksum, or the lock file's, and fit the model layer for layer; only
    then is its SHA-256 locked (for records that publish none) and the download kept.
    Downloads try ``$KERAS_SEG_MIRROR``, the record's URL and its mirrors in turn, one line
    on stderr per failure; a failed download leaves nothing in the cache.

    Args:
        name: a weights record, or a model meaning its default record.
        url: another origin (a mirror, or ``file://``); always downloaded, never answered
            by a file cached from another URL, and the only one tried.
        source: a local copy of the published file (``--from``); checked the same way.

    Returns:
        The path of the converted ``.weights.h5`` file.

    Raises:
        InputError: no URL gave the file (the message names the ``--from`` form), or a
            missing ``source``.
        ConversionError: ``source`` is not the file: not its format, a checksum that
            differs, or layers that do not fit the model.

    Example:
        >>> fetch("fcn8s", source="fcn8s-heavy-pascal.caffemodel")  # doctest: +SKIP
    """
    record = get_weights_record(name)
    if source is not None:
        path = Path(source)
        if not path.is_file():
            raise ParameterError("{source} {path}: no such file", path=source)
        if STAND_IN_LABEL in path.name:
            raise ParameterError(
                "{source} {path}: a random stand-in (keras_seg.pretrained.write_stand_in), not the "
                "published {file}; refused. Load it with keras_seg.build({model!r}, "
                "weights=PATH) instead", path=source, file=record.file, model=record.model)
        return _accept(record, path)
    downloaded = cache_dir() / "downloads" / record.file
    if url is None and downloaded.is_file():  # an earlier download, checked again
        return _accept(record, downloaded)
    return _fetch_first(record, url)


def _fetch_first(record, url):
    """Try each candidate URL until one gives a file that converts."""
    from keras_seg.mirrors import candidate_urls, download

    target = cache_dir() / "downloads" / record.file
    partial = target.with_name(f".partial-{target.name}")  # the suffix tells the format
    urls, failures = candidate_urls(record, url), []
    for origin in urls:
        try:
            download(origin, partial)
            return _accept(record, partial, keep_as=target)
        except (InputError, ConversionError) as error:
            partial.unlink(missing_ok=True)
            failures.append(f"{origin} ({str(error).removeprefix(f'{partial}: ')})")
            if len(urls) > 1:
                print(f"could not use {failures[-1]}", file=sys.stderr)
    what = f"cannot download {failures[0]}" if len(urls) == 1 else (
        f"none of the {len(urls)} URLs of {record.name} gave the file (each said why above)")
    raise InputError(f"{what}; download {record.url} by other means and run "
                     f"`keras-seg weights fetch {record.name} --from FILE`")


def _accept(record, path, keep_as=None):
    """Check, verify and convert ``path``; then keep it and lock its digest. Returns the output."""
    from keras_seg.convert.sniff import check_weights_file

    check_weights_file(path, "archive" if record.member else record.format)
    digest = verify(record, path)
    weights = _extract(record, path) if record.member else path
    try:
        out = convert(record.name, weights)
    except Exception:
        if record.member:
            weights.unlink(missing_ok=True)
        raise
    if keep_as is not None:
        os.replace(path, keep_as)
    if record.checksum is None:
        lock = _read_lock()
        if record.name not in lock:
            lock[record.name] = {"sha256": digest, "file": record.file}
            _write_json(cache_dir() / LOCK, lock)
    return out


def verify(record, path):
    """Check ``path`` against the record's checksum, or the lock file's; returns the digest.

    Writes nothing: :func:`fetch` locks a digest only once its file has converted.

    Raises:
        ConversionError: the digest differs.

    Example:
        >>> verify(get_weights_record("fcn8s"), "fcn8s-heavy-pascal.caffemodel")  # doctest: +SKIP
    """
    expected, algorithm = record.checksum, record.hash_algorithm
    if expected is None:
        expected, algorithm = _read_lock().get(record.name, {}).get("sha256"), "sha256"
    digest = _digest(path, algorithm)
    if expected is not None and digest != expected:
        where = "the published" if record.checksum else f"the locked ({LOCK}, first converted)"
        raise ConversionError(f"{path}: {algorithm} {digest} differs from {where} {expected}; "
                              "refused")
    return digest if algorithm == "sha256" else _digest(path, "sha256")


def convert(name, path):
    """Convert a verified file of record ``name`` into the cache (strict, atomic).

    Returns:
        The path of the converted ``.weights.h5`` file.
    """
    from keras_seg.convert.load import load_weights

    record = get_weights_record(name)
    model = build_model(record.model, **record.builder_args)
    load_weights(model, path, rules=record.rules)
    out = converted_path(record.name)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as partial:
        model.save_weights(partial)
    return out


def stand_in_path(name, folder=None):
    """Where :func:`write_stand_in` puts the stand-in of record (or model) ``name``.

    ``<folder>/<published file name>.RANDOM-STAND-IN.caffemodel``; ``folder`` defaults to
    ``<cache>/stand-ins``.

    Example:
        >>> stand_in_path("dilation8_camvid", "build").as_posix()
        'build/dilation8_camvid.RANDOM-STAND-IN.caffemodel'
    """
    record = get_weights_record(name)
    stem = Path(record.member or record.file).name.removesuffix(".caffemodel")
    folder = Path(folder) if folder is not None else cache_dir() / "stand-ins"
    return folder / f"{stem}.{STAND_IN_LABEL}.caffemodel"


def write_stand_in(name, folder=None, *, seed=0, **builder_args):
    """Write a random-weight file in the layout of a published caffemodel, clearly labelled.

    For demos and tests where the real file is absent: the layer names, types and blob
    shapes are the release's (those :func:`keras_seg.load_weights` reads), the values random
    (He-scaled, seeded). The file name always carries ``RANDOM-STAND-IN``
    (:func:`stand_in_path`), and so does the file's ``NetParameter.name``; it is never
    written into the downloads folder nor converted into the cache, and :func:`fetch`
    refuses it, so it cannot pass for the published weights. Load it with
    ``build(model, weights=path)`` or :func:`keras_seg.load_weights`.

    Args:
        name: a weights record in the ``caffemodel`` format, or a model meaning its default
            record.
        folder: where to write (default ``<cache>/stand-ins``); not the downloads folder.
        seed: seed of the random values.
        **builder_args: builder arguments on top of the record's (``widths`` for a narrow
            stand-in; then build the model with the same ones to load it).

    Returns:
        The path of the written file.

    Raises:
        InputError: a record in another format, or the downloads folder as ``folder``.

    Example:
        >>> path = write_stand_in("dilation8_camvid", "build")  # doctest: +SKIP
        >>> model = build("dilation8_camvid", weights=path)  # doctest: +SKIP
    """
    from keras_seg.convert.caffe_writer import random_caffe_layers, write_caffemodel

    record = get_weights_record(name)
    if record.format != "caffemodel":
        raise InputError(f"{record.name}: stand-ins are written for caffemodel releases only, "
                         f"not {record.format}")
    path = stand_in_path(record.name, folder)
    downloads = cache_dir() / "downloads"
    if path.parent.resolve() == downloads.resolve():
        raise InputError(f"{path.parent}: the folder of real downloads; write stand-ins "
                         "elsewhere")
    model = build_model(record.model, **{**record.builder_args, **builder_args})
    path.parent.mkdir(parents=True, exist_ok=True)
    label = (f"{STAND_IN_LABEL} of {record.name}: random weights (seed {seed}) in the layout "
             f"of {record.file}, not the published release")
    write_caffemodel(path, random_caffe_layers(model, seed=seed), net_name=label)
    return path


def missing_weights_error(name, random_option=True):
    """The refusal telling how to get model ``name``'s published weights into the cache.

    Args:
        name: a registered model.
        random_option: mention the ``random_weights`` option (for callers that have one).

    Returns:
        A :class:`~keras_seg.errors.ParameterError` (the command line names its flags).

    Example:
        >>> str(missing_weights_error("unet_padded", random_option=False))
        'unet_padded has no published weights; pass weights FILE (e.g. a trained one)'
    """
    spec = get_spec(name)
    random = ", or {random_weights} for an untrained network" if random_option else ""
    if not spec.default_weights:
        return ParameterError("{name} has no published weights; pass {weights} FILE (e.g. a "
                              "trained one)" + random, name=name)
    record = get_weights_record(spec.default_weights)
    return ParameterError(
        "no converted weights for {name} in {cache}; get them with `keras-seg weights fetch "
        "{record}` (or `keras-seg weights fetch {record} --from FILE` with a download of "
        "{url}), or pass {weights} FILE" + random, name=name, cache=cache_dir(),
        record=record.name, url=record.url)


def build(name, *, weights=None, **overrides):
    """Build a registered model, with random weights or published/converted ones.

    Args:
        name: a name from :func:`keras_seg.list_models`, or a preset: a folder written by
            ``keras-seg weights export`` or ``hf://owner/repo[@revision]``
            (:mod:`keras_seg.presets`), which fixes the network and its weights.
        weights: None (random), a weights record (or the model's name, meaning its default
            record; fetched and converted into the Keras cache when absent), a path to any
            file :func:`keras_seg.load_weights` reads, or a preset folder of this network.
        **overrides: builder arguments (``num_classes``, ``widths``, ``context``...).

    Returns:
        The Functional model, logits in NHWC, with its metadata.

    Raises:
        ConversionError: weights that do not fit (nothing is loaded).
        InputError: weights that cannot be had (offline), with the way to get them.

    Example:
        >>> model = build("fcn8s")  # random weights
        >>> model = build("fcn8s", weights="fcn8s")  # doctest: +SKIP
        >>> model = build("hf://someone/fcn8s-voc")  # doctest: +SKIP
    """
    from keras_seg.convert.load import load_weights
    from keras_seg.convert.readers import READERS
    from keras_seg.presets import (
        HUB_PREFIX,
        WEIGHTS,
        check_no_overrides,
        is_preset,
        load_preset,
        read_config,
    )

    if is_preset(name):
        check_no_overrides(name, weights, overrides)
        return load_preset(name)
    if weights is None:
        return build_model(name, **overrides)
    weights = os.fspath(weights)
    if is_preset(weights) and not weights.startswith(HUB_PREFIX):
        config = read_config(weights)
        if config["network"] != name:
            raise InputError(f"{weights}: a preset of {config['network']}, not {name}")
        model = build_model(name, **{**config.get("builder_args", {}), **overrides})
        load_weights(model, os.path.join(weights, WEIGHTS))
        return model
    if os.path.exists(weights) or weights.lower().endswith(tuple(READERS)):
        model = build_model(name, **overrides)
        load_weights(model, weights)
        return model
    record = get_weights_record(weights)
    if record.model != name:
        raise InputError(f"weights {record.name!r} are for {record.model}, not {name}")
    # the file's layout (12 classes, batch-statistics BN...) unless overridden
    model = build_model(name, **{**record.builder_args, **overrides})
    path = converted_path(record.name)
    if not path.is_file():
        path = fetch(record.name)
    load_weights(model, path)
    if int(model.output_shape[-1]) == len(record.classes):
        describe_weights(model, record)
    return model


def _extract(record, archive):
    """Copy ``record.member`` out of a tar archive into the downloads folder (streamed)."""
    import shutil
    import tarfile

    target = cache_dir() / "downloads" / record.member
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive) as tar:
            for member in tar:
                if member.isfile() and Path(member.name).name == record.member:
                    with (tar.extractfile(member) as source, atomic_path(target) as partial,
                          open(partial, "wb") as out):
                        shutil.copyfileobj(source, out, 1 << 20)
                    return target
    except (tarfile.TarError, OSError, EOFError) as error:
        raise ConversionError(f"{archive}: not a readable archive ({error})") from None
    raise ConversionError(f"{archive}: holds no {record.member}")


def _digest(path, algorithm):
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _read_lock():
    path = cache_dir() / LOCK
    if not path.is_file():
        return {}
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _write_json(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as partial, open(partial, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1, sort_keys=True)
