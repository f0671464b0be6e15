"""``keras-seg evaluate``: score a model on a dataset.

Example:
    >>> main(["evaluate", "ckpt/best.keras", "data/val", "--plot", "scores.png"])  # doctest: +SKIP
"""

from pathlib import Path

from keras_seg.choices import IGNORE_LABEL, LAYOUTS, VAL_SPLIT
from keras_seg.cli.checks import (
    add_mask_format_arguments,
    check_folder,
    check_image_output,
    check_mask_format_files,
    check_tiling,
    check_writable,
)
from keras_seg.cli.loading import add_model_arguments, check_model_flags, load_model
from keras_seg.errors import InputError

NAME = "evaluate"
HELP = "score a model on a dataset"


def add_arguments(sub):
    """MODEL DATA and the scoring options."""
    add_model_arguments(sub)
    sub.add_argument("data", help="folder with images/ and masks/, or a layout's root")
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
                     help="score although some images have no mask (or masks no image)")


def check(args):
    """The model, the data folder, the output names and the tile size."""
    check_model_flags(args)
    check_folder(args.data)
    check_mask_format_files(args)
    check_image_output("--plot", args.plot, (".png",))
    check_image_output("--json", args.json, (".json",))
    check_writable(args.json, args.plot)
    check_tiling(args.tile_size, 0.0, 1)
    _check_pairs(args)


def run(args):
    """Score, print the table, write the JSON and the plot when asked."""
    import json

    from keras_seg.cli.predict import _check_tile_fits, write_all
    from keras_seg.published import published_beside
    from keras_seg.registry import spec_of
    from keras_seg.training.evaluate import evaluate_folder, format_table

    model = load_model(args)
    _check_tile_fits([args.tile_size] if args.tile_size else None, spec_of(model))
    result = evaluate_folder(model, args.data, num_classes=args.num_classes,
                             ignore_label=args.ignore_label, tile_size=args.tile_size,
                             layout=args.layout, split=args.split, colors=args.colors,
                             annotations=args.annotations, classes=args.classes)
    print(format_table(result))
    beside = published_beside(args.model, model, result, layout=args.layout, split=args.split,
                              ignore_label=args.ignore_label)
    if beside:
        print(beside)
    if args.plot:
        from keras_seg.plots import plot_scores

        print(f"wrote {plot_scores(result, args.plot, title=Path(args.data).name)}")
    if args.json:
        write_all([(args.json, lambda path: Path(path).write_text(json.dumps(result,
                                                                          indent=1)))])


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
