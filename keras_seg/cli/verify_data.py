"""``keras-seg verify-data``: check a dataset before training.

Example:
    >>> main(["verify-data", "data", "--num-classes", "4"])  # doctest: +SKIP
"""

from keras_seg.choices import IGNORE_LABEL, LAYOUTS, TRAIN_SPLIT
from keras_seg.cli.checks import (
    add_mask_format_arguments,
    check_at_least,
    check_folder,
    check_image_output,
    check_mask_format_files,
    check_writable,
)

NAME = "verify-data"
HELP = "check a dataset before training"
#: Reads images and masks only: TensorFlow is never imported.
USES_TENSORFLOW = False


def add_arguments(sub):
    """DATA and the layout options."""
    sub.add_argument("data", help="dataset root")
    sub.add_argument("--layout", default=LAYOUTS[0], choices=LAYOUTS)
    sub.add_argument("--split", default=TRAIN_SPLIT)
    sub.add_argument("--num-classes", type=int, help="report labels outside 0..N-1")
    sub.add_argument("--ignore-label", type=int, default=IGNORE_LABEL)
    add_mask_format_arguments(sub)
    sub.add_argument("--plot", metavar="PNG", help="draw the class histogram here")


def check(args):
    """Refuse a missing folder, fewer than one class and a plot that cannot be written."""
    check_folder(args.data)
    check_mask_format_files(args)
    check_at_least("--num-classes", args.num_classes, 1)
    check_image_output("--plot", args.plot, (".png",))
    check_writable(args.plot)


def run(args):
    """Print pairs, formats, notes, problems and the per-class counts; status 1 on problems."""
    from keras_seg.training.dataset_survey import survey
    from keras_seg.training.layouts import open_dataset

    source = open_dataset(args.data, args.layout, args.split, colors=args.colors,
                          annotations=args.annotations, classes=args.classes,
                          ignore_label=args.ignore_label)
    num_classes = args.num_classes or (len(source.class_names) if source.class_names else None)
    report = survey(source, num_classes, args.ignore_label, check_sizes=True)
    print(f"{len(source.pairs)} image/mask pairs, {len(source.unmatched)} unmatched files, "
          f"{len(report.problems)} problems")
    print("formats: " + (", ".join(f"{kind} ({count})" for kind, count in
                                   sorted(report.formats.items())) or "none read"))
    for note in report.notes:
        print(f"  note: {note}")
    for path in source.unmatched:
        print(f"  unmatched: {path}")
    for problem in report.problems:
        print(f"  {problem}")
    total = sum(report.pixels.values()) or 1
    print("per class (pixels, share, images):")
    names = report.class_names or ()
    for label in sorted(report.pixels):
        name = ("ignore" if label == args.ignore_label
                else names[label] if 0 <= label < len(names) else "")
        count = report.pixels[label]
        print(f"  {label:5d} {count:12d} {count / total:7.2%} {report.images[label]:7d}  "
              f"{name}".rstrip())
    if num_classes:
        missing = [report.name(c) for c in range(num_classes) if not report.pixels[c]]
        if missing:
            print(f"  never seen: {', '.join(missing)}")
    if args.plot:
        from keras_seg.plots import plot_class_histogram

        print(f"wrote {plot_class_histogram(report, args.plot, ignore_label=args.ignore_label)}")
    return 0 if not report.problems and not source.unmatched else 1
