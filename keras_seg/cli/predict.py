"""``keras-seg predict``: segment an image, or a folder or list of images.

Example:
    >>> main(["predict", "fcn8s", "street.jpg", "--overlay", "o.png"])  # doctest: +SKIP
"""

import contextlib
import inspect
import os
import sys
from pathlib import Path

from keras_seg.cli.checks import (
    check_at_least,
    check_image_output,
    check_input_file,
    check_tiling,
    check_writable,
)
from keras_seg.cli.loading import add_model_arguments, check_model_flags, load_model
from keras_seg.errors import InputError
from keras_seg.inference.batch import LIST_SUFFIXES
from keras_seg.inference.forward import PRECISIONS
from keras_seg.inference.locations import is_uri, label_locations, list_image_locations
from keras_seg.inference.memory import DEFAULT_BUDGET
from keras_seg.inference.predict import predict
from keras_seg.inference.ray_predict import OVERLAYS, PROBABILITIES
from keras_seg.inference.tiling import BLENDS, TTA_MODES
from keras_seg.training.config import parse_model_args

NAME = "predict"
HELP = "segment an image, or a folder or list of images, write colour label images"


def add_arguments(sub):
    """MODEL IMAGE and the prediction options; defaults and choices are the library's."""
    defaults = {name: parameter.default for name, parameter
                in inspect.signature(predict).parameters.items()}
    add_model_arguments(sub)
    sub.add_argument("image", help="input image (any format Pillow reads); or, with "
                                   "--out-dir, a folder of images or a list file (.txt, "
                                   "one image path per line)")
    sub.add_argument("--random-weights", action="store_true",
                     help="run an untrained network (random weights) on purpose")
    sub.add_argument("--out", help="label image (palette PNG); default <image>_labels.png")
    sub.add_argument("--out-dir", metavar="OUT",
                     help="batch mode: write OUT/<image name>.png for every image of the "
                          "folder or list, skipping those written already (resumable); "
                          "exit status 1 if an image could not be read")
    sub.add_argument("--overlay", help="also write the labels blended over the image (any "
                                       "image format Pillow writes: .png, .jpg...)")
    sub.add_argument("--probabilities",
                     help="also write the class probabilities (H, W, C) as .npy")
    sub.add_argument("--batch-size", type=int, default=defaults["batch_size"],
                     help="tiles per forward pass; in batch mode also same-size images "
                          "per forward of whole-frame models")
    sub.add_argument("--tile-size", type=int, nargs="+", metavar="N",
                     help="blended tiling with this input tile (one size, or height width; "
                          "shrunk to the image where it is larger)")
    sub.add_argument("--overlap", type=float, default=defaults["overlap"],
                     help=f"tile overlap in [0, 1) (default {defaults['overlap']})")
    sub.add_argument("--blend", default=defaults["blend"], choices=BLENDS)
    sub.add_argument("--tta", choices=TTA_MODES, help="test-time augmentation")
    sub.add_argument("--memory-budget", type=float, default=DEFAULT_BUDGET / 2**30,
                     metavar="GB", help=f"whole-frame forwards needing more are tiled "
                                        f"(default {DEFAULT_BUDGET / 2**30:g} GB)")
    sub.add_argument("--mc-samples", type=int, metavar="N",
                     help="Monte Carlo dropout samples (Bayesian SegNet)")
    sub.add_argument("--uncertainty", metavar="PATH",
                     help="with --mc-samples: write the (H, W) uncertainty, as a .png "
                          "image scaled to its maximum, or as values in a .npy")
    sub.add_argument("--precision", default=defaults["precision"], choices=PRECISIONS,
                     help="compute precision; bfloat16 is faster on CPUs with "
                          f"AVX512-BF16/AMX and recent GPUs (default {defaults['precision']})")
    ray = sub.add_argument_group(
        "Ray", "batch mode on Ray Data (pip install \"keras-seg[ray]\"): one model per worker, "
               "images read and written by the workers, OUT/manifest.parquet at the end")
    ray.add_argument("--ray", dest="address", nargs="?", const="local", metavar="ADDRESS",
                     help="with --out-dir: predict on Ray workers; no ADDRESS starts a local "
                          "cluster, HOST:PORT, ray://HOST:PORT or auto connects to a running "
                          "one; IMAGE may then also be a URI (s3://, gs://, hdfs://...)")
    ray.add_argument("--num-cpus", type=int, metavar="N",
                     help="CPUs of the local cluster --ray starts (default: all)")
    ray.add_argument("--workers", type=int, metavar="N",
                     help="workers, each holding the model (default: the cluster's CPUs "
                          "divided by --cpus-per-worker)")
    ray.add_argument("--cpus-per-worker", type=int, metavar="N",
                     help="CPUs (TensorFlow threads) of each worker (default 1)")
    ray.add_argument("--also", nargs="+", default=[], choices=(OVERLAYS, PROBABILITIES),
                     help="also write OUT/overlays/<image name>.png and/or "
                          "OUT/probabilities/<image name>.npy")


def check(args):
    """Every refusal that needs no model: flags, the model name, the input, the outputs."""
    if args.address is None:
        _refuse_ray_flags(args)
    if args.address is None or not is_uri(args.model):
        check_model_flags(args)
    check_tiling(args.tile_size, args.overlap, args.batch_size)
    check_at_least("--mc-samples", args.mc_samples, 1)
    if args.memory_budget <= 0:
        raise InputError(f"--memory-budget must be positive, got {args.memory_budget}")
    if args.address is not None:
        _check_ray(args)
        return
    if args.out_dir is not None or _is_batch_source(args.image):
        _check_batch(args)
        return
    check_input_file(args.image)
    out = args.out or str(Path(args.image).with_suffix("")) + "_labels.png"
    if Path(out).suffix.lower() != ".png":
        raise InputError(f"--out {out}: label images are palette PNGs; name it .png")
    check_image_output("--overlay", args.overlay)
    check_image_output("--probabilities", args.probabilities, (".npy",))
    check_image_output("--uncertainty", args.uncertainty, (".png", ".npy"))
    check_writable(out, args.overlay, args.probabilities, args.uncertainty)
    if args.uncertainty and not args.mc_samples:
        raise InputError("--uncertainty needs --mc-samples N")
    if args.uncertainty and args.mc_samples < 2:
        raise InputError("--uncertainty needs --mc-samples of at least 2 (one sample has no "
                         "spread)")


def run(args):
    """Predict one image, or every image of a folder or list (on Ray workers with --ray)."""
    if args.address is not None:
        return _run_ray(args)
    if args.out_dir is not None or _is_batch_source(args.image):
        return _run_batch(args)
    return _run_one(args)


def _run_one(args):
    import numpy as np

    from keras_seg.images import overlay, read_image, with_legend, write_labels
    from keras_seg.registry import class_names, label_palette, spec_of

    out = args.out or str(Path(args.image).with_suffix("")) + "_labels.png"
    image = read_image(args.image)
    model = load_model(args)
    _check_tile_fits(args.tile_size, spec_of(model))
    result = predict(model, image, progress=True, return_probabilities=True,
                     return_uncertainty=bool(args.uncertainty), **_options(args))
    labels = result.labels
    palette = label_palette(model)
    outputs = [(out, lambda path: write_labels(path, labels, palette))]
    if args.overlay:
        names = class_names(model)
        outputs.append((args.overlay, lambda path: _save_image(path, with_legend(
            overlay(image, labels, palette), labels, palette, names))))
    if args.probabilities:
        outputs.append((args.probabilities, lambda path: _save_npy(path, result.probabilities)))
    if args.uncertainty:
        as_npy = args.uncertainty.lower().endswith(".npy")
        outputs.append((args.uncertainty,
                        lambda path: _save_uncertainty(path, result.uncertainty, as_npy)))
    write_all(outputs)
    print(f"{image.shape[1]}x{image.shape[0]} image, classes found: "
          f"{sorted(set(np.unique(labels).tolist()))}; wrote {', '.join(p for p, _ in outputs)}")


def _options(args):
    """The :func:`keras_seg.predict` options the flags set."""
    tile = tuple(args.tile_size) if args.tile_size else None
    return dict(batch_size=args.batch_size, overlap=args.overlap, blend=args.blend,
                tile_size=tile[0] if tile and len(tile) == 1 else tile, tta=args.tta,
                memory_budget=int(args.memory_budget * 2**30), mc_samples=args.mc_samples,
                precision=args.precision)


def _check_tile_fits(tile_size, spec):
    """Refuse a ``--tile-size`` below the smallest tile the model's geometry accepts."""
    from keras_seg.inference.predict import smallest_tile

    if tile_size and spec is not None and min(tile_size) < smallest_tile(spec):
        raise InputError(f"--tile-size {' '.join(map(str, tile_size))}: {spec.name} needs "
                         f"tiles of at least {smallest_tile(spec)} pixels")


def _is_batch_source(path):
    """Whether the image argument is a folder or a list file (batch mode)."""
    return Path(path).is_dir() or Path(path).suffix.lower() in LIST_SUFFIXES


def _check_batch(args):
    """``--out-dir`` mode's refusals: the source, the single-file flags, the folder."""
    from keras_seg.inference.batch import output_paths

    source = Path(args.image)
    if args.out_dir is None:
        kind = "a folder" if source.is_dir() else "a list of images"
        raise InputError(f"{source} is {kind}: name the output folder with --out-dir OUT")
    single = _single_file_flags(args)
    if single:
        raise InputError(f"{', '.join(single)}: one file per run; with --out-dir only the "
                         "label images are written, as OUT/<image name>.png")
    out_dir = Path(args.out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"--out-dir {out_dir}: is a file, expected a folder")
    if source.is_dir() and out_dir.resolve() == source.resolve():
        raise InputError(f"--out-dir {out_dir}: the output folder must not be the input folder")
    output_paths(_batch_paths(source), out_dir)  # two images with one name are refused


def _single_file_flags(args):
    """The flags given that name one output file (``--out``, ``--overlay``...)."""
    return [flag for flag, value in (("--out", args.out), ("--overlay", args.overlay),
                                     ("--probabilities", args.probabilities),
                                     ("--uncertainty", args.uncertainty)) if value]


def _batch_paths(source):
    from keras_seg.inference.batch import list_images

    if source.is_file() and source.suffix.lower() not in LIST_SUFFIXES:
        return [source]  # one image into --out-dir
    return list_images(source)


def _run_batch(args):
    """``predict MODEL DIR_OR_LIST --out-dir OUT``: every image, resumable, a summary line."""
    from keras_seg.inference.batch import predict_files
    from keras_seg.registry import spec_of

    paths, out_dir = _batch_paths(Path(args.image)), Path(args.out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(f"--out-dir {out_dir}: cannot create it ({error.strerror})") from None
    if not os.access(out_dir, os.W_OK):
        raise InputError(f"--out-dir {out_dir}: cannot write there (not writable)")
    model = load_model(args)
    _check_tile_fits(args.tile_size, spec_of(model))

    def skipped(path, reason):
        print(f"keras-seg predict: warning: {reason}; skipped", file=sys.stderr, flush=True)

    report = predict_files(model, paths, out_dir, progress=True, on_error=skipped,
                           **_options(args))
    print(f"{out_dir}: {report.summary()}")
    return 1 if report.failed else 0


def _refuse_ray_flags(args):
    given = [flag for flag, value in (("--num-cpus", args.num_cpus), ("--workers", args.workers),
                                      ("--cpus-per-worker", args.cpus_per_worker),
                                      ("--also", args.also)) if value]
    if given:
        raise InputError(f"{', '.join(given)}: for the Ray batch mode; add --ray [ADDRESS]")


def _check_ray(args):
    """``--ray``'s refusals: the output folder, the flags of other modes, Ray, the address."""
    from keras_seg.inference.ray_predict import check_reachable, require_ray

    if args.out_dir is None:
        raise InputError("--ray writes OUT/<image name>.png for every image: name the output "
                         "folder with --out-dir OUT")
    single = _single_file_flags(args)
    if single:
        raise InputError(f"{', '.join(single)}: one file per run; with --ray, --also overlays "
                         "probabilities writes them for every image into OUT")
    if getattr(args, "random_weights", False):
        raise InputError("--random-weights: each Ray worker would draw weights of its own; save "
                         "one set (model.save_weights('w.weights.h5')) and pass --weights")
    for flag, value in (("--num-cpus", args.num_cpus), ("--workers", args.workers),
                        ("--cpus-per-worker", args.cpus_per_worker)):
        check_at_least(flag, value, 1)
    if args.num_cpus is not None and args.address != "local":
        raise InputError(f"--num-cpus: for the local cluster that --ray starts; the cluster at "
                         f"{args.address} has its own")
    require_ray()
    if args.address != "local":
        check_reachable(args.address)
    if not is_uri(args.image) and not is_uri(args.out_dir):
        out_dir = Path(args.out_dir)
        if out_dir.exists() and not out_dir.is_dir():
            raise InputError(f"--out-dir {out_dir}: is a file, expected a folder")
        if Path(args.image).is_dir() and out_dir.resolve() == Path(args.image).resolve():
            raise InputError(f"--out-dir {out_dir}: the output folder must not be the input "
                             "folder")
        label_locations(list_image_locations(args.image), args.out_dir)  # one name, one image


def _run_ray(args):
    """``predict MODEL SOURCE --out-dir OUT --ray [ADDRESS]``: the workers of a Ray cluster."""
    from keras_seg.inference.model_source import ModelSource
    from keras_seg.inference.ray_predict import predict_dataset

    builder_args = parse_model_args(args.model_args)
    if args.num_classes is not None:
        builder_args["num_classes"] = args.num_classes
    source = ModelSource(args.model, args.weights, builder_args)
    if source.kind() == "name":
        from keras_seg.registry import get_spec

        _check_tile_fits(args.tile_size, get_spec(args.model))

    def failed(path, reason):
        print(f"keras-seg predict: warning: {reason}; skipped", file=sys.stderr, flush=True)

    report = predict_dataset(source, args.image, args.out_dir,
                             address=None if args.address == "local" else args.address,
                             num_cpus=args.num_cpus, workers=args.workers,
                             cpus_per_worker=args.cpus_per_worker or 1,
                             overlays=OVERLAYS in args.also,
                             probabilities=PROBABILITIES in args.also, progress=True,
                             on_error=failed, **_options(args))
    print(f"{args.out_dir}: {report.summary()}; manifest {report.manifest}")
    return 1 if report.failed else 0


def _save_image(path, array):
    """Write an RGB picture in the format its suffix names (the partial file keeps it)."""
    from PIL import Image

    Image.fromarray(array).save(path)


def _save_uncertainty(path, uncertainty, as_npy):
    """The uncertainty map: values as .npy, or an 8-bit image scaled by its maximum."""
    import numpy as np
    from PIL import Image

    if as_npy:
        return _save_npy(path, uncertainty)
    scaled = uncertainty / max(float(uncertainty.max()), 1e-12) * 255
    Image.fromarray(np.round(scaled).astype(np.uint8), mode="L").save(path, format="PNG")


def _save_npy(path, array):
    import numpy as np

    with open(path, "wb") as f:
        np.save(f, array)


def write_all(outputs):
    """Write every output under a temporary name, then rename them all: none or all appear.

    Example:
        >>> write_all([("a.txt", lambda path: Path(path).write_text("a"))])  # doctest: +SKIP
    """
    from keras_seg.files import atomic_path

    with contextlib.ExitStack() as stack:  # on any failure every partial file is removed
        for path, write in outputs:
            write(str(stack.enter_context(atomic_path(path))))
