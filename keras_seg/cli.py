"""The ``keras-seg`` command: parses arguments, calls the library, prints one line on error."""

import argparse
import itertools
import os
import sys
import warnings
from pathlib import Path


def main(argv=None):
    """Run the command line; returns the exit status.

    Exit status: 0 done, 2 refused before any work (usage, missing weights, unreadable
    input, an output that cannot be written), 1 failed during the work.

    Example:
        >>> main(["models"])  # doctest: +SKIP
    """
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    if not args.verbose:
        _quiet_tensorflow()
    from keras_seg.errors import InputError, ParameterMessage

    with warnings.catch_warnings():
        warnings.showwarning = _note
        try:
            return args.run(args) or 0
        except BrokenPipeError:  # `keras-seg weights list | head`
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        except (ValueError, OSError) as error:  # ConversionError and InputError are ValueErrors
            if args.verbose:
                import traceback

                traceback.print_exc()
            message = _one_line(error.render(_flag_names(args.command))
                                if isinstance(error, ParameterMessage) else str(error))
            print(f"keras-seg {args.command}: error: {message}", file=sys.stderr)
            return 2 if isinstance(error, InputError) else 1


def _one_line(message):
    r"""A multi-line message as one line: "a:\n  b\n  c" -> "a: b; c"."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    text = lines[0] if lines else ""
    for previous, line in itertools.pairwise(lines):
        text += (" " if previous.endswith(":") else "; ") + line
    return text


def _note(message, category, filename, lineno, file=None, line=None):
    from keras_seg.errors import ParameterMessage

    if isinstance(message, ParameterMessage):  # only training's notes name parameters
        message = message.render(_flag_names("train"))
    print(f"keras-seg: note: {message}", file=sys.stderr)


def _flag_names(command):
    """The flags of the library parameters that ``command``'s messages name."""
    if command != "train":
        return {}
    from keras_seg.training.config import TrainConfig

    return TrainConfig.flag_names()


def _quiet_tensorflow():
    """Import TensorFlow with its start-up lines (CUDA probing, oneDNN notice) discarded.

    TensorFlow writes them to the process's stderr before its logging is set up, so
    ``TF_CPP_MIN_LOG_LEVEL`` cannot hide them; ``--verbose`` keeps them.
    """
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    try:
        import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def _parser():
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--verbose", action="store_true",
                        help="keep TensorFlow's start-up and device messages")
    parser = argparse.ArgumentParser(
        prog="keras-seg", description="Classic segmentation networks for Keras 3.",
        parents=[common])
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name, run, help_text):
        sub = commands.add_parser(name, help=help_text, description=help_text, parents=[common])
        sub.set_defaults(run=run)
        return sub

    def model_arguments(sub, weights_help):
        sub.add_argument("model", help="registered model name (see `keras-seg models`), or a "
                                       "saved .keras model such as a training checkpoint")
        sub.add_argument("--weights", help=weights_help)
        sub.add_argument("--num-classes", type=int, help="classes of the weights")
        sub.add_argument("--model-arg", action="append", default=[], metavar="KEY=VALUE",
                         help="builder argument, a Python literal (e.g. "
                              "widths=(8,16,32,32,32,64) or context=False)")

    weights_help = ("weights: a published record (see `keras-seg weights list`) or a file "
                    "(.weights.h5, .keras, .caffemodel); default: the model's published "
                    "weights, converted in the Keras cache")

    command("models", _models, "list the registered models")

    convert = command("convert", _convert,
                      "convert an original weights file (.caffemodel) to a .weights.h5 file")
    convert.add_argument("model", help="registered model name (see `keras-seg models`)")
    convert.add_argument("weights", help="the original weights file")
    convert.add_argument("--out", required=True, help="output file, ending in .weights.h5")
    convert.add_argument("--prototxt", help="original network definition to check against")
    convert.add_argument("--num-classes", type=int, help="classes of the file's score layers")
    convert.add_argument("--model-arg", action="append", default=[], metavar="KEY=VALUE",
                         help="builder argument, a Python literal")
    convert.add_argument("--no-strict", action="store_true",
                         help="load the matching part of a file that differs from the model")

    predict = command("predict", _predict, "segment an image, or a folder or list of images, "
                                           "write colour label images")
    model_arguments(predict, weights_help)
    predict.add_argument("image", help="input image (any format Pillow reads); or, with "
                                       "--out-dir, a folder of images or a list file (.txt, "
                                       "one image path per line)")
    predict.add_argument("--random-weights", action="store_true",
                         help="run an untrained network (random weights) on purpose")
    predict.add_argument("--out", help="label image (palette PNG); default <image>_labels.png")
    predict.add_argument("--out-dir", metavar="OUT",
                         help="batch mode: write OUT/<image name>.png for every image of the "
                              "folder or list, skipping those written already (resumable); "
                              "exit status 1 if an image could not be read")
    predict.add_argument("--overlay", help="also write the labels blended over the image")
    predict.add_argument("--probabilities",
                         help="also write the class probabilities (H, W, C) as .npy")
    predict.add_argument("--batch-size", type=int, default=1,
                         help="tiles per forward pass; in batch mode also same-size images "
                              "per forward of whole-frame models")
    predict.add_argument("--tile-size", type=int, nargs="+", metavar="N",
                         help="blended tiling with this input tile (one size, or height width)")
    predict.add_argument("--overlap", type=float, default=0.25, help="tile overlap in [0, 1)")
    predict.add_argument("--blend", default="gaussian", choices=["gaussian", "cosine", "constant"])
    predict.add_argument("--tta", choices=["flips", "dihedral"], help="test-time augmentation")
    predict.add_argument("--memory-budget", type=float, default=4.0, metavar="GB",
                         help="whole-frame forwards needing more are tiled (default 4 GB)")
    predict.add_argument("--mc-samples", type=int, metavar="N",
                         help="Monte Carlo dropout samples (Bayesian SegNet)")
    predict.add_argument("--uncertainty", metavar="PATH",
                         help="with --mc-samples: write the (H, W) uncertainty, as a .png "
                              "image scaled to its maximum, or as values in a .npy")
    predict.add_argument("--precision", default="float32", choices=["float32", "bfloat16"],
                         help="compute precision; bfloat16 is faster on CPUs with "
                              "AVX512-BF16/AMX and recent GPUs (default float32)")

    train = command("train", _train, "fine-tune a model on an image/mask folder")
    train.add_argument("model", help="registered model name")
    train.add_argument("data", help="folder with images/ and masks/ (same file stems)")
    train.add_argument("--val", help="validation folder with images/ and masks/")
    train.add_argument("--layout", default="folder", choices=LAYOUT_CHOICES)
    train.add_argument("--split", default="train", help="training split of the layout")
    train.add_argument("--val-split", default="val", help="validation split of the layout")
    train.add_argument("--num-classes", type=int, required=True,
                       help="classes of the new head (the ignore label excluded)")
    train.add_argument("--checkpoint-dir", required=True, help="checkpoints and logs")
    train.add_argument("--weights", help="weights to start from: a published record (e.g. "
                                         "fcn8s) or a file; the head is re-initialised when "
                                         "--num-classes differs")
    train.add_argument("--resume", action="store_true", help="continue the last checkpoint")
    train.add_argument("--overwrite", action="store_true",
                       help="start afresh in a checkpoint folder that holds another run")
    train.add_argument("--skip-bad-files", action="store_true",
                       help="leave out unreadable images and bad masks (counted) instead of "
                            "stopping at the first")
    train.add_argument("--allow-unmatched", action="store_true",
                       help="train although some images have no mask (or masks no image)")
    train.add_argument("--epochs", type=int, default=10, help="total epochs (default 10)")
    train.add_argument("--batch-size", type=int, default=8, help="crops per step (default 8)")
    train.add_argument("--crop-size", type=int, nargs="+", default=[320], metavar="N",
                       help="training crops, one size or height width (default 320)")
    train.add_argument("--scale", type=float, nargs=2, metavar=("MIN", "MAX"),
                       help="random rescaling range (default: 0.5 2 when fine-tuning from "
                            "--weights, none from random weights)")
    train.add_argument("--rotation", type=float, default=0.0, help="max rotation, degrees")
    train.add_argument("--elastic", type=float, nargs=2, metavar=("GRID", "SIGMA"),
                       help="U-Net elastic deformation (e.g. 3 10)")
    train.add_argument("--no-flip", action="store_true", help="no horizontal flips")
    train.add_argument("--adversarial", choices=["basic", "product", "scaling"],
                       help="train against an adversary (Luc et al. 2016) with this input")
    train.add_argument("--adv-weight", type=float,
                       help="lambda, the weight of the adversarial term (default 0.1)")
    train.add_argument("--adv-model",
                       choices=["stanford_background", "large_fov", "large_fov_light",
                                "small_fov", "small_fov_light"],
                       help="the adversary (default large_fov_light)")
    train.add_argument("--adversary-steps", type=int,
                       help="adversary updates per segmenter update (default 1)")
    train.add_argument("--unet-weights", type=float, nargs=2, metavar=("W0", "SIGMA"),
                       help="weight the loss by U-Net's map from DATA/instances/ (instance "
                            "masks with the masks' names); the paper: 10 5")
    train.add_argument("--optimizer", choices=["sgd", "adam", "adamw", "rmsprop"],
                       help="default: the family's paper's from published --weights, adam "
                            "from random ones")
    train.add_argument("--schedule", choices=["poly", "cosine", "constant"],
                       help="learning-rate schedule (default: the family's when fine-tuning "
                            "from --weights, constant from random weights)")
    train.add_argument("--lr", type=float, help="peak learning rate (default: the recipe's)")
    train.add_argument("--warmup-epochs", type=float, help="linear warm-up (default 0)")
    train.add_argument("--cooldown", type=float, metavar="FRACTION",
                       help="fall linearly to zero over this last fraction of the run "
                            "(default 0.2 from random weights, 0 when fine-tuning)")
    train.add_argument("--weight-decay", type=float, help="decoupled weight decay, not on "
                                                          "biases and norms (default 0)")
    train.add_argument("--momentum", type=float, help="SGD momentum (default 0.9)")
    train.add_argument("--steps-per-epoch", type=int,
                       help="default: one pass over the training images")
    train.add_argument("--freeze-until", metavar="LAYER", help="freeze the trunk up to LAYER")
    train.add_argument("--class-weights", choices=["median"], help="median-frequency weights")
    train.add_argument("--ignore-label", type=int, default=255,
                       help="mask value left out of loss and scores (default 255)")
    train.add_argument("--seed", type=int, default=0,
                       help="seed of the initial weights, shuffling and augmentation")
    train.add_argument("--mixed-precision", action="store_true",
                       help="train with float16 compute (the loss in float32)")
    train.add_argument("--strategy", choices=["mirrored", "multiworker"],
                       help="several devices (mirrored) or machines (TF_CONFIG)")
    train.add_argument("--model-arg", action="append", default=[], metavar="KEY=VALUE",
                       help="builder argument, a Python literal (e.g. widths=(8,16,32,32,32,64))")

    verify = command("verify-data", _verify, "check a dataset before training")
    verify.add_argument("data", help="dataset root")
    verify.add_argument("--layout", default="folder", choices=LAYOUT_CHOICES)
    verify.add_argument("--split", default="train")
    verify.add_argument("--num-classes", type=int, help="report labels outside 0..N-1")
    verify.add_argument("--ignore-label", type=int, default=255)

    evaluate = command("evaluate", _evaluate, "score a model on a dataset")
    model_arguments(evaluate, weights_help)
    evaluate.add_argument("data", help="folder with images/ and masks/, or a layout's root")
    evaluate.add_argument("--layout", default="folder", choices=LAYOUT_CHOICES)
    evaluate.add_argument("--split", default="val", help="split of the layout")
    evaluate.add_argument("--ignore-label", type=int, default=255)
    evaluate.add_argument("--tile-size", type=int, help="blended tiling with this tile size")
    evaluate.add_argument("--json", help="write the scores as JSON here")
    evaluate.add_argument("--plot", metavar="PNG",
                          help="draw the confusion matrix and per-class IoU here")
    evaluate.add_argument("--allow-unmatched", action="store_true",
                          help="score although some images have no mask (or masks no image)")

    export = command("export", _export, "save a model with weights for serving")
    model_arguments(export, weights_help + "; --random-weights for none")
    export.add_argument("--random-weights", action="store_true",
                        help="export the untrained network")
    export.add_argument("--out", required=True,
                        help="a .keras, .onnx or .tflite file, or a folder for a TF SavedModel")
    export.add_argument("--format", metavar="FORMAT",
                        help="keras, savedmodel, tflite or onnx; default: from --out (.keras, "
                             ".onnx, .tflite, else a SavedModel folder)")
    export.add_argument("--with-preprocessing", action="store_true",
                        help="put the model's input convention inside the graph, which then "
                             "takes uint8 RGB images (N, H, W, 3); default: the model's input "
                             "blob, with the convention written beside the export as JSON")

    weights = command("weights", _weights, "list, or fetch and convert, published weights")
    weights_commands = weights.add_subparsers(dest="action", metavar="ACTION", required=True)
    weights_commands.add_parser("list", help="the published weights and where they come from")
    fetch = weights_commands.add_parser(
        "fetch", help="download (or take --from a file), verify and convert into the cache")
    fetch.add_argument("name", help="a weights record, or a model meaning its default record")
    origin = fetch.add_mutually_exclusive_group()
    origin.add_argument("--from", dest="source", metavar="FILE",
                        help="a copy of the published file, downloaded by other means")
    origin.add_argument("--url", help="another origin for the same file (mirror, file://)")

    demo = command("demo", _demo, "train, evaluate and segment offline on generated images")
    demo.add_argument("--out", default="build/demo", help="output folder")
    demo.add_argument("--epochs", type=int, help="training epochs (default 6)")
    return parser


LAYOUT_CHOICES = ["folder", "voc", "camvid", "cityscapes"]


def _models(args):
    from keras_seg.hub import is_converted
    from keras_seg.registry import get_spec, list_models

    for name in list_models():
        spec = get_spec(name)
        record = spec.default_weights
        state = ("converted" if is_converted(record) else "not fetched") if record else "none"
        print(f"{name:24s} {spec.num_classes:4d} classes  weights: {state:11s}  {spec.paper}")


def _model(args):
    """The model a command works on: a .keras file, or a registered name with its weights."""
    from keras_seg.errors import ConversionError, InputError
    from keras_seg.hub import build, is_converted, missing_weights_message
    from keras_seg.registry import get_spec

    if _is_model_file(args.model):
        return _load_model_file(args.model)
    overrides = _model_args(args.model_arg)
    if args.num_classes is not None:
        overrides["num_classes"] = args.num_classes
    weights = args.weights
    spec = get_spec(args.model)
    random_option = hasattr(args, "random_weights")
    if weights is None and not getattr(args, "random_weights", False):
        if not (spec.default_weights and is_converted(spec.default_weights)):
            raise InputError(missing_weights_message(args.model, random_option))
        weights = spec.default_weights
    if weights and getattr(args, "random_weights", False):
        raise InputError("--weights and --random-weights exclude each other")
    if weights and not os.path.exists(weights):
        _check_weights_exist(weights, random_option)  # the command line never downloads
    try:
        return build(args.model, weights=weights, **overrides)
    except ConversionError as error:
        if str(weights).endswith(".keras"):
            raise ConversionError(f"{error}; a whole .keras model (e.g. a training checkpoint)"
                                  f" can be given as the model itself: keras-seg "
                                  f"{args.command} {weights} ...") from None
        raise


def _is_model_file(model):
    """Whether MODEL names a file (a saved .keras model) rather than a registered name."""
    from keras_seg.errors import InputError

    if model.endswith(".keras") or os.sep in model:
        if not os.path.isfile(model):
            raise InputError(f"{model}: no such file (a saved .keras model, or a name from "
                             "`keras-seg models`)")
        if not model.endswith(".keras"):
            raise InputError(f"{model}: a model file must be a saved .keras model")
        return True
    return False


def _load_model_file(path):
    import zipfile

    import keras

    import keras_seg  # noqa: F401  (registers the classes the file names)
    from keras_seg.errors import InputError

    if not zipfile.is_zipfile(path):
        raise InputError(f"{path}: not a valid .keras file (not a zip archive)")
    try:
        model = keras.saving.load_model(path, compile=False)
    except (ValueError, OSError, KeyError, TypeError) as error:
        reason = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
        raise InputError(f"{path}: not a valid .keras model ({reason})") from None
    return getattr(model, "segmenter", model)  # an adversarial checkpoint: its segmenter


def _check_weights_exist(weights, random_option=True):
    from keras_seg.convert.readers import READERS
    from keras_seg.errors import InputError
    from keras_seg.hub import is_converted, missing_weights_message
    from keras_seg.registry import get_weights_record

    if weights.lower().endswith(tuple(READERS)) or os.sep in weights:
        raise InputError(f"{weights}: no such weights file")
    record = get_weights_record(weights)
    if not is_converted(record.name):
        raise InputError(missing_weights_message(record.model, random_option))


def _check_writable(*paths):
    """Refuse, before any work, outputs whose folder is missing or not writable."""
    from keras_seg.errors import InputError

    for path in filter(None, paths):
        folder = Path(path).parent
        if Path(path).is_dir():
            raise InputError(f"{path}: is a folder, expected a file name")
        if not folder.is_dir():
            raise InputError(f"{path}: cannot write there ({folder} does not exist)")
        if not os.access(folder, os.W_OK):
            raise InputError(f"{path}: cannot write there ({folder} is not writable)")


def _convert(args):
    from keras_seg.convert import load_weights
    from keras_seg.errors import InputError
    from keras_seg.registry import build_model

    if not args.out.endswith(".weights.h5"):
        raise InputError(f"--out must end in .weights.h5, got {args.out!r}")
    if not os.path.isfile(args.weights):
        raise InputError(f"{args.weights}: no such file")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    _check_writable(args.out)
    overrides = _model_args(args.model_arg)
    if args.num_classes:
        overrides["num_classes"] = args.num_classes
    model = build_model(args.model, **overrides)
    report = load_weights(model, args.weights, prototxt=args.prototxt,
                          strict=not args.no_strict)
    partial = f"{args.out}.partial.weights.h5"
    model.save_weights(partial)
    os.replace(partial, args.out)  # never leave a half-written file under the final name
    print(report)
    print(f"wrote {args.out}")


def _predict(args):
    import numpy as np

    from keras_seg.errors import InputError
    from keras_seg.inference.images import overlay, read_image, with_legend, write_labels
    from keras_seg.inference.predict import predict
    from keras_seg.registry import class_names, get_spec, label_palette

    if not _is_model_file(args.model):
        get_spec(args.model)  # an unknown name is refused first
    _check_tiling(args)
    if args.out_dir is not None or _is_batch_source(args.image):
        return _predict_batch(args)
    out = args.out or str(Path(args.image).with_suffix("")) + "_labels.png"
    if Path(out).suffix.lower() != ".png":
        raise InputError(f"--out {out}: label images are palette PNGs; name it .png")
    _check_writable(out, args.overlay, args.probabilities, args.uncertainty)
    if args.uncertainty and not args.mc_samples:
        raise InputError("--uncertainty needs --mc-samples N")
    if args.uncertainty and Path(args.uncertainty).suffix.lower() not in (".png", ".npy"):
        raise InputError(f"--uncertainty {args.uncertainty}: name it .png or .npy")
    if args.mc_samples is not None and args.mc_samples < 1:
        raise InputError(f"--mc-samples must be at least 1, got {args.mc_samples}")
    if args.uncertainty and args.mc_samples < 2:
        raise InputError("--uncertainty needs --mc-samples of at least 2 (one sample has no "
                         "spread)")
    image = read_image(args.image)
    model = _model(args)
    tile = tuple(args.tile_size) if args.tile_size else None
    labels, probabilities, *uncertainty = predict(
        model, image, progress=True, return_probabilities=True,
        batch_size=args.batch_size, tile_size=tile[0] if tile and len(tile) == 1 else tile,
        overlap=args.overlap, blend=args.blend, tta=args.tta,
        memory_budget=int(args.memory_budget * 2**30), mc_samples=args.mc_samples,
        return_uncertainty=bool(args.uncertainty), precision=args.precision)
    palette = label_palette(model)
    outputs = [(out, lambda path: write_labels(path, labels, palette))]
    if args.overlay:
        names = class_names(model)
        outputs.append((args.overlay, lambda path: _save_image(path, with_legend(
            overlay(image, labels, palette), labels, palette, names))))
    if args.probabilities:
        outputs.append((args.probabilities, lambda path: _save_npy(path, probabilities)))
    if args.uncertainty:
        as_npy = args.uncertainty.lower().endswith(".npy")
        outputs.append((args.uncertainty,
                        lambda path: _save_uncertainty(path, uncertainty[0], as_npy)))
    _write_all(outputs)
    print(f"{image.shape[1]}x{image.shape[0]} image, classes found: "
          f"{sorted(set(np.unique(labels).tolist()))}; wrote {', '.join(p for p, _ in outputs)}")


def _is_batch_source(path):
    """Whether the image argument is a folder or a list file (batch mode)."""
    from keras_seg.inference.batch import LIST_SUFFIXES

    return Path(path).is_dir() or Path(path).suffix.lower() in LIST_SUFFIXES


def _predict_batch(args):
    """``predict MODEL DIR_OR_LIST --out-dir OUT``: every image, resumable, a summary line."""
    from keras_seg.errors import InputError
    from keras_seg.inference.batch import LIST_SUFFIXES, list_images, output_paths, predict_files

    source = Path(args.image)
    if args.out_dir is None:
        kind = "a folder" if source.is_dir() else "a list of images"
        raise InputError(f"{source} is {kind}: name the output folder with --out-dir OUT")
    single = [flag for flag, value in (("--out", args.out), ("--overlay", args.overlay),
                                       ("--probabilities", args.probabilities),
                                       ("--uncertainty", args.uncertainty)) if value]
    if single:
        raise InputError(f"{', '.join(single)}: one file per run; with --out-dir only the "
                         "label images are written, as OUT/<image name>.png")
    if args.mc_samples is not None and args.mc_samples < 1:
        raise InputError(f"--mc-samples must be at least 1, got {args.mc_samples}")
    if source.is_file() and source.suffix.lower() not in LIST_SUFFIXES:
        paths = [source]  # one image into --out-dir
    else:
        paths = list_images(source)
    out_dir = Path(args.out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"--out-dir {out_dir}: is a file, expected a folder")
    if source.is_dir() and out_dir.resolve() == source.resolve():
        raise InputError(f"--out-dir {out_dir}: the output folder must not be the input folder")
    output_paths(paths, out_dir)  # two images with one name are refused before any work
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(f"--out-dir {out_dir}: cannot create it ({error.strerror})") from None
    if not os.access(out_dir, os.W_OK):
        raise InputError(f"--out-dir {out_dir}: cannot write there (not writable)")
    model = _model(args)
    tile = tuple(args.tile_size) if args.tile_size else None

    def skipped(path, reason):
        print(f"keras-seg predict: warning: {reason}; skipped", file=sys.stderr, flush=True)

    report = predict_files(
        model, paths, out_dir, batch_size=args.batch_size, precision=args.precision,
        progress=True, memory_budget=int(args.memory_budget * 2**30), on_error=skipped,
        tile_size=tile[0] if tile and len(tile) == 1 else tile, overlap=args.overlap,
        blend=args.blend, tta=args.tta, mc_samples=args.mc_samples)
    print(f"{out_dir}: {report.summary()}")
    return 1 if report.failed else 0


def _check_tiling(args):
    from keras_seg.errors import InputError

    tile = getattr(args, "tile_size", None)
    tile = [tile] if isinstance(tile, int) else tile
    if tile is not None and (len(tile) > 2 or min(tile) < 1):
        raise InputError(f"--tile-size takes one or two positive sizes, got "
                         f"{' '.join(map(str, tile))}")
    overlap = getattr(args, "overlap", 0.0)
    if not 0 <= overlap < 1:
        raise InputError(f"--overlap must be in [0, 1), got {overlap}")
    if getattr(args, "batch_size", 1) < 1:
        raise InputError(f"--batch-size must be at least 1, got {args.batch_size}")


def _save_image(path, array):
    from PIL import Image

    Image.fromarray(array).save(path, format=Image.registered_extensions().get(
        Path(path).suffix.lower(), "PNG"))


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


def _write_all(outputs):
    """Write every output under a temporary name, then rename them all: none or all appear."""
    partials = [(str(Path(path).with_name(f".{Path(path).name}.partial")), path, write)
                for path, write in outputs]
    try:
        for partial, _, write in partials:
            write(partial)
    except BaseException:
        for partial, _, _ in partials:
            Path(partial).unlink(missing_ok=True)
        raise
    for partial, path, _ in partials:
        os.replace(partial, path)


def _model_args(items):
    import ast

    from keras_seg.errors import InputError

    parsed = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise InputError(f"--model-arg needs KEY=VALUE, got {item!r}")
        try:
            parsed[key.strip()] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            raise InputError(f"--model-arg {key}: {value!r} is not a Python literal (quote "
                             f"strings: \"{key.strip()}='{value}'\")") from None
    return parsed


def _train(args):
    from keras_seg.errors import InputError
    from keras_seg.training.data import Augment
    from keras_seg.training.train import train

    crop = args.crop_size * 2 if len(args.crop_size) == 1 else args.crop_size
    elastic = (int(args.elastic[0]), args.elastic[1]) if args.elastic else None
    augment = Augment(tuple(crop[:2]), tuple(args.scale) if args.scale else None,
                      not args.no_flip, args.rotation, elastic=elastic)
    adversarial_flags = [flag for flag, value in (("--adv-weight", args.adv_weight),
                                                  ("--adv-model", args.adv_model),
                                                  ("--adversary-steps", args.adversary_steps))
                         if value is not None]
    if adversarial_flags and not args.adversarial:
        raise InputError(f"{', '.join(adversarial_flags)} need --adversarial "
                         "basic|product|scaling")
    for flag, value, low in (("--num-classes", args.num_classes, 1), ("--epochs", args.epochs, 1),
                             ("--batch-size", args.batch_size, 1),
                             ("--adversary-steps", args.adversary_steps or 1, 1),
                             ("--steps-per-epoch", args.steps_per_epoch or 1, 1)):
        if value < low:
            raise InputError(f"{flag} must be at least {low}, got {value}")
    if min(args.crop_size) < 1 or len(args.crop_size) > 2:
        raise InputError(f"--crop-size takes one or two positive sizes, got "
                         f"{' '.join(map(str, args.crop_size))}")
    if args.adv_weight is not None and args.adv_weight < 0:
        raise InputError(f"--adv-weight cannot be negative, got {args.adv_weight}")
    if args.scale and (args.scale[0] <= 0 or args.scale[1] < args.scale[0]):
        raise InputError(f"--scale needs 0 < MIN <= MAX, got {args.scale[0]} {args.scale[1]}")
    if args.weights and not os.path.exists(args.weights):
        _check_weights_exist(args.weights, random_option=False)
    train(
        args.model, args.data, val_dir=args.val, num_classes=args.num_classes,
        checkpoint_dir=args.checkpoint_dir, weights=args.weights, resume=args.resume,
        epochs=args.epochs, batch_size=args.batch_size, crop_size=tuple(crop[:2]),
        learning_rate=args.lr, momentum=args.momentum, optimizer=args.optimizer,
        schedule=args.schedule, warmup_epochs=args.warmup_epochs, cooldown=args.cooldown,
        weight_decay=args.weight_decay, steps_per_epoch=args.steps_per_epoch,
        freeze_until=args.freeze_until, class_weights=args.class_weights,
        ignore_label=args.ignore_label, seed=args.seed, mixed_precision=args.mixed_precision,
        strategy=args.strategy, model_args=_model_args(args.model_arg), layout=args.layout,
        split=args.split, val_split=args.val_split, augment=augment,
        skip_bad_files=args.skip_bad_files, allow_unmatched=args.allow_unmatched,
        overwrite=args.overwrite, verbose=1 if sys.stdout.isatty() else 2,
        unet_weights=tuple(args.unet_weights) if args.unet_weights else None,
        adversarial=args.adversarial, adv_weight=args.adv_weight, adv_model=args.adv_model,
        adversary_steps=args.adversary_steps)
    print(f"trained to epoch {args.epochs}; checkpoints in {args.checkpoint_dir}")


def _verify(args):
    from keras_seg.training.data import verify_folder
    from keras_seg.training.layouts import dataset_pairs

    pairs, mapping, unmatched = dataset_pairs(args.data, args.layout, args.split)
    report = verify_folder(pairs, args.num_classes, args.ignore_label, mapping, unmatched)
    print(f"{report['pairs']} image/mask pairs, {len(report['unmatched'])} unmatched files, "
          f"{len(report['problems'])} problems")
    for path in report["unmatched"]:
        print(f"  unmatched: {path}")
    for problem in report["problems"]:
        print(f"  {problem}")
    total = sum(report["histogram"].values()) or 1
    print("label histogram (pixels, share):")
    for label, count in report["histogram"].items():
        print(f"  {label:5d} {count:12d} {count / total:7.2%}")
    return 0 if report["ok"] else 1


def _evaluate(args):
    import json

    from keras_seg.errors import InputError
    from keras_seg.training.evaluate import evaluate_folder, format_table
    from keras_seg.training.layouts import dataset_pairs

    _check_writable(args.json, args.plot)
    _check_tiling(args)
    _, _, unmatched = dataset_pairs(args.data, args.layout, args.split)  # before building
    if unmatched and not args.allow_unmatched:
        shown = ", ".join(unmatched[:3]) + (" ..." if len(unmatched) > 3 else "")
        raise InputError(f"{len(unmatched)} file(s) without a partner image or mask: {shown};"
                         " pass --allow-unmatched to score the matched pairs only")
    result = evaluate_folder(_model(args), args.data, num_classes=args.num_classes,
                             ignore_label=args.ignore_label, tile_size=args.tile_size,
                             layout=args.layout, split=args.split)
    print(format_table(result))
    if args.plot:
        from keras_seg.plots import plot_scores

        print(f"wrote {plot_scores(result, args.plot, title=Path(args.data).name)}")
    if args.json:
        _write_all([(args.json, lambda path: Path(path).write_text(json.dumps(result,
                                                                              indent=1)))])


def _export(args):
    from keras_seg.errors import InputError
    from keras_seg.export import check_dependencies, export_model

    format = _export_format(args.out, args.format)
    if args.with_preprocessing and format == "keras":
        raise InputError("--with-preprocessing needs --format savedmodel, tflite or onnx (a "
                         ".keras file keeps the input convention in its metadata)")
    if format == "savedmodel":
        _check_export_folder(args.out)
    else:
        _check_writable(args.out)
    try:
        check_dependencies(format)
    except (ImportError, ValueError) as error:
        raise InputError(str(error)) from None
    model = _model(args)
    written = export_model(model, args.out, format, with_preprocessing=args.with_preprocessing)
    print(f"wrote {', '.join(str(path) for path in written)}")


def _export_format(out, format):
    """The export format: ``--format``, else from the suffix of ``--out``; refuse a clash."""
    from keras_seg.errors import InputError
    from keras_seg.export import FORMATS, SUFFIXES, format_for_path

    if format is None:
        return format_for_path(out)
    if format not in FORMATS:
        raise InputError(f"--format must be one of {', '.join(FORMATS)}, got {format!r}")
    implied = SUFFIXES.get(Path(out).suffix.lower())
    if implied is not None and implied != format:
        raise InputError(f"--out {out} names a {implied} file but --format is {format}")
    if format == "keras" and implied != "keras":
        raise InputError(f"--format keras needs --out ending in .keras, got {out!r}")
    return format


def _check_export_folder(path):
    """Refuse, before any work, a SavedModel folder that is a file or cannot be created."""
    from keras_seg.errors import InputError

    if Path(path).is_file():
        raise InputError(f"{path}: is a file, expected a folder for the SavedModel")
    if not Path(path).exists():
        _check_writable(path)
    elif not os.access(path, os.W_OK):
        raise InputError(f"{path}: cannot write there (not writable)")


def _weights(args):
    from keras_seg import hub
    from keras_seg.registry import get_weights_record, list_weights

    if args.action == "list":
        print(f"weights cache: {hub.cache_dir()}")
        for record in list_weights().values():
            state = "converted" if hub.is_converted(record.name) else "not fetched"
            print(f"{record.name:24s} {record.format:10s} {state:11s} {record.url}\n"
                  f"{'':24s} license: {record.license}")
        return
    record = get_weights_record(args.name)
    if "non-commercial" in record.license.lower() or "by-nc" in record.license.lower():
        print(f"note: {record.name} is licensed {record.license}", file=sys.stderr)
    out = hub.fetch(args.name, url=args.url, source=args.source)
    print(f"wrote {out}")


def _demo(args):
    from keras_seg.demo import run_demo

    run_demo(args.out, epochs=args.epochs)


if __name__ == "__main__":
    sys.exit(main())
