"""Caffe rules: which blob fills which Keras variable, and the check against a prototxt.

Keras layers carry the Caffe layer names, so blob ``"<name>/<i>"`` fills the ``i``-th Caffe
parameter of the Keras layer ``<name>``; nothing is matched by position.
"""

import keras

from keras_seg.convert.assign import KEEP, OI_TO_IO, OIHW_TO_HWIO, Transfer, weighted_layers
from keras_seg.convert.prototxt import first, net_layers
from keras_seg.errors import ConversionError
from keras_seg.layers import (
    LRN,
    CaffeBN,
    CaffeCrop,
    CaffePooling2D,
    MaxPoolingWithArgmax2D,
    MaxUnpooling2D,
    Scale,
)

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
        check = _CHECKS.get(kind)
        if check is None:
            if kind not in STRUCTURAL_TYPES:
                problems.append(f"layer {name}: unknown layer type {kind!r}")
            continue
        seen.add(name)
        layer = model_layers.get(name)
        if layer is None:
            problems.append(f"layer {name}: in the prototxt ({kind}) but not in the model")
            continue
        for field_name, expected, found in check(spec, layer, model_layers):
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


def _pair(param, name, default):
    """Caffe's (h, w) of a spatial parameter: ``<x>_h``/``<x>_w`` or (repeated) ``name``."""
    prefix = name.removesuffix("_size")
    if f"{prefix}_h" in param or f"{prefix}_w" in param:
        return (first(param, f"{prefix}_h", default), first(param, f"{prefix}_w", default))
    values = param.get(name, [default])
    return (values[0], values[-1])


def _conv_checks(spec, layer, model_layers):
    is_deconv = first(spec, "type") == "Deconvolution"
    expected_class = keras.layers.Conv2DTranspose if is_deconv else keras.layers.Conv2D
    if not isinstance(layer, expected_class):
        yield "layer class", expected_class.__name__, type(layer).__name__
        return
    param = first(spec, "convolution_param", {})
    yield "num_output", first(param, "num_output"), layer.filters
    yield "kernel_size", _pair(param, "kernel_size", None), tuple(layer.kernel_size)
    yield "stride", _pair(param, "stride", 1), tuple(layer.strides)
    yield "dilation", _pair(param, "dilation", 1), tuple(layer.dilation_rate)
    yield "bias_term", first(param, "bias_term", True), layer.use_bias
    yield "group", first(param, "group", 1), getattr(layer, "groups", 1)
    yield "pad", _pair(param, "pad", 0), _model_pad(layer, model_layers)


def _model_pad(layer, model_layers):
    if isinstance(layer, keras.layers.Conv2DTranspose):
        crop = model_layers.get(f"{layer.name}_crop")
        return tuple(c[0] for c in crop.cropping) if crop is not None else (0, 0)
    pad = model_layers.get(f"{layer.name}_pad")
    if pad is not None:
        return tuple(p[0] for p in pad.padding)
    if layer.padding == "same":
        return tuple(d * (k - 1) // 2 for k, d in zip(layer.kernel_size, layer.dilation_rate))
    return (0, 0)


def _pool_checks(spec, layer, model_layers):
    param = first(spec, "pooling_param", {})
    if len(spec.get("top", [])) == 2:  # SegNet: the second top is the mask of the maxima
        if not isinstance(layer, MaxPoolingWithArgmax2D):
            yield "layer class", "MaxPoolingWithArgmax2D", type(layer).__name__
            return
        yield "pool", str(first(param, "pool", "MAX")).lower(), "max"
        yield "kernel_size", _pair(param, "kernel_size", None), (2, 2)
        yield "stride", _pair(param, "stride", 1), (2, 2)
        yield "pad", _pair(param, "pad", 0), (0, 0)
        return
    if not isinstance(layer, CaffePooling2D):
        yield "layer class", "CaffePooling2D", type(layer).__name__
        return
    yield "pool", str(first(param, "pool", "MAX")).lower(), layer.pool
    if first(param, "global_pooling", False):
        yield "global_pooling", True, False
        return
    yield "kernel_size", _pair(param, "kernel_size", None), layer.kernel_size
    yield "stride", _pair(param, "stride", 1), layer.strides
    yield "pad", _pair(param, "pad", 0), layer.pad


def _crop_checks(spec, layer, model_layers):
    if not isinstance(layer, CaffeCrop):
        yield "layer class", "CaffeCrop", type(layer).__name__
        return
    param = first(spec, "crop_param", {})
    yield "axis", first(param, "axis", 2), 2
    offsets = param.get("offset", [0])
    yield "offset", (offsets[0], offsets[-1]), layer.offset


def _scale_checks(spec, layer, model_layers):
    if not isinstance(layer, Scale):
        yield "layer class", "Scale", type(layer).__name__
        return
    param = first(spec, "scale_param", {})
    yield "bias_term", first(param, "bias_term", False), layer.use_bias


def _bn_checks(spec, layer, model_layers):
    if not isinstance(layer, CaffeBN):
        yield "layer class", "CaffeBN", type(layer).__name__
        return
    mode = str(first(first(spec, "bn_param", {}), "bn_mode", "INFERENCE"))
    yield "bn_mode", "INFERENCE", mode  # LEARN mode normalises with batch statistics


def _upsample_checks(spec, layer, model_layers):
    if not isinstance(layer, MaxUnpooling2D):
        yield "layer class", "MaxUnpooling2D", type(layer).__name__
        return
    param = first(spec, "upsample_param", {})
    yield "scale", first(param, "scale", 2), 2


def _lrn_checks(spec, layer, model_layers):
    if not isinstance(layer, LRN):
        yield "layer class", "LRN", type(layer).__name__
        return
    param = first(spec, "lrn_param", {})
    yield "norm_region", str(first(param, "norm_region", "ACROSS_CHANNELS")), "ACROSS_CHANNELS"
    yield "local_size", first(param, "local_size", 5), layer.local_size
    yield "alpha", first(param, "alpha", 1.0), layer.alpha
    yield "beta", first(param, "beta", 0.75), layer.beta
    yield "k", first(param, "k", 1.0), layer.k


_CHECKS = {
    "BN": _bn_checks,
    "Upsample": _upsample_checks,
    "LRN": _lrn_checks,
    "Convolution": _conv_checks,
    "Deconvolution": _conv_checks,
    "Pooling": _pool_checks,
    "Crop": _crop_checks,
    "Scale": _scale_checks,
}
