"""Batch prediction: a folder or a list of images streamed through ``tf.data``, written as it goes.

Images are decoded in parallel (Pillow, in ``tf.numpy_function``, prefetched) while the
network runs, label PNGs are written by a background thread under a temporary name and
renamed when complete, and images whose label PNG exists already are not read at all: a
killed run resumes where it stopped. An unreadable image is reported and skipped. Runs of
consecutive same-size images go through the network together where the model's pipeline
is one whole-frame forward (FCN, SegNet, FC-DenseNet with running statistics); the tiled
pipelines (DilatedNet, U-Net, ``tile_size``) take one image at a time, reusing their
compiled tile graphs.
"""

import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from keras_seg.errors import InputError, ParameterError
from keras_seg.files import atomic_path
from keras_seg.images import IMAGE_SUFFIXES
from keras_seg.registry import label_palette, spec_of, unwrap

#: Suffixes of list files (one image path per line).
LIST_SUFFIXES = (".txt", ".lst", ".list")
#: Notes about converted image modes that a batch keeps to itself (they are not problems).
QUIET_NOTES = (r"16-bit image scaled to 8 bits", r"grayscale image converted to RGB",
          r"RGBA image: alpha channel dropped",
          r"colour image converted to grayscale for a one-channel network")


@dataclass
class BatchReport:
    """What :func:`predict_files` did.

    Attributes:
        written: label PNGs written, in input order.
        skipped: inputs whose label PNG existed already (not read).
        failed: (input path, reason) of the images that could not be read or predicted.
        seconds: wall time of the run, decoding and writing included.
    """

    written: list = field(default_factory=list)
    skipped: int = 0
    failed: list = field(default_factory=list)
    seconds: float = 0.0

    @property
    def images_per_second(self):
        """Label images written per second of the run."""
        return len(self.written) / self.seconds if self.seconds else 0.0

    def summary(self):
        """One line: how many written, how fast, how many skipped and unreadable.

        Example:
            >>> BatchReport(written=["a.png"], skipped=2, seconds=0.5).summary()
            'wrote 1 label image in 0.5 s (2.00 images/s); 2 skipped (output exists); 0 failed'
        """
        count = len(self.written)
        return (f"wrote {count} label image{'s' * (count != 1)} in {self.seconds:.1f} s "
                f"({self.images_per_second:.2f} images/s); {self.skipped} skipped (output "
                f"exists); {len(self.failed)} failed")


def list_images(source):
    """The images of a folder (its image files, sorted by name) or of a list file.

    A list file (``.txt``, ``.lst``, ``.list``) names one image per line; blank lines and
    lines starting with ``#`` are ignored, relative paths are relative to the list file's
    folder. Subfolders and hidden files of a folder are not listed.

    Raises:
        InputError: no such folder or list file, or no image in it.

    Example:
        >>> paths = list_images("street/")  # doctest: +SKIP
    """
    source = Path(source)
    if source.is_dir():
        paths = sorted(p for p in source.iterdir() if p.is_file() and not p.name.startswith(".")
                       and p.suffix.lower() in IMAGE_SUFFIXES)
        if not paths:
            raise InputError(f"{source}: no images in the folder (looked for "
                             f"{', '.join(IMAGE_SUFFIXES)})")
        return paths
    if source.suffix.lower() in LIST_SUFFIXES:
        if not source.is_file():
            raise InputError(f"{source}: no such list file")
        lines = source.read_text().splitlines()
        paths = [source.parent / line.strip() for line in lines
                 if line.strip() and not line.strip().startswith("#")]
        if not paths:
            raise InputError(f"{source}: the list names no image")
        return paths
    if not source.exists():
        raise InputError(f"{source}: no such folder or list file")
    raise InputError(f"{source}: neither a folder nor a list file (one image path per line, "
                     f"named {', '.join(LIST_SUFFIXES)})")


def output_paths(paths, out_dir):
    """The label PNG of each input, ``out_dir/<stem>.png``.

    Raises:
        InputError: two inputs with one stem, or an output that would replace an input.

    Example:
        >>> output_paths([Path("a/street.jpg")], "labels")
        [PosixPath('labels/street.png')]
    """
    outputs, owner = [], {}
    inputs = {Path(p).resolve() for p in paths}
    for path in paths:
        out = Path(out_dir) / f"{Path(path).stem}.png"
        if out in owner:
            raise InputError(f"{owner[out]} and {path} would both be written to {out}; "
                             "rename one of them")
        if out.resolve() in inputs:
            raise ParameterError("{path}: the label image would replace the input image; "
                                 "choose another {out_dir}", path=out)
        owner[out] = path
        outputs.append(out)
    return outputs


def predict_folder(model, source, out_dir, **options):
    """Segment every image of a folder or list file into ``out_dir/<stem>.png``.

    :func:`list_images` then :func:`predict_files`; ``out_dir`` is created if needed.

    Example:
        >>> report = predict_folder(model, "street/", "labels/")  # doctest: +SKIP
        >>> print(report.summary())  # doctest: +SKIP
    """
    paths = list_images(source)
    if Path(source).is_dir() and Path(out_dir).resolve() == Path(source).resolve():
        raise InputError(f"{out_dir}: the output folder must not be the input folder")
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    return predict_files(model, paths, out_dir, **options)


def predict_files(model, paths, out_dir, *, batch_size=1, precision="float32", progress=False,
                  memory_budget=None, on_error=None, decoders=None, **options):
    """Segment many images, streaming them through ``tf.data``; write each label PNG at once.

    Args:
        model: a Keras model (as :func:`keras_seg.predict` takes it).
        paths: image files; the label PNG of each is ``out_dir/<stem>.png``.
        out_dir: an existing folder.
        batch_size: consecutive same-size images per forward pass for whole-frame models
            (tiles per forward pass for the tiled pipelines).
        precision: ``"float32"`` or ``"bfloat16"``.
        progress: show a progress bar over the images.
        memory_budget: bytes a whole-frame forward may use (see :func:`keras_seg.predict`);
            batches are kept within it.
        on_error: called with (path, reason) for an image that is skipped; default: a
            warning.
        decoders: images decoded in parallel (default: ``tf.data.AUTOTUNE``).
        **options: other :func:`keras_seg.predict` options (``tile_size``, ``overlap``,
            ``blend``, ``tta``, ``mc_samples``, ``preprocess``, ``num_classes``...).

    Returns:
        A :class:`BatchReport`.

    Raises:
        InputError: two inputs that share an output, as :func:`output_paths`.
        OSError: a label image cannot be written (the run stops there).

    Example:
        >>> report = predict_files(model, ["a.jpg", "b.jpg"], "labels",
        ...                        precision="bfloat16")  # doctest: +SKIP
    """
    from concurrent.futures import ThreadPoolExecutor

    from keras_seg.inference.common import progress_bar
    from keras_seg.inference.forward import check_precision

    check_precision(precision)
    start = time.perf_counter()
    outputs = output_paths(paths, out_dir)
    todo = [(path, out) for path, out in zip(paths, outputs) if not out.exists()]
    report = BatchReport(skipped=len(paths) - len(todo))
    on_error = on_error or _warn
    runner = Runner(model, batch_size, precision, memory_budget, options)
    bar = progress_bar(len(todo), progress, unit="image")
    with warnings.catch_warnings(), ThreadPoolExecutor(1) as writer:
        for message in QUIET_NOTES:
            warnings.filterwarnings("ignore", message)
        pending = []

        def write(results):
            for (path, out), labels in results:
                if isinstance(labels, Exception):  # this image only
                    report.failed.append((path, str(labels)))
                    on_error(path, str(labels))
                    bar.update(1)
                    continue
                pending.append((out, writer.submit(_write, out, labels, runner.palette)))
            while pending and pending[0][1].done():
                out, future = pending.pop(0)
                future.result()  # a failed write stops the run
                report.written.append(out)
                bar.update(1)

        for index, image, error in _decoded(todo, decoders):
            if error:
                report.failed.append((todo[index][0], error))
                on_error(todo[index][0], error)
                bar.update(1)
                continue
            write(runner.add(todo[index], image))
        write(runner.flush())
        for out, future in pending:
            future.result()
            report.written.append(out)
            bar.update(1)
    bar.close()
    report.seconds = time.perf_counter() - start
    return report


def _warn(path, reason):
    warnings.warn(f"{reason}; skipped" if str(path) in reason else f"{path}: {reason}; skipped",
                  stacklevel=3)


def _decoded(todo, decoders):
    """(index, RGB uint8 image, error message) of each input, decoded in parallel, in order."""
    import tensorflow as tf

    def decode(path):
        from keras_seg.images import read_image

        try:
            return read_image(path.decode()), b""
        except (ValueError, OSError) as error:  # InputError is a ValueError
            return np.zeros((0, 0, 3), np.uint8), str(error).encode()

    def load(index, path):
        image, error = tf.numpy_function(decode, [path], [tf.uint8, tf.string],
                                         stateful=False)
        image.set_shape((None, None, 3))
        return index, image, error

    if not todo:
        return
    paths = [str(path) for path, _ in todo]
    dataset = tf.data.Dataset.from_tensor_slices((np.arange(len(paths)), paths))
    dataset = dataset.map(load, num_parallel_calls=decoders or tf.data.AUTOTUNE,
                          deterministic=True).prefetch(tf.data.AUTOTUNE)
    for index, image, error in dataset.as_numpy_iterator():
        yield int(index), image, error.decode()


class Runner:
    """Runs images through the model: same-size runs batched where the pipeline allows.

    Shared by :func:`predict_files` and the Ray workers of
    :func:`keras_seg.inference.ray_predict.predict_dataset`. ``options`` are
    :func:`keras_seg.predict`'s; with ``return_probabilities`` every image goes through it
    alone and its result is a :class:`~keras_seg.inference.predict.Prediction`.

    Example:
        >>> runner = Runner(model, 2, "float32", None, {})  # doctest: +SKIP
        >>> ready = runner.add(("a.png", "labels/a.png"), image) + runner.flush()  # doctest: +SKIP
    """

    def __init__(self, model, batch_size, precision, memory_budget, options):
        from keras_seg.inference.preprocess import input_convention
        from keras_seg.input_conventions import InputConvention
        from keras_seg.layers import BatchStatisticsNormalization

        self.model = unwrap(model)
        self.batch_size, self.precision, self.options = batch_size, precision, options
        self.memory_budget = memory_budget
        spec = spec_of(self.model)
        convention = options.get("preprocess")
        if convention is None and spec is not None:
            convention = input_convention(self.model)
        per_image = any(options.get(key) for key in ("tile_size", "tta", "mc_samples",
                                                     "return_probabilities"))
        # batch statistics make an image's result depend on its batch: one at a time
        own_statistics = any(isinstance(layer, BatchStatisticsNormalization)
                             for layer in self.model._flatten_layers())
        self.batched = (spec is not None and spec.pipeline == "whole" and not per_image
                        and isinstance(convention, InputConvention) and not own_statistics)
        self.convention = convention
        self.palette = label_palette(self.model)
        self.group, self.limits = [], {}

    def add(self, item, image):
        """Take one image; returns the ((path, out), labels or the error) that are ready."""
        if not self.batched or self._limit(image.shape[:2]) == 0:
            ready = self.flush()
            try:
                ready.append((item, self._predict(image)))
            except ValueError as error:  # InputError too: this image cannot be predicted
                ready.append((item, error))
            return ready
        ready = []
        if self.group and (self.group[0][1].shape != image.shape
                           or len(self.group) >= self._limit(image.shape[:2])):
            ready = self.flush()
        self.group.append((item, image))
        return ready

    def flush(self):
        """Run the images held back; returns their ((path, out), labels)."""
        if not self.group:
            return []
        from keras_seg.inference.forward import compiled_forward

        items, images = zip(*self.group)
        self.group = []
        forward = compiled_forward(self.model, input_shape=(None, None, None, 3),
                                   input_dtype="uint8", preprocess=self.convention,
                                   activation="argmax", precision=self.precision)
        labels = np.asarray(forward(np.stack(images)))
        return list(zip(items, labels))

    def _limit(self, size):
        """Images of this size per whole-frame forward within the memory budget (0: tile)."""
        if size not in self.limits:
            from keras_seg.inference.memory import DEFAULT_BUDGET, forward_bytes

            need = forward_bytes(self.model, *size)
            budget = self.memory_budget or DEFAULT_BUDGET
            self.limits[size] = min(self.batch_size, budget // need) if need <= budget else 0
        return self.limits[size]

    def _predict(self, image):
        from keras_seg.inference.predict import predict

        return predict(self.model, image, batch_size=self.batch_size, precision=self.precision,
                       memory_budget=self.memory_budget, **self.options)


def _write(out, labels, palette):
    """Write a label PNG under a temporary name, then rename it: no half-written outputs."""
    from keras_seg.images import write_labels

    with atomic_path(out) as partial:
        write_labels(partial, labels, palette)
