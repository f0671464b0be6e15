"""Each layer's ONNX form, looked up where the layer declares it, and the refusals.

A layer's ONNX form (its ``onnx`` aspect in :mod:`keras_seg.layers.support`, declared beside
the layer class; the stock Keras layers' in :mod:`keras_seg.layers.keras_layers`) takes the
:class:`~keras_seg.export.onnx_graph.GraphBuilder`, the layer and the ONNX names of its
input tensors (NCHW, in the order the layer was called with them) and returns the names of
its outputs. Forms are looked up by the exact layer class: a subclass may change ``call``,
so it is refused until it declares its own.
"""

import keras

from keras_seg.errors import UnsupportedLayerError
from keras_seg.layers.support import MISSING, Refused, aspect_of, registered_classes


def convert_layer(graph, layer, inputs):
    """The ONNX output names of ``layer`` applied to ``inputs`` (NCHW names).

    Example:
        >>> convert_layer(graph, model.get_layer("score"), ["x"])  # doctest: +SKIP
        ['score/conv']
    """
    return aspect_of(layer, "onnx", inherit=False)(graph, layer, inputs)


def _convertible():
    return sorted(cls.__name__ for cls in registered_classes()
                  if callable(aspect_of(cls, "onnx", inherit=False)))


def refuse_unsupported(model):
    """Raise before writing anything if a layer of ``model`` cannot be written.

    Raises:
        UnsupportedLayerError: naming the first such layer, its class and the reason.

    Example:
        >>> refuse_unsupported(keras_seg.build("fcn8s"))  # doctest: +SKIP
    """
    for layer in model.layers:
        kind = type(layer)
        where = f"layer {layer.name!r} ({kind.__module__}.{kind.__name__})"
        if isinstance(layer, keras.layers.InputLayer):
            continue
        form = aspect_of(layer, "onnx", inherit=False)
        if isinstance(form, Refused):
            raise UnsupportedLayerError(f"cannot write {where} to ONNX: {form.reason}")
        if form is MISSING:
            raise UnsupportedLayerError(
                f"cannot write {where} to ONNX: no converter for this layer type (supported: "
                f"{', '.join(_convertible())})")
        if getattr(layer, "data_format", "channels_last") != "channels_last":
            raise UnsupportedLayerError(f"cannot write {where} to ONNX: data_format "
                                        f"{layer.data_format!r} (only channels_last)")
        if layer.compute_dtype != "float32":
            raise UnsupportedLayerError(f"cannot write {where} to ONNX: it computes in "
                                        f"{layer.compute_dtype} (only float32)")
        axis = getattr(layer, "axis", -1)
        if isinstance(layer, keras.layers.BatchNormalization) and axis not in (-1, 3):
            raise UnsupportedLayerError(f"cannot write {where} to ONNX: normalises axis "
                                        f"{axis}, not the channels")
