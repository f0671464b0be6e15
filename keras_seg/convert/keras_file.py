"""Rules for Keras weights files (``.weights.h5`` and the weights inside ``.keras``).

Keras names a layer's group in its weights file after the layer's class, in the order of
``model.layers`` (``layers/conv2d``, ``layers/conv2d_1``...; see ``keras.saving``), and its
variables ``vars/0, 1...`` (trainable first). These rules rebuild those paths from the model,
so a Keras file goes through the same strict, all-or-nothing assignment as any other format.
Optimizer state in a ``.keras`` training checkpoint is not a model weight and is dropped.
"""

import keras

from keras_seg._keras_compat import snake_case
from keras_seg.convert.assign import Transfer
from keras_seg.errors import ConversionError

#: Groups of a Keras weights file that hold no model weights.
DROPPED_PREFIXES = ("optimizer/",)


def keras_transfers(model, source=None):
    """The transfers that fill ``model`` from the arrays of its own Keras weights file.

    Args:
        model: a Functional model.
        source: the :class:`~keras_seg.convert.readers.SourceWeights` (unused: the paths
            follow from the model alone).

    Returns:
        (transfers, dropped source keys).

    Raises:
        ConversionError: a layer keeps variables in sub-layers this rule does not walk.

    Example:
        >>> transfers, _ = keras_transfers(keras_seg.build("fcn8s"))  # doctest: +SKIP
        >>> transfers[0].key  # doctest: +SKIP
        'layers/conv2d/vars/0'
    """
    transfers = list(_walk(model.layers, "layers"))
    keys = source.arrays if source is not None else {}
    dropped = [key for key in keys if key.startswith(DROPPED_PREFIXES)]
    return transfers, dropped


def _walk(layers, prefix):
    used = {}
    for layer in layers:
        base = snake_case(type(layer).__name__)
        used[base] = used.get(base, -1) + 1
        name = base if used[base] == 0 else f"{base}_{used[base]}"
        if isinstance(layer, keras.Model):
            yield from _walk(layer.layers, f"{prefix}/{name}/layers")
            continue
        own = layer._trainable_variables + layer._non_trainable_variables
        if len(own) != len(layer.weights):
            raise ConversionError(f"layer {layer.name}: keeps weights in sub-layers; no Keras "
                                  "file rule for a "
                                  f"{type(layer).__name__}")
        for i, variable in enumerate(own):
            yield Transfer(f"{prefix}/{name}/vars/{i}", layer.name, variable)
