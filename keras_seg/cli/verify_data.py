"""``keras-seg verify-data``: check a dataset before training.

Example:
    >>> main(["verify-data", "data", "--num-classes", "4"])  # doctest: +SKIP
"""

from keras_seg.choices import IGNORE_LABEL, LAYOUTS, TRAIN_SPLIT
from keras_seg.cli.checks import check_at_least, check_folder

NAME = "verify-data"
HELP = "check a dataset before training"


def add_arguments(sub):
    """DATA and the layout options."""
    sub.add_argument("data", help="dataset root")
    sub.add_argument("--layout", default=LAYOUTS[0], choices=LAYOUTS)
    sub.add_argument("--split", default=TRAIN_SPLIT)
    sub.add_argument("--num-classes", type=int, help="report labels outside 0..N-1")
    sub.add_argument("--ignore-label", type=int, default=IGNORE_LABEL)


def check(args):
    """Refuse a missing folder and fewer than one class."""
    check_folder(args.data)
    check_at_least("--num-classes", args.num_classes, 1)


def run(args):
    """Print the pairs, the problems and the label histogram; status 1 on problems."""
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
