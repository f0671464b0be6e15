"""``load_weights``: read a file, apply the rules of its layout, assign strictly.

Readers (:mod:`keras_seg.convert.readers`) know formats, not families; rules know which
source array fills which variable; :func:`~keras_seg.convert.assign.assign` checks
everything before it changes anything. ``strict`` means the same for every format.
"""

import os

from keras_seg.convert.assign import assign, fitting_layers, weighted_layers
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


def load_matching(model, path):
    """Load every layer of a weights file whose arrays fit ``model``; the rest stay as built.

    For fine-tuning from a file of one's own (a checkpoint, a ``.weights.h5``) into a model
    with another number of classes: the layers whose shapes follow the classes keep their
    initial values (FCN/DilatedNet score layers their zero or identity start, the
    upsampling deconvolutions their bilinear kernels); every other layer must fit.

    Args:
        model: a model from :func:`keras_seg.build`.
        path: any file :func:`load_weights` reads.

    Returns:
        (copied, kept): names of the layers loaded and of those left as initialised.

    Raises:
        ConversionError: fewer than half of the model's layers fit (a file of another
            network), naming the first that do not; nothing is loaded then.

    Example:
        >>> model = keras_seg.build("fcn8s", num_classes=3)
        >>> copied, kept = load_matching(model, "ckpt/best.keras")  # doctest: +SKIP
        >>> kept  # doctest: +SKIP
        ['score_fr', 'upscore2', 'score_pool4', 'upscore_pool4', 'score_pool3', 'upscore8']
    """
    path = os.fspath(path)
    source = read_source(path)
    transfers, dropped = RULES[_rules_for(model, source.format)](model, source)
    fitting, problems = fitting_layers(transfers, source.arrays)
    layers = [layer.name for layer in weighted_layers(model)]
    copied = [name for name in layers if name in {t.layer for t in fitting}]
    kept = [name for name in layers if name not in copied]
    if len(copied) * 2 < len(layers):
        shown = "\n  ".join(problems[:3]) or "no array of the file has a layer of the model"
        raise ConversionError(f"{path}: nothing loaded, only {len(copied)} of the "
                              f"{len(layers)} layers of {model.name} fit; is it a file of "
                              f"this network at these widths?\n  {shown}")
    assign(fitting, source.arrays, source_name=path, strict=False,
           source_types=source.types, dropped=dropped)
    return copied, kept


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
