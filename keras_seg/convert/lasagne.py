"""Rules for the original FC-DenseNet weights (Theano/Lasagne, SimJeg/FC-DenseNet).

``FC-DenseNet103_weights.npz`` holds ``arr_0`` ... ``arr_589``, Lasagne's parameters in the
order the network executes: ``firstconv`` (W, b); per batch-norm/ReLU/convolution layer
``beta, gamma, mean, inv_std, W, b``; per transition up the transposed convolution (W, b);
``finalConv`` (W, b). Convolution kernels are (out, in, h, w) and correlate
(``flip_filters=False``); transposed kernels are (in, out, h, w) and, with Lasagne's
default ``flip_filters=False``, are the transpose of a true convolution, so Keras needs them
flipped in space. Batch norm stores ``inv_std = 1 / sqrt(var + epsilon)`` (epsilon 1e-4),
folded back into a variance here.
"""

import re

import keras
import numpy as np

from keras_seg.convert.assign import KEEP, OIHW_TO_HWIO, Transfer
from keras_seg.errors import ConversionError

#: The epsilon folded into the release's inv_std (Lasagne's BatchNormLayer default).
EPSILON = 1e-4


def _order(name):
    """Where layer ``name`` runs in FC-DenseNet, as a sortable key (None: unweighted)."""
    part = {"norm": 0, "conv": 1, "convTrans": 0}
    if name == "firstconv":
        return (0,)
    if name == "finalConv":
        return (10**6,)
    match = re.fullmatch(r"(denseBlocksDown|transDownBlocks|bottleneck\.bottleneck|"
                         r"transUpBlocks|denseBlocksUp)(?:\.(\d+))?(?:\.layers\.(\d+))?"
                         r"\.(norm|conv|convTrans)", name)
    if match is None:
        return None
    kind, block, layer, piece = match.groups()
    block = int(block or 0)
    stage = {"denseBlocksDown": (1, 0), "transDownBlocks": (1, 1),
             "bottleneck.bottleneck": (2, 0), "transUpBlocks": (3, 0),
             "denseBlocksUp": (3, 1)}[kind]
    return (stage[0], block, stage[1], int(layer or 0), part[piece])


def lasagne_fc_densenet_transfers(model, source=None):
    """The transfers that fill an FC-DenseNet builder from the Lasagne release's arrays.

    Returns:
        (transfers, dropped source keys).

    Raises:
        ConversionError: the model is not an FC-DenseNet.

    Example:
        >>> model = keras_seg.build("fc_densenet103", batch_norm="batch", epsilon=1e-4)
        >>> transfers, _ = lasagne_fc_densenet_transfers(model)  # doctest: +SKIP
        >>> len(transfers)  # doctest: +SKIP
        590
    """
    layers = [layer for layer in model.layers if layer.weights]
    keyed = [(_order(layer.name), layer) for layer in layers]
    if any(key is None for key, _ in keyed):
        unknown = [layer.name for key, layer in keyed if key is None][:3]
        raise ConversionError(f"{model.name}: not an FC-DenseNet (layers {unknown} have no "
                              "place in the Lasagne release's order)")
    transfers, index = [], 0

    def add(layer, variable, layout=KEEP, transform=None):
        nonlocal index
        transfers.append(Transfer(f"arr_{index}", layer.name, variable, layout,
                                  transform=transform))
        index += 1

    for _, layer in sorted(keyed, key=lambda item: item[0]):
        if isinstance(layer, keras.layers.BatchNormalization):
            epsilon = EPSILON
            add(layer, layer.beta)
            add(layer, layer.gamma)
            add(layer, layer.moving_mean)
            add(layer, layer.moving_variance,
                transform=lambda inv_std, e=epsilon: 1.0 / np.square(inv_std) - e)
        elif isinstance(layer, keras.layers.Conv2DTranspose):
            add(layer, layer.kernel, OIHW_TO_HWIO, transform=lambda k: k[::-1, ::-1])
            add(layer, layer.bias)
        else:
            add(layer, layer.kernel, OIHW_TO_HWIO)
            add(layer, layer.bias)
    return transfers, []
