"""Batch prediction on Ray Data: the same folder job on a laptop's cores or on a cluster.

:func:`predict_dataset` lists the images on the driver, skips those whose label PNG exists,
and sends the *locations* of the others through ``Dataset.map_batches`` to a fixed pool of
actors (``ray.data.ActorPoolStrategy``), one per worker. Each actor builds the model once
from a :class:`~keras_seg.inference.model_source.ModelSource` (a name and weights file, a
``.keras`` file or a preset: strings, not a pickled Keras model) and keeps it for every
image, so its compiled forward graphs are traced once per worker. For each image an actor
reads the file, predicts with the model's own pipeline (:class:`~keras_seg.inference.batch.Runner`,
as :func:`keras_seg.inference.batch.predict_files`: input convention, whole frames batched
by size, tiles where the image is large or ``tile_size`` asks) and writes the label PNG
(last, whole or not: the run's record of what is done), and overlays and probabilities where
asked. What comes back to the driver is one manifest row per image
(:mod:`keras_seg.inference.manifest`), written as a Parquet part as it arrives: a killed run
leaves its outputs and rows, and the next one skips what was written. An image that cannot
be read, predicted or written is a row with status ``error: ...``; the run goes on.

Nothing of Ray is imported until this module's functions run (``import keras_seg`` and
``keras-seg predict`` without ``--ray`` never load it).

Example:
    >>> report = predict_dataset("fcn8s", "photos/", "labels/", weights="fcn8s.weights.h5",
    ...                          num_cpus=2, workers=2)  # doctest: +SKIP
    >>> print(report.summary())  # doctest: +SKIP
"""

import contextlib
import functools
import logging
import os
import socket
import time
import warnings
from dataclasses import dataclass

import numpy as np

from keras_seg.errors import InputError, ParameterError
from keras_seg.inference.batch import QUIET_NOTES, BatchReport, Runner
from keras_seg.inference.locations import (
    existing,
    is_uri,
    join,
    label_locations,
    list_image_locations,
    make_folder,
    read_image_at,
    stem,
    write_bytes,
)
from keras_seg.inference.manifest import (
    previous_rows,
    run_name,
    write_manifest,
    write_part,
)
from keras_seg.inference.model_source import ModelSource

#: Subfolders of the output folder for the outputs asked for beside the labels.
OVERLAYS, PROBABILITIES = "overlays", "probabilities"
#: How to install what this module needs.
INSTALL = 'pip install "keras-seg[ray]"'


@dataclass
class DatasetReport(BatchReport):
    """What :func:`predict_dataset` did, with the manifest's location and the pool's size.

    A :class:`~keras_seg.inference.batch.BatchReport` (written, skipped, failed, seconds).

    Example:
        >>> DatasetReport(written=["a.png"], seconds=0.5, workers=2).summary()[-26:]
        '0 failed; 2 workers (Ray)'
    """

    manifest: str = None
    workers: int = 0

    def summary(self):
        """:meth:`BatchReport.summary` and the number of workers."""
        return f"{super().summary()}; {self.workers} worker{'s' * (self.workers != 1)} (Ray)"


def require_ray():
    """Import Ray and Ray Data, or refuse in one line saying how to install them.

    Example:
        >>> ray = require_ray()  # doctest: +SKIP
    """
    try:
        import ray
        import ray.data
    except ImportError:
        raise InputError(f"Ray is not installed; {INSTALL}") from None
    return ray


def connect(address=None, *, num_cpus=None):
    """Start a local Ray cluster, or connect to a running one (nothing if connected).

    Args:
        address: None or ``"local"``: start a cluster on this machine; ``"auto"``: the
            cluster already running here; ``"HOST:PORT"`` (its GCS) or
            ``"ray://HOST:PORT"`` (Ray Client): a remote cluster.
        num_cpus: CPUs a local cluster may use (default: all).

    Raises:
        ParameterError: nothing answers at ``address``.

    Example:
        >>> connect(num_cpus=2)  # doctest: +SKIP
        >>> connect("10.0.0.5:6379")  # doctest: +SKIP
    """
    ray = require_ray()
    if ray.is_initialized():
        return ray
    quiet = dict(logging_level=logging.WARNING, log_to_driver=True)
    if address in (None, "local"):
        ray.init(num_cpus=num_cpus, include_dashboard=False, **quiet)
        return ray
    check_reachable(address)
    try:
        ray.init(address=address, **quiet)
    except (ConnectionError, TimeoutError, RuntimeError) as error:
        reason = str(error).strip().splitlines()[0][:200] if str(error).strip() else \
            type(error).__name__
        raise ParameterError("{address} {value}: cannot connect to a Ray cluster there "
                             "({reason})", value=address, reason=reason) from None
    return ray


def check_reachable(address, timeout=5.0):
    """Refuse a ``HOST:PORT`` (or ``ray://HOST:PORT``) address where nothing answers.

    Ray itself would retry for a minute before giving up; a plain TCP connection says in
    at most ``timeout`` seconds. Other addresses (``auto``) are left to Ray.

    Raises:
        ParameterError: the address is malformed or the connection is refused or times out.

    Example:
        >>> check_reachable("127.0.0.1:1")
        Traceback (most recent call last):
        ...
        keras_seg.errors.ParameterError: address 127.0.0.1:1: no Ray cluster answers there ...
    """
    if address == "auto":
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ParameterError("{address} {value}: expected HOST:PORT, ray://HOST:PORT or auto",
                             value=address)
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise ParameterError("{address} {value}: no Ray cluster answers there ({reason})",
                             value=address, reason=reason.lower()) from None


def predict_dataset(model, source, out, *, weights=None, builder_args=None, address=None,
                    num_cpus=None, workers=None, cpus_per_worker=1, images_per_call=4,
                    overlays=False, probabilities=False, progress=False, on_error=None,
                    **options):
    """Segment every image of a folder, list file or URI on Ray workers; resumable.

    Writes ``out/<stem>.png`` (palette label PNG) for every image, and where asked
    ``out/overlays/<stem>.png`` (labels over the image, with a legend) and
    ``out/probabilities/<stem>.npy`` ((H, W, C) float32); then ``out/manifest.parquet``
    (:mod:`keras_seg.inference.manifest`). Images whose label PNG exists are skipped
    without being read. Where Ray is connected already (:func:`connect`, ``ray.init``),
    its cluster is used; otherwise, if any image is left to predict, this call connects
    with ``address`` and ``num_cpus`` and disconnects at its end (a local cluster stops).

    Args:
        model: a :class:`~keras_seg.inference.model_source.ModelSource`, or what it takes:
            a registered name, a ``.keras`` file or a preset. Every worker loads it itself;
            files must be readable there (a shared path or a URI).
        source: a folder, a list file (one image per line), or a URI ``pyarrow.fs`` reads
            naming either.
        out: the output folder, local or a URI (created).
        weights: for a registered name: a weights file (or URI), record or preset.
        builder_args: for a registered name: builder arguments (``num_classes``...).
        address: the cluster, as :func:`connect` takes it (None: a local one).
        num_cpus: CPUs of a local cluster (default: all).
        workers: actors, each holding one model (default: the cluster's CPUs divided by
            ``cpus_per_worker``, at most one per call's worth of images).
        cpus_per_worker: CPUs each actor reserves; its TensorFlow uses as many threads.
        images_per_call: images per actor call, and rows per manifest part.
        overlays: also write the overlays.
        probabilities: also write the class probabilities (every image then goes through
            :func:`keras_seg.predict` alone).
        progress: show a progress bar over the images.
        on_error: called on the driver with (path, reason) for each image that failed.
        **options: :func:`keras_seg.predict`'s options (``tile_size``, ``overlap``,
            ``blend``, ``tta``, ``mc_samples``, ``batch_size``, ``precision``,
            ``memory_budget``...).

    Returns:
        A :class:`DatasetReport`.

    Raises:
        InputError: Ray missing, no images, a model that cannot be sent to workers, two
            images with one output name.

    Example:
        >>> report = predict_dataset("fcn8s", "s3://bucket/photos", "s3://bucket/labels",
        ...                          weights="s3://bucket/fcn8s.weights.h5")  # doctest: +SKIP
    """
    from keras_seg.inference.common import progress_bar
    from keras_seg.inference.forward import check_precision

    start = time.perf_counter()
    require_ray()
    source_model = _model_source(model, weights, builder_args)
    source_model.check()
    check_precision(options.get("precision", "float32"))
    if cpus_per_worker <= 0 or images_per_call < 1 or (workers is not None and workers < 1):
        raise ParameterError("{cpus_per_worker} must be positive and {images_per_call} and "
                             "{workers} at least 1")
    out = str(out)
    images = list_image_locations(source)
    if not is_uri(out) and not is_uri(source) and os.path.isdir(source) \
            and os.path.abspath(out) == os.path.abspath(source):
        raise InputError(f"{out}: the output folder must not be the input folder")
    labels = label_locations(images, out)
    for folder in [out] + [join(out, name) for name, asked in
                           ((OVERLAYS, overlays), (PROBABILITIES, probabilities)) if asked]:
        make_folder(folder)
    done = existing(out)
    todo = [(image, label) for image, label in zip(images, labels)
            if os.path.basename(label) not in done]
    previous = previous_rows(out)
    report = DatasetReport(skipped=len(images) - len(todo))
    rows = {}
    if todo:
        ray = require_ray()
        ours = not ray.is_initialized()
        connect(address, num_cpus=num_cpus)
        try:
            rows = _run(todo, out, source_model, report, dict(
                workers=workers, cpus_per_worker=cpus_per_worker,
                images_per_call=images_per_call, overlays=overlays,
                probabilities=probabilities, options=options),
                progress_bar(len(todo), progress, unit="image"), on_error)
        finally:
            if ours:
                ray.shutdown()
    manifest = []
    for image, label in zip(images, labels):
        if image in rows:  # predicted now
            manifest.append(rows[image])
        elif previous.get(image, {}).get("status") == "ok":  # skipped, recorded before
            manifest.append(previous[image])
        else:  # skipped, written by a run that left no record of it
            manifest.append({"path": image, "output": label, "status": "exists"})
    report.manifest = write_manifest(out, manifest)
    report.seconds = time.perf_counter() - start
    return report


def _model_source(model, weights, builder_args):
    if isinstance(model, ModelSource):
        if weights is not None or builder_args:
            raise ParameterError("{model}: a ModelSource carries its own {weights} and "
                                 "{builder_args}")
        return model
    if not isinstance(model, (str, os.PathLike)):
        raise ParameterError("{model}: Ray workers load the model themselves; give a "
                             "registered name (with {weights}), a .keras file or a preset "
                             "folder, not a {kind} (save it: model.save('model.keras'))",
                             kind=type(model).__name__)
    return ModelSource(os.fspath(model), None if weights is None else os.fspath(weights),
                       dict(builder_args or {}))


def _run(todo, out, source_model, report, settings, bar, on_error):
    """Send the images to the actor pool; write each block's rows as a manifest part."""
    ray = require_ray()
    per_call = settings["images_per_call"]
    calls = -(-len(todo) // per_call)
    cpus = ray.cluster_resources().get("CPU", 1)
    workers = settings["workers"] or max(1, int(cpus // settings["cpus_per_worker"]))
    report.workers = workers = min(workers, calls)
    run, rows = run_name(), {}
    with _quiet_ray_data():
        dataset = ray.data.from_items([{"path": image, "output": label}
                                       for image, label in todo], override_num_blocks=calls)
        dataset = dataset.map_batches(
            ImagePredictor, batch_size=per_call, batch_format="pyarrow",
            compute=ray.data.ActorPoolStrategy(size=workers),
            num_cpus=settings["cpus_per_worker"],
            fn_constructor_kwargs=dict(
                source=source_model, out=out, options=settings["options"],
                overlays=settings["overlays"], probabilities=settings["probabilities"],
                threads=max(1, int(settings["cpus_per_worker"]))))
        dataset.context.enable_progress_bars = False  # keras-seg's own bar counts images
        blocks = dataset.iter_batches(batch_size=None, batch_format="pyarrow")
        for number, table in enumerate(blocks):
            write_part(out, table, run, number)
            for row in table.to_pylist():
                rows[row["path"]] = row
                if row["status"] == "ok":
                    report.written.append(row["output"])
                else:
                    reason = row["status"].removeprefix("error: ")
                    report.failed.append((row["path"], reason))
                    if on_error:
                        on_error(row["path"], reason)
                bar.update(1)
    bar.close()
    return rows


class ImagePredictor:
    """One Ray actor: holds the model, reads, predicts and writes the images it is given.

    Built once per worker by Ray Data (``fn_constructor_kwargs``); called with a
    ``pyarrow.Table`` of ``path`` and ``output`` columns, returns the manifest rows.

    Example:
        >>> predictor = ImagePredictor(ModelSource("m.keras"), "labels", {})  # doctest: +SKIP
        >>> rows = predictor(pyarrow.table({"path": ["a.jpg"], "output": ["labels/a.png"]}))
        ... # doctest: +SKIP
    """

    def __init__(self, source, out, options, overlays=False, probabilities=False, threads=1):
        _start_tensorflow(threads)
        from keras_seg.registry import class_names

        options = dict(options)
        batch_size = options.pop("batch_size", 1)
        precision = options.pop("precision", "float32")
        memory_budget = options.pop("memory_budget", None)
        if probabilities:
            options["return_probabilities"] = True
        self.model = source.load()
        self.runner = Runner(self.model, batch_size, precision, memory_budget, options)
        self.out, self.overlays, self.probabilities = out, overlays, probabilities
        self.classes = int(self.model.output_shape[-1])
        self.names = class_names(self.model)
        self.worker = f"{socket.gethostname()}:{os.getpid()}"

    def __call__(self, batch):
        from keras_seg.inference.manifest import as_table

        rows, pending = [], {}

        def finish(ready, seconds):
            for index, result in ready:
                rows.append(self._finish(*pending.pop(index), result, seconds / len(ready)))

        with warnings.catch_warnings():
            for message in QUIET_NOTES:
                warnings.filterwarnings("ignore", message)
            items = zip(batch.column("path").to_pylist(), batch.column("output").to_pylist())
            for index, (path, output) in enumerate(items):
                begin = time.perf_counter()
                try:
                    image, size = read_image_at(path)
                except Exception as error:  # this image only
                    rows.append(self._row(path, output, f"error: {error}", begin))
                    continue
                pending[index] = (path, output, image, size, time.perf_counter() - begin)
                self._step(functools.partial(self.runner.add, index, image), finish, pending,
                           rows)
            self._step(self.runner.flush, finish, pending, rows)
        return as_table(rows)

    def _step(self, call, finish, pending, rows):
        """Run ``call``; on an unexpected error, its images (not held back) fail alone."""
        begin = time.perf_counter()
        try:
            ready = call()
        except Exception as error:  # a worker does not stop for one image
            held = {item for item, _ in self.runner.group}
            for index in [i for i in pending if i not in held]:
                path, output, *_ = pending.pop(index)
                rows.append(self._row(path, output, f"error: {error}", begin))
            return
        if ready:
            finish(ready, time.perf_counter() - begin)

    def _finish(self, path, output, image, size, read_seconds, result, share):
        begin = time.perf_counter() - read_seconds - share
        row = self._row(path, output, "ok", begin, image, size)
        if isinstance(result, Exception):
            row["status"] = f"error: {result}"
            return row
        labels = getattr(result, "labels", result)
        try:
            self._write(output, image, labels, getattr(result, "probabilities", None))
        except Exception as error:  # the next image may be writable
            row["status"] = f"error: cannot write {output} ({error})"
        row["histogram"] = np.bincount(np.asarray(labels).ravel(),
                                       minlength=self.classes).tolist()
        row["seconds"], row["finished"] = time.perf_counter() - begin, time.time()
        return row

    def _write(self, output, image, labels, probabilities):
        """The extras first, the label PNG last: it marks the image as done."""
        import io

        from PIL import Image

        from keras_seg.images import overlay, with_legend, write_labels

        name = stem(output)
        if self.overlays:
            picture = with_legend(overlay(image, labels, self.runner.palette), labels,
                                  self.runner.palette, self.names)
            buffer = io.BytesIO()
            Image.fromarray(picture).save(buffer, format="PNG")
            write_bytes(join(join(self.out, OVERLAYS), f"{name}.png"), buffer.getvalue())
        if probabilities is not None:
            buffer = io.BytesIO()
            np.save(buffer, np.asarray(probabilities, np.float32))
            write_bytes(join(join(self.out, PROBABILITIES), f"{name}.npy"), buffer.getvalue())
        buffer = io.BytesIO()
        write_labels(buffer, labels, self.runner.palette)
        write_bytes(output, buffer.getvalue())

    def _row(self, path, output, status, begin, image=None, size=None):
        return {"path": path, "output": output, "status": status, "worker": self.worker,
                "height": None if image is None else image.shape[0],
                "width": None if image is None else image.shape[1], "bytes": size,
                "seconds": time.perf_counter() - begin, "finished": time.time()}


def _start_tensorflow(threads):
    """TensorFlow in this worker: ``threads`` threads, its start-up lines not printed.

    Set before it starts (a fresh actor process), as the command line starts it: the CUDA
    probing and oneDNN notices that TensorFlow writes to the process's stderr would reach the
    driver's terminal from every worker.
    """
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    if os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow":
        return
    import sys

    with _quiet_stderr(enabled="tensorflow" not in sys.modules):
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        except RuntimeError:  # started already (the actor's process ran TensorFlow before)
            pass
        tf.config.list_logical_devices()  # the devices probed now, quietly


@contextlib.contextmanager
def _quiet_stderr(enabled=True):
    """File descriptor 2 sent to /dev/null for the block (native libraries write there)."""
    if not enabled:
        yield
        return
    import sys

    sys.stderr.flush()
    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


@contextlib.contextmanager
def _quiet_ray_data():
    """Ray Data's notes on the driver held back for a run; its warnings and errors stay.

    Held back: that its progress bars are off, its start and end lines (INFO), the
    deprecation warnings about its own settings that copying its context raises.
    """
    loggers = {logging.getLogger("ray.data"): logging.WARNING,
               logging.getLogger("ray.data._internal.progress"): logging.ERROR}
    levels = {logger: logger.level for logger in loggers}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"ray\.data")
        for logger, level in loggers.items():
            logger.setLevel(level)
        try:
            yield
        finally:
            for logger, level in levels.items():
                logger.setLevel(level)
