"""``keras-seg demo``: train, evaluate and segment offline on generated images.

Example:
    >>> main(["demo", "--out", "build/demo"])  # doctest: +SKIP
"""

from keras_seg.cli.checks import check_at_least
from keras_seg.demo import EPOCHS

NAME = "demo"
HELP = "train, evaluate and segment offline on generated images"


def add_arguments(sub):
    """``--out`` and ``--epochs``."""
    sub.add_argument("--out", default="build/demo", help="output folder")
    sub.add_argument("--epochs", type=int, help=f"training epochs (default {EPOCHS})")


def check(args):
    """Refuse fewer than one epoch."""
    check_at_least("--epochs", args.epochs, 1)


def run(args):
    """Run :func:`keras_seg.demo.run_demo`."""
    from keras_seg.demo import run_demo

    run_demo(args.out, epochs=args.epochs)
