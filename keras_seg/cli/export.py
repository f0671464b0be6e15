"""``keras-seg export``: a model with its weights, for serving.

Example:
    >>> main(["export", "fcn8s", "--out", "fcn8s.onnx"])  # doctest: +SKIP
"""

import os
from pathlib import Path

from keras_seg.cli.checks import check_writable
from keras_seg.cli.loading import WEIGHTS_HELP, add_model_arguments, check_model_flags, load_model
from keras_seg.errors import InputError
from keras_seg.export import FORMATS, SUFFIXES

NAME = "export"
HELP = "save a model with weights for serving"


def add_arguments(sub):
    """MODEL, ``--out``, ``--format`` and ``--with-preprocessing``."""
    add_model_arguments(sub, WEIGHTS_HELP + "; --random-weights for none")
    sub.add_argument("--random-weights", action="store_true",
                     help="export the untrained network")
    sub.add_argument("--out", required=True,
                     help=f"a {_suffixes()} file, or a folder (a name without suffix) for a "
                          "TF SavedModel")
    sub.add_argument("--format", metavar="FORMAT",
                     help=f"{', '.join(FORMATS)}; default: from --out ({_suffixes()}, else a "
                          "SavedModel folder)")
    sub.add_argument("--with-preprocessing", action="store_true",
                     help="put the model's input convention inside the graph, which then "
                          "takes uint8 RGB images (N, H, W, 3); default: the model's input "
                          "blob, with the convention written beside the export as JSON")


def check(args):
    """The model, the format the output names, and where it goes."""
    check_model_flags(args)
    format = export_format(args.out, args.format)
    if args.with_preprocessing and format == "keras":
        raise InputError("--with-preprocessing needs --format savedmodel, tflite or onnx (a "
                         ".keras file keeps the input convention in its metadata)")
    if format == "savedmodel":
        _check_export_folder(args.out)
    else:
        check_writable(args.out)
    args.format = format


def run(args):
    """Check the format's packages, load the model, write the export."""
    from keras_seg.export import check_dependencies, export_model

    try:
        check_dependencies(args.format)
    except (ImportError, ValueError) as error:
        raise InputError(str(error)) from None
    model = load_model(args)
    written = export_model(model, args.out, args.format,
                           with_preprocessing=args.with_preprocessing)
    print(f"wrote {', '.join(str(path) for path in written)}")


def export_format(out, format):
    """The export format: ``--format``, else from the suffix of ``--out``; refuse a clash.

    A name with a suffix that is no export format (``x.pt``) is refused rather than taken
    for a SavedModel folder; an existing folder, or ``--format savedmodel``, is one.

    Example:
        >>> export_format("fcn8s.onnx", None), export_format("exported/fcn8s", None)
        ('onnx', 'savedmodel')
    """
    suffix = Path(out).suffix.lower()
    implied = SUFFIXES.get(suffix)
    if format is None:
        if implied is None and suffix and not Path(out).is_dir():
            raise InputError(f"--out {out}: {suffix!r} is no export format; expected "
                             f"{_suffixes()}, or a folder name without suffix for a "
                             "SavedModel (or --format savedmodel)")
        return implied or "savedmodel"
    if format not in FORMATS:
        raise InputError(f"--format must be one of {', '.join(FORMATS)}, got {format!r}")
    if implied is not None and implied != format:
        raise InputError(f"--out {out} names a {implied} file but --format is {format}")
    if format == "keras" and implied != "keras":
        raise InputError(f"--format keras needs --out ending in .keras, got {out!r}")
    return format


def _suffixes():
    return ", ".join(SUFFIXES)


def _check_export_folder(path):
    """Refuse, before any work, a SavedModel folder that is a file or cannot be created."""
    if Path(path).is_file():
        raise InputError(f"{path}: is a file, expected a folder for the SavedModel")
    if not Path(path).exists():
        check_writable(path)
    elif not os.access(path, os.W_OK):
        raise InputError(f"{path}: cannot write there (not writable)")
