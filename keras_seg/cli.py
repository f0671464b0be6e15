"""The ``keras-seg`` command: parses arguments, calls the library, prints one line on error."""

import argparse
import os
import sys
from pathlib import Path


def main(argv=None):
    """Run the command line; returns the exit status.

    Example:
        >>> main(["models"])  # doctest: +SKIP
    """
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    from keras_seg.errors import InputError

    try:
        return args.run(args) or 0
    except (ValueError, OSError) as error:  # ConversionError and InputError are ValueErrors
        message = str(error).strip().replace("\n", "; ")
        print(f"keras-seg {args.command}: error: {message}", file=sys.stderr)
        return 2 if isinstance(error, InputError) else 1


def _parser():
    parser = argparse.ArgumentParser(
        prog="keras-seg", description="Classic segmentation networks for Keras 3."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    models = commands.add_parser("models", help="list the registered models")
    models.set_defaults(run=_models)

    convert = commands.add_parser(
        "convert", help="convert published weights (.caffemodel) to a .weights.h5 file"
    )
    convert.add_argument("model", help="registered model name (see `keras-seg models`)")
    convert.add_argument("weights", help="the original weights file")
    convert.add_argument("--out", required=True, help="output file, ending in .weights.h5")
    convert.add_argument("--prototxt", help="original network definition to check against")
    convert.add_argument("--num-classes", type=int, help="classes of the file's score layers")
    convert.add_argument("--no-strict", action="store_true",
                         help="load the matching part of a file that differs from the model")
    convert.set_defaults(run=_convert)

    predict = commands.add_parser("predict", help="segment an image, write a colour label image")
    predict.add_argument("model", help="registered model name")
    predict.add_argument("image", help="input image (any format Pillow reads)")
    predict.add_argument("--weights", help="weights file (.weights.h5, .keras, .caffemodel)")
    predict.add_argument("--out", help="label image (palette PNG); default <image>_labels.png")
    predict.add_argument("--overlay", help="also write the labels blended over the image")
    predict.add_argument("--probabilities",
                         help="also write the class probabilities (H, W, C) as .npy")
    predict.add_argument("--batch-size", type=int, default=1, help="tiles per forward pass")
    predict.add_argument("--tile-size", type=int, nargs="+", metavar="N",
                         help="blended tiling with this input tile (one size, or height width)")
    predict.add_argument("--overlap", type=float, default=0.25, help="tile overlap in [0, 1)")
    predict.add_argument("--blend", default="gaussian", choices=["gaussian", "cosine", "constant"])
    predict.add_argument("--tta", choices=["flips", "dihedral"], help="test-time augmentation")
    predict.add_argument("--num-classes", type=int, help="classes of the weights")
    predict.set_defaults(run=_predict)

    train = commands.add_parser("train", help="fine-tune a model on an image/mask folder")
    train.add_argument("model", help="registered model name")
    train.add_argument("data", help="folder with images/ and masks/ (same file stems)")
    train.add_argument("--val", help="validation folder with images/ and masks/")
    train.add_argument("--layout", default="folder",
                       choices=["folder", "voc", "camvid", "cityscapes"])
    train.add_argument("--split", default="train", help="training split of the layout")
    train.add_argument("--val-split", default="val", help="validation split of the layout")
    train.add_argument("--num-classes", type=int, required=True)
    train.add_argument("--checkpoint-dir", required=True, help="checkpoints and logs")
    train.add_argument("--weights", help="weights to start from (the original head)")
    train.add_argument("--resume", action="store_true", help="continue the last checkpoint")
    train.add_argument("--overwrite", action="store_true",
                       help="start afresh in a checkpoint folder that holds another run")
    train.add_argument("--skip-bad-files", action="store_true",
                       help="leave out unreadable images and bad masks (counted) instead of "
                            "stopping at the first")
    train.add_argument("--allow-unmatched", action="store_true",
                       help="train although some images have no mask (or masks no image)")
    train.add_argument("--epochs", type=int, default=10)
    train.add_argument("--batch-size", type=int, default=8)
    train.add_argument("--crop-size", type=int, nargs="+", default=[320], metavar="N")
    train.add_argument("--scale", type=float, nargs=2, default=[0.5, 2.0], metavar=("MIN", "MAX"),
                       help="random rescaling range")
    train.add_argument("--rotation", type=float, default=0.0, help="max rotation, degrees")
    train.add_argument("--elastic", type=float, nargs=2, metavar=("GRID", "SIGMA"),
                       help="U-Net elastic deformation (e.g. 3 10)")
    train.add_argument("--no-flip", action="store_true", help="no horizontal flips")
    train.add_argument("--lr", type=float, default=1e-3, help="base learning rate (poly decay)")
    train.add_argument("--momentum", type=float, default=0.9)
    train.add_argument("--steps-per-epoch", type=int)
    train.add_argument("--freeze-until", metavar="LAYER", help="freeze the trunk up to LAYER")
    train.add_argument("--class-weights", choices=["median"], help="median-frequency weights")
    train.add_argument("--ignore-label", type=int, default=255)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--mixed-precision", action="store_true")
    train.add_argument("--strategy", choices=["mirrored", "multiworker"])
    train.add_argument("--model-arg", action="append", default=[], metavar="KEY=VALUE",
                       help="builder argument, a Python literal (e.g. widths=(8,16,32,32,32,64))")
    train.set_defaults(run=_train)

    verify = commands.add_parser("verify-data", help="check a dataset before training")
    verify.add_argument("data", help="dataset root")
    verify.add_argument("--layout", default="folder",
                        choices=["folder", "voc", "camvid", "cityscapes"])
    verify.add_argument("--split", default="train")
    verify.add_argument("--num-classes", type=int, help="report labels outside 0..N-1")
    verify.add_argument("--ignore-label", type=int, default=255)
    verify.set_defaults(run=_verify)

    evaluate = commands.add_parser("evaluate", help="score a model on an image/mask folder")
    evaluate.add_argument("model", help="registered model name")
    evaluate.add_argument("data", help="folder with images/ and masks/")
    evaluate.add_argument("--weights", required=True)
    evaluate.add_argument("--num-classes", type=int)
    evaluate.add_argument("--ignore-label", type=int, default=255)
    evaluate.add_argument("--tile-size", type=int, help="blended tiling with this tile size")
    evaluate.add_argument("--json", help="write the scores as JSON here")
    evaluate.add_argument("--model-arg", action="append", default=[], metavar="KEY=VALUE")
    evaluate.set_defaults(run=_evaluate)

    export = commands.add_parser("export", help="save a model with weights for serving")
    export.add_argument("model", help="registered model name")
    export.add_argument("--weights", help="weights to load first")
    export.add_argument("--out", required=True,
                        help="a .keras file (whole model), or a folder for a TF SavedModel")
    export.add_argument("--num-classes", type=int)
    export.add_argument("--model-arg", action="append", default=[], metavar="KEY=VALUE")
    export.set_defaults(run=_export)

    weights = commands.add_parser("weights", help="list or fetch + convert published weights")
    weights_commands = weights.add_subparsers(dest="action", metavar="ACTION", required=True)
    weights_commands.add_parser("list", help="the published weights the registry knows")
    fetch = weights_commands.add_parser("fetch", help="download and convert to .weights.h5")
    fetch.add_argument("name", help="registry name (see `keras-seg weights list`)")
    fetch.add_argument("--url", help="another origin for the same file (mirror, file://)")
    fetch.add_argument("--out-dir", help="where the converted file goes (default weights/)")
    weights.set_defaults(run=_weights)

    demo = commands.add_parser("demo", help="fine-tune and segment offline on generated images")
    demo.add_argument("--out", default="build/demo", help="output folder")
    demo.add_argument("--epochs", type=int, default=12)
    demo.set_defaults(run=_demo)
    return parser


def _models(args):
    from keras_seg.registry import get_spec, list_models

    for name in list_models():
        spec = get_spec(name)
        print(f"{name:24s} {spec.num_classes:4d} classes  {spec.paper}")


def _build(name, num_classes):
    from keras_seg.registry import build

    return build(name, **({"num_classes": num_classes} if num_classes else {}))


def _convert(args):
    from keras_seg.convert import load_weights

    if not args.out.endswith(".weights.h5"):
        raise ValueError(f"--out must end in .weights.h5, got {args.out!r}")
    model = _build(args.model, args.num_classes)
    report = load_weights(model, args.weights, prototxt=args.prototxt,
                          strict=not args.no_strict)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    partial = f"{args.out}.partial.weights.h5"
    model.save_weights(partial)
    os.replace(partial, args.out)  # never leave a half-written file under the final name
    print(report)
    print(f"wrote {args.out}")


def _predict(args):
    import numpy as np

    from keras_seg.inference.images import overlay, read_image, write_labels
    from keras_seg.inference.predict import predict
    from keras_seg.registry import get_spec

    palette = get_spec(args.model).palette()
    image = read_image(args.image)
    model = _build(args.model, args.num_classes)
    tile = tuple(args.tile_size) if args.tile_size else None
    labels, probabilities = predict(
        model, image, weights=args.weights, progress=True, return_probabilities=True,
        batch_size=args.batch_size, tile_size=tile[0] if tile and len(tile) == 1 else tile,
        overlap=args.overlap, blend=args.blend, tta=args.tta)
    out = args.out or str(Path(args.image).with_suffix("")) + "_labels.png"
    write_labels(out, labels, palette)
    written = [out]
    if args.overlay:
        from PIL import Image

        Image.fromarray(overlay(image, labels, palette)).save(args.overlay)
        written.append(args.overlay)
    if args.probabilities:
        np.save(args.probabilities, probabilities)
        written.append(args.probabilities)
    print(f"{image.shape[1]}x{image.shape[0]} image, classes found: "
          f"{sorted(set(np.unique(labels).tolist()))}; wrote {', '.join(written)}")


def _model_args(items):
    import ast

    parsed = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--model-arg needs KEY=VALUE, got {item!r}")
        try:
            parsed[key.strip()] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            raise ValueError(f"--model-arg {key}: {value!r} is not a Python literal") from None
    return parsed


def _train(args):
    from keras_seg.training.data import Augment
    from keras_seg.training.train import train

    crop = args.crop_size * 2 if len(args.crop_size) == 1 else args.crop_size
    elastic = (int(args.elastic[0]), args.elastic[1]) if args.elastic else None
    augment = Augment(tuple(crop[:2]), tuple(args.scale), not args.no_flip, args.rotation,
                      elastic=elastic)
    train(
        args.model, args.data, val_dir=args.val, num_classes=args.num_classes,
        checkpoint_dir=args.checkpoint_dir, weights=args.weights, resume=args.resume,
        epochs=args.epochs, batch_size=args.batch_size, crop_size=tuple(crop[:2]),
        learning_rate=args.lr, momentum=args.momentum, steps_per_epoch=args.steps_per_epoch,
        freeze_until=args.freeze_until, class_weights=args.class_weights,
        ignore_label=args.ignore_label, seed=args.seed, mixed_precision=args.mixed_precision,
        strategy=args.strategy, model_args=_model_args(args.model_arg), layout=args.layout,
        split=args.split, val_split=args.val_split, augment=augment,
        skip_bad_files=args.skip_bad_files, allow_unmatched=args.allow_unmatched,
        overwrite=args.overwrite)
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

    from keras_seg.training.evaluate import evaluate_folder, format_table

    result = evaluate_folder(args.model, args.data, args.weights, num_classes=args.num_classes,
                             ignore_label=args.ignore_label, tile_size=args.tile_size,
                             model_args=_model_args(args.model_arg))
    print(format_table(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


def _export(args):
    from keras_seg.convert import load_weights
    from keras_seg.registry import build

    overrides = _model_args(args.model_arg)
    if args.num_classes:
        overrides["num_classes"] = args.num_classes
    model = build(args.model, **overrides)
    if args.weights:
        load_weights(model, args.weights)
    if args.out.endswith(".keras"):
        model.save(args.out)
    else:
        model.export(args.out, format="tf_saved_model")
    print(f"wrote {args.out}")


def _weights(args):
    from keras_seg import weights

    registry = weights.load_registry()
    if args.action == "list":
        for entry in registry.values():
            digest = entry.sha256[:12] if entry.sha256 else "unverified"
            print(f"{entry.name:24s} {entry.file:36s} sha256 {digest:12s}  {entry.license}")
        return
    path, digest = weights.fetch(args.name, url=args.url, registry=registry)
    entry = registry[args.name]
    if entry.sha256 is None:
        print(f"{path}: sha256 {digest} (no checksum recorded in the registry to compare)")
    out = weights.convert(args.name, path, out_dir=args.out_dir, registry=registry)
    print(f"wrote {out}")


def _demo(args):
    from keras_seg.demo import run_demo

    run_demo(args.out, epochs=args.epochs)


if __name__ == "__main__":
    sys.exit(main())
