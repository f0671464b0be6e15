"""``keras-seg evaluate``: score a model, or label maps saved by any tool, on a dataset.

Example:
    >>> main(["evaluate", "ckpt/best.keras", "data/val", "--plot", "scores.png"])  # doctest: +SKIP
    >>> main(["evaluate", "--predictions", "results", "cityscapes", "--layout", "cityscapes"])
    ... # doctest: +SKIP
"""

from pathlib import Path

from keras_seg.choices import IGNORE_LABEL, LAYOUTS, PREDICTION_IDS, VAL_SPLIT
from keras_seg.cli.checks import (
    add_mask_format_arguments,
    check_folder,
    check_image_output,
    check_mask_format_files,
    check_tiling,
    check_writable,
)
from keras_seg.cli.loading import MODEL_HELP, add_model_arguments, check_model_flags, load_model
from keras_seg.errors import InputError

NAME = "evaluate"
HELP = "score a model, or saved label maps (--predictions), on a dataset"
#: MODEL is left out with --predictions: positionals are read after the options, so
#: ``evaluate MODEL --json s.json DATA`` still reads MODEL and DATA.
INTERMIXED = True
USAGE = ("%(prog)s MODEL DATA [options]\n"
         "       %(prog)s --predictions PRED_DIR DATA [options]")
#: The model's flags, which saved label maps have no use for.
_MODEL_ONLY = (("weights", "--weights"), ("model_args", "--model-arg"),
               ("tile_size", "--tile-size"))


def add_arguments(sub):
    """MODEL DATA (or --predictions PRED_DIR DATA) and the scoring options."""
    sub.usage = USAGE
    add_model_arguments(sub, model_help=MODEL_HELP + "; left out with --predictions")
    sub.add_argument("data", nargs="?", metavar="DATA",
                     help="folder with images/ and masks/, or a layout's root")
    sub.add_argument("--predictions", metavar="PRED_DIR",
                     help="score the label maps saved here by any tool instead of a model: "
                          "PNGs of class indices matched to the masks by file name "
                          "(Cityscapes: by frame, <city>_<seq>_<frame>*.png); --num-classes "
                          "defaults to the classes the dataset or layout names")
    sub.add_argument("--prediction-ids", choices=PREDICTION_IDS,
                     help="with --predictions, what the maps hold: train = class indices "
                          "0..N-1 (as keras-seg predict writes), label = the values the "
                          "masks store, through the layout's label map (Cityscapes label "
                          "ids, the benchmark's format; void ids count as misses); default "
                          "label for cityscapes, train otherwise")
    sub.add_argument("--layout", default=LAYOUTS[0], choices=LAYOUTS)
    sub.add_argument("--split", default=VAL_SPLIT,
                     help="split of the layout (voc: also a list file such as seg11valid.txt)")
    sub.add_argument("--ignore-label", type=int, default=IGNORE_LABEL)
    add_mask_format_arguments(sub)
    sub.add_argument("--tile-size", type=int, help="blended tiling with this tile size")
    sub.add_argument("--json", help="write the scores as JSON here")
    sub.add_argument("--plot", metavar="PNG",
                     help="draw the confusion matrix and per-class IoU here")
    sub.add_argument("--allow-unmatched", action="store_true",
                     help="score although some images have no mask (or masks no image, or "
                          "no prediction)")


def check(args):
    """The model (or the predictions), the data folder, the outputs and the tile size."""
    if args.predictions is not None:
        _check_predictions(args)
    else:
        if args.data is None:
            raise InputError("expected MODEL DATA, or --predictions PRED_DIR DATA")
        if args.prediction_ids:
            raise InputError("--prediction-ids goes with --predictions")
        check_model_flags(args)
        check_tiling(args.tile_size, 0.0, 1)
    check_folder(args.data)
    check_mask_format_files(args)
    check_image_output("--plot", args.plot, (".png",))
    check_image_output("--json", args.json, (".json",))
    check_writable(args.json, args.plot)
    _check_pairs(args)


def run(args):
    """Score, print the table, write the JSON and the plot when asked."""
    if args.predictions is not None:
        from keras_seg.training.evaluate import evaluate_predictions

        model = None
        result = evaluate_predictions(
            args.predictions, args.data, num_classes=args.num_classes,
            ignore_label=args.ignore_label, layout=args.layout, split=args.split,
            prediction_ids=args.prediction_ids, allow_unmatched=args.allow_unmatched,
            colors=args.colors, annotations=args.annotations, classes=args.classes)
    else:
        from keras_seg.cli.predict import _check_tile_fits
        from keras_seg.registry import spec_of
        from keras_seg.training.evaluate import evaluate_folder

        model = load_model(args)
        _check_tile_fits([args.tile_size] if args.tile_size else None, spec_of(model))
        result = evaluate_folder(model, args.data, num_classes=args.num_classes,
                                 ignore_label=args.ignore_label, tile_size=args.tile_size,
                                 layout=args.layout, split=args.split, colors=args.colors,
                                 annotations=args.annotations, classes=args.classes)
    _report(result, args, model)


def _report(result, args, model):
    """The table on stdout; the plot and the JSON (whole or not at all) where asked."""
    import json

    from keras_seg.files import atomic_path
    from keras_seg.training.evaluate import format_table

    print(format_table(result))
    if model is not None:
        from keras_seg.published import published_beside

        beside = published_beside(args.model, model, result, layout=args.layout,
                                  split=args.split, ignore_label=args.ignore_label)
        if beside:
            print(beside)
    if args.plot:
        from keras_seg.plots import plot_scores

        print(f"wrote {plot_scores(result, args.plot, title=Path(args.data).name)}")
    if args.json:
        with atomic_path(args.json) as partial:
            partial.write_text(json.dumps(result, indent=1))


def _check_predictions(args):
    """--predictions PRED_DIR DATA: one positional, no model flags, no TensorFlow."""
    if args.data is not None:
        raise InputError(f"--predictions scores saved label maps: give DATA alone, not a "
                         f"model too ({args.model})")
    args.data, args.model = args.model, None
    for dest, flag in _MODEL_ONLY:
        if getattr(args, dest):
            raise InputError(f"{flag} belongs to a model; --predictions scores saved label "
                             "maps")
    check_folder(args.predictions, "--predictions")
    args.tensorflow = False  # reads PNGs and scores with NumPy


def _check_pairs(args):
    """Refuse images without masks (and masks without images) unless allowed."""
    from keras_seg.training.layouts import open_dataset

    unmatched = open_dataset(args.data, args.layout, args.split, colors=args.colors,
                             annotations=args.annotations, classes=args.classes,
                             ignore_label=args.ignore_label).unmatched
    if unmatched and not args.allow_unmatched:
        shown = ", ".join(unmatched[:3]) + (" ..." if len(unmatched) > 3 else "")
        raise InputError(f"{len(unmatched)} file(s) without a partner image or mask: {shown};"
                         " pass --allow-unmatched to score the matched pairs only")
