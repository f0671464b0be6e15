"""Caffe rules: which blob fills which Keras variable, and the check against a prototxt.

Keras layers carry the Caffe layer names, so blob ``"<name>/<i>"`` fills the ``i``-th Caffe
parameter of the Keras layer ``<name>``; nothing is matched by position. Which Keras layer
classes stand for which Caffe layer types, and how each is checked, every layer class
declares beside itself (its ``caffe_check`` in :mod:`keras_seg.layers.support`).
"""

import keras

from keras_seg.convert.assign import KEEP, OI_TO_IO, OIHW_TO_HWIO, Transfer, weighted_layers
from keras_seg.convert.prototxt import first, net_layers
from keras_seg.errors import ConversionError
from keras_seg.layers import CaffeBN, Scale
from keras_seg.layers.support import caffe_counterparts

#: Layer types that carry no weights and need no counterpart check.
STRUCTURAL_TYPES = frozenset({
    "Input", "Data", "ImageData", "DenseImageData", "HDF5Data", "MemoryData", "DummyData",
    "Python", "ReLU", "Dropout", "Eltwise", "Concat", "Split", "Slice", "Softmax",
    "SoftmaxWithLoss", "Accuracy", "Silence", "ArgMax", "Flatten", "Sigmoid", "TanH",
})


def caffe_transfers(model):
    """The transfers that fill ``model`` from a caffemodel's blobs.

    Raises:
        ConversionError: a layer with weights has no Caffe counterpart rule.

    Example:
        >>> transfers = caffe_transfers(keras_seg.build("fcn8s"))  # doctest: +SKIP
    """
    transfers = []
    for layer in weighted_layers(model):
        name = layer.name
        if isinstance(layer, keras.layers.Conv2DTranspose):
            kind, params = "Deconvolution", [(layer.kernel, OIHW_TO_HWIO)]
        elif isinstance(layer, keras.layers.Conv2D):
            kind, params = "Convolution", [(layer.kernel, OIHW_TO_HWIO)]
        elif isinstance(layer, keras.layers.Dense):
            kind, params = "InnerProduct", [(layer.kernel, OI_TO_IO)]
        elif isinstance(layer, CaffeBN):  # the SegNet fork's BN: scale, shift (1xCx1x1)
            kind, params = "BN", [(layer.gamma, KEEP), (layer.beta, KEEP)]
        elif isinstance(layer, Scale):
            kind, params = "Scale", [(layer.gamma, KEEP)]
            params += [(layer.beta, KEEP)] if layer.use_bias else []
        else:
            raise ConversionError(
                f"layer {name}: no Caffe rule for a {type(layer).__name__} layer"
            )
        if not isinstance(layer, Scale) and layer.use_bias:
            params.append((layer.bias, KEEP))
        transfers += [
            Transfer(f"{name}/{i}", name, variable, layout, kind)
            for i, (variable, layout) in enumerate(params)
        ]
    return transfers


def check_prototxt(model, net, source="prototxt"):
    """Check that ``model`` has the layers of a parsed prototxt, with the same parameters.

    Every Convolution, Deconvolution, Scale, Pooling and Crop layer of the prototxt must be
    a model layer of the same name with the same kernel, stride, pad, dilation, width and
    offsets; every weighted model layer must be in the prototxt.

    Raises:
        ConversionError: listing each difference as prototxt value vs model value, or a
            layer type this converter does not know.
    """
    layers = net_layers(net)
    problems, seen = [], set()
    model_layers = {layer.name: layer for layer in _all_layers(model)}
    for spec in layers:
        name, kind = first(spec, "name", ""), first(spec, "type", "")
        if not caffe_counterparts(kind):
            if kind not in STRUCTURAL_TYPES:
                problems.append(f"layer {name}: unknown layer type {kind!r}")
            continue
        seen.add(name)
        layer = model_layers.get(name)
        if layer is None:
            problems.append(f"layer {name}: in the prototxt ({kind}) but not in the model")
            continue
        for field_name, expected, found in _layer_checks(spec, kind, layer, model_layers):
            if expected != found:
                problems.append(
                    f"layer {name}: prototxt {field_name} {expected}, model has {found}"
                )
    for layer in weighted_layers(model):
        if layer.name not in seen:
            problems.append(f"layer {layer.name}: in the model but not in the prototxt")
    if problems:
        raise ConversionError(
            f"{source} does not match model {model.name!r}:\n  " + "\n  ".join(problems)
        )


def _all_layers(model):
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)


def _layer_checks(spec, kind, layer, model_layers):
    """``(field, prototxt value, model value)`` of the model layer standing for ``spec``.

    The check is the one the layer's class (or its nearest base) declares for ``kind``
    (:mod:`keras_seg.layers.support`); a layer of another class gives one "layer class"
    difference naming the classes that stand for ``kind``.
    """
    counterparts = {cls: counterpart for cls, counterpart in caffe_counterparts(kind)
                    if counterpart.stands_for(spec, kind)}
    match = next((cls for cls in type(layer).__mro__ if cls in counterparts), None)
    if match is None:
        general = [cls.__name__ for cls in counterparts
                   if not any(cls is not other and issubclass(cls, other)
                              for other in counterparts)]
        yield "layer class", " or ".join(general), type(layer).__name__
        return
    check = counterparts[match].check
    if check is not None:
        yield from check(spec, layer, model_layers)
