"""``load_weights``: read a file, apply the rules of its layout, assign strictly.

Readers (:mod:`keras_seg.convert.readers`) know formats, not families; rules know which
source array fills which variable; :func:`~keras_seg.convert.assign.assign` checks
everything before it changes anything. ``strict`` means the same for every format.
"""

import os

from keras_seg.convert.assign import assign, fitting_transfers, weighted_layers
from keras_seg.convert.caffe import caffe_transfers, check_prototxt
from keras_seg.convert.keras_file import keras_transfers
from keras_seg.convert.lasagne import lasagne_fc_densenet_transfers
from keras_seg.convert.prototxt import load_prototxt
from keras_seg.convert.readers import read_source, read_weights
from keras_seg.convert.torch_fcn import torch_fcn_transfers
from keras_seg.convert.torch_names import torch_name_transfers
from keras_seg.errors import ConversionError

__all__ = ["RULES", "load_matching", "load_weights", "read_weights"]


def _caffe_rules(model, source):
    return caffe_transfers(model), []


#: Conversion rules by name (a weights record's ``rules``): (model, source) ->
#: (transfers, source keys deliberately dropped).
RULES = {"caffe": _caffe_rules, "keras": keras_transfers, "torch_fcn": torch_fcn_transfers,
         "torch_names": torch_name_transfers,
         "lasagne_fc_densenet": lasagne_fc_densenet_transfers}
#: The rules a file format uses when the model's weights records name none.
DEFAULT_RULES = {"caffemodel": "caffe", "keras": "keras", "pth": "torch_names"}


def load_weights(model, path, *, prototxt=None, strict=True, rules=None):
    """Load a weights file into ``model``, checking every shape; all or nothing.

    Args:
        model: a model from :func:`keras_seg.build` (layer names are the original ones).
        path: ``.caffemodel``, ``.weights.h5``, ``.keras``, or ``.pth``/``.pt`` where the
            model's family has PyTorch rules (FCN: wkentaro/pytorch-fcn's state dicts).
        prototxt: for a caffemodel, the network definition to check the model against.
        strict: refuse a file with weights the model lacks or lacking weights the model has
            (otherwise load the matching part and report the rest). The same for every
            format.
        rules: name of the conversion rules (:data:`RULES`); default: the format's (Caffe,
            Keras), else the family's rules for that format, else those of its published
            weights record in that format, else PyTorch names equal to the layer names.

    Returns:
        A :class:`~keras_seg.convert.assign.LoadReport`.

    Raises:
        ConversionError: naming the layer, the expected and the found shape; the model's
            weights are unchanged.

    Example:
        >>> model = keras_seg.build("fcn8s")
        >>> report = keras_seg.load_weights(
        ...     model, "fcn8s-heavy-pascal.caffemodel")  # doctest: +SKIP
    """
    path = os.fspath(path)
    source = read_source(path)
    if prototxt is not None:
        if source.format != "caffemodel":
            raise ConversionError(f"{path}: a prototxt only checks .caffemodel files")
        check_prototxt(model, load_prototxt(prototxt), source=os.fspath(prototxt))
    name = rules or _rules_for(model, source.format)
    if name not in RULES:
        raise ConversionError(f"{path}: no conversion rules called {name!r}; known: "
                              f"{', '.join(RULES)}")
    transfers, dropped = RULES[name](model, source)
    return assign(transfers, source.arrays, source_name=path, strict=strict,
                  source_types=source.types, dropped=dropped)


def load_matching(model, path, num_classes):
    """Load a weights file trained on another number of classes; new heads stay as built.

    For fine-tuning from a file of one's own (a checkpoint, a ``.weights.h5``) into a model
    of ``num_classes``: the layers whose arrays differ from the file's only along the class
    axis keep their initial values (FCN/DilatedNet score layers their zero or identity
    start, the upsampling deconvolutions their bilinear kernels); every other layer must
    fit and every array of the file must have a place, as :func:`load_weights` asks.

    Args:
        model: a model from :func:`keras_seg.build` with a head of ``num_classes``.
        path: any file :func:`load_weights` reads.
        num_classes: the model's classes.

    Returns:
        (copied, kept): names of the layers loaded and of those left as initialised.

    Raises:
        ConversionError: a layer that does not follow the classes does not fit, or the file
            has arrays the model lacks (naming the first ones); nothing is loaded then.

    Example:
        >>> model = keras_seg.build("fcn8s", num_classes=3)
        >>> copied, kept = load_matching(model, "ckpt/best.keras", 3)  # doctest: +SKIP
        >>> kept  # doctest: +SKIP
        ['score_fr', 'upscore2', 'score_pool4', 'upscore_pool4', 'score_pool3', 'upscore8']
    """
    path = os.fspath(path)
    source = read_source(path)
    transfers, dropped = RULES[_rules_for(model, source.format)](model, source)
    fitting, misfits = fitting_transfers(transfers, source.arrays, source.types)
    problems = [m.line() for m in misfits if not m.follows_classes(num_classes)]
    known = {t.key for t in transfers} | set(dropped)
    problems += [f"{key}: in the file, not in {model.name}" for key in source.arrays
                 if key not in known]
    if problems:
        shown = problems[:3] + ([f"... and {len(problems) - 3} more"] if len(problems) > 3
                                else [])
        raise ConversionError(f"{path}: nothing loaded: the file is not of this network at "
                              "these widths; only a head of another number of classes may "
                              "differ\n  " + "\n  ".join(shown))
    assign(fitting, source.arrays, source_name=path, strict=False,
           source_types=source.types, dropped=dropped)
    copied = {t.layer for t in fitting}
    layers = [layer.name for layer in weighted_layers(model)]
    return [n for n in layers if n in copied], [n for n in layers if n not in copied]


def _rules_for(model, file_format):
    if file_format in ("caffemodel", "keras"):
        return DEFAULT_RULES[file_format]
    registered = getattr(model, "metadata", {}).get("model")
    if registered:
        from keras_seg.registry import get_spec

        spec = get_spec(registered)
        if file_format in spec.rules:
            return spec.rules[file_format]
        for record in spec.weights:
            if record.format == file_format:
                return record.rules
    if file_format in DEFAULT_RULES:
        return DEFAULT_RULES[file_format]
    raise ConversionError(f"no conversion rules place .{file_format} files into "
                          f"{registered or model.name!r}; pass rules= one of "
                          f"{', '.join(RULES)}")
