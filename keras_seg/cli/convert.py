"""``keras-seg convert``: an original weights file into a ``.weights.h5`` file.

Example:
    >>> main(["convert", "fcn8s", "fcn8s-heavy-pascal.caffemodel",
    ...       "--out", "fcn8s.weights.h5"])  # doctest: +SKIP
"""

import os
from pathlib import Path

from keras_seg.cli.checks import check_at_least, check_input_file, check_model
from keras_seg.errors import InputError
from keras_seg.training.config import parse_model_args

NAME = "convert"
HELP = ("convert an original weights file (Caffe .caffemodel, PyTorch .pth/.pt, Lasagne or "
        "NumPy .npz, Keras .weights.h5/.keras) to a .weights.h5 file")


def add_arguments(sub):
    """MODEL, WEIGHTS, ``--out`` and the conversion options."""
    sub.add_argument("model", help="registered model name (see `keras-seg models`)")
    sub.add_argument("weights", help="the original weights file: .caffemodel, .pth or .pt, "
                                     ".npz, .weights.h5 or .keras")
    sub.add_argument("--out", required=True, help="output file, ending in .weights.h5")
    sub.add_argument("--prototxt", help="original Caffe network definition to check against")
    sub.add_argument("--num-classes", type=int, help="classes of the file's score layers")
    sub.add_argument("--model-arg", dest="model_args", action="append", default=[],
                     metavar="KEY=VALUE",
                     help="builder argument, a Python literal")
    sub.add_argument("--no-strict", action="store_true",
                     help="load the matching part of a file that differs from the model")


def check(args):
    """Refuse an unknown model, a missing file and an output that is not .weights.h5."""
    if check_model(args.model):
        raise InputError(f"{args.model}: convert fills a registered model; name one from "
                         "`keras-seg models`")
    if not args.out.endswith(".weights.h5"):
        raise InputError(f"--out must end in .weights.h5, got {args.out!r}")
    if not os.path.isfile(args.weights):
        raise InputError(f"{args.weights}: no such file")
    if args.prototxt is not None:
        check_input_file(args.prototxt, "network definition")
    check_at_least("--num-classes", args.num_classes, 1)
    parse_model_args(args.model_args)


def run(args):
    """Build the model, load the file into it, save the weights (all or nothing)."""
    from keras_seg.cli.checks import check_writable
    from keras_seg.convert import load_weights
    from keras_seg.files import atomic_path
    from keras_seg.registry import build_model

    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    check_writable(args.out)
    overrides = parse_model_args(args.model_args)
    if args.num_classes:
        overrides["num_classes"] = args.num_classes
    model = build_model(args.model, **overrides)
    report = load_weights(model, args.weights, prototxt=args.prototxt,
                          strict=not args.no_strict)
    with atomic_path(args.out) as partial:  # never a half-written file under the final name
        model.save_weights(partial)
    print(report)
    print(f"wrote {args.out}")
