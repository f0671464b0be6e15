"""The model a command works on: its flags, their cheap checks, and the loading itself.

Example:
    >>> model = load_model(args)  # doctest: +SKIP
"""

import os

from keras_seg.cli.checks import check_model
from keras_seg.errors import InputError
from keras_seg.training.config import parse_model_args

WEIGHTS_HELP = ("weights: a published record (see `keras-seg weights list`) or a file "
                "(.weights.h5, .keras, .caffemodel, .pth, .npz); default: the model's "
                "published weights, converted in the Keras cache")


MODEL_HELP = ("registered model name (see `keras-seg models`), a saved .keras model such as "
              "a training checkpoint, or a weights preset (a folder from `keras-seg weights "
              "export`, or hf://OWNER/REPO)")


def add_model_arguments(sub, weights_help=WEIGHTS_HELP, model_help=MODEL_HELP):
    """MODEL, ``--weights``, ``--num-classes`` and ``--model-arg``.

    Example:
        >>> add_model_arguments(argparse.ArgumentParser())  # doctest: +SKIP
    """
    sub.add_argument("model", metavar="MODEL", help=model_help)
    sub.add_argument("--weights", help=weights_help)
    sub.add_argument("--num-classes", type=int, help="classes of the weights")
    sub.add_argument("--model-arg", dest="model_args", action="append", default=[],
                     metavar="KEY=VALUE",
                     help="builder argument, a Python literal (e.g. "
                          "widths=(8,16,32,32,32,64) or context=False)")


def check_model_flags(args):
    """The model flags' refusals that need no TensorFlow.

    Example:
        >>> check_model_flags(args)  # doctest: +SKIP
    """
    from keras_seg.presets import is_preset

    if is_preset(args.model):
        if (args.weights or args.model_args or args.num_classes is not None
                or getattr(args, "random_weights", False)):
            raise InputError(f"{args.model}: a preset fixes its network and weights; --weights,"
                             " --random-weights, --model-arg and --num-classes cannot be given "
                             "with it")
    else:
        check_model(args.model)
    parse_model_args(args.model_args)
    if args.weights and getattr(args, "random_weights", False):
        raise InputError("--weights and --random-weights exclude each other")


def load_model(args):
    """The model a command works on: a .keras file, or a registered name with its weights.

    Example:
        >>> model = load_model(args)  # doctest: +SKIP
    """
    from keras_seg.errors import ConversionError
    from keras_seg.presets import is_preset, load_preset
    from keras_seg.pretrained import build, is_converted, missing_weights_error
    from keras_seg.registry import get_spec

    if is_preset(args.model):
        return load_preset(args.model)
    if check_model(args.model):
        return load_model_file(args.model)
    overrides = parse_model_args(args.model_args)
    if args.num_classes is not None:
        overrides["num_classes"] = args.num_classes
    weights = args.weights
    spec = get_spec(args.model)
    random_option = hasattr(args, "random_weights")
    if weights is None and not getattr(args, "random_weights", False):
        if not (spec.default_weights and is_converted(spec.default_weights)):
            raise missing_weights_error(args.model, random_option)
        weights = spec.default_weights
    if weights and not os.path.exists(weights):
        check_weights_exist(weights, random_option)  # the command line never downloads
    try:
        return build(args.model, weights=weights, **overrides)
    except ConversionError as error:
        if str(weights).endswith(".keras"):
            raise ConversionError(f"{error}; a whole .keras model (e.g. a training checkpoint)"
                                  f" can be given as the model itself: keras-seg "
                                  f"{args.command} {weights} ...") from None
        raise


def load_model_file(path):
    """A saved ``.keras`` model (an adversarial checkpoint: its segmenter).

    Example:
        >>> model = load_model_file("ckpt/best.keras")  # doctest: +SKIP
    """
    import zipfile

    import keras

    from keras_seg.registration import register_with_keras

    register_with_keras()  # the classes the file names

    if not zipfile.is_zipfile(path):
        raise InputError(f"{path}: not a valid .keras file (not a zip archive)")
    try:
        model = keras.saving.load_model(path, compile=False)
    except (ValueError, OSError, KeyError, TypeError) as error:
        reason = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
        raise InputError(f"{path}: not a valid .keras model ({reason})") from None
    from keras_seg.registry import unwrap

    return unwrap(model)  # an adversarial checkpoint: its segmenter


def check_weights_exist(weights, random_option=True):
    """Refuse weights that are neither a file nor a record converted in the cache.

    Example:
        >>> check_weights_exist("fcn8s")  # doctest: +SKIP
    """
    from keras_seg.convert.readers import READERS
    from keras_seg.pretrained import is_converted, missing_weights_error
    from keras_seg.registry import get_weights_record

    if weights.lower().endswith(tuple(READERS)) or os.sep in weights:
        raise InputError(f"{weights}: no such weights file")
    record = get_weights_record(weights)
    if not is_converted(record.name):
        raise missing_weights_error(record.model, random_option)
