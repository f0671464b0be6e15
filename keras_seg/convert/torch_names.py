"""Rules for PyTorch state dicts of models whose Keras layer names are the module paths.

Families built with the layer names of a PyTorch port (FC-DenseNet: bfortuner/
pytorch_tiramisu's ``denseBlocksDown.0.layers.3.conv``...) read its state dict directly:
``<layer>.weight``/``.bias`` for convolutions (out, in, kh, kw), transposed convolutions
(in, out, kh, kw; PyTorch's transposed convolution is the adjoint of its correlation, as
Keras's is, so no flip) and linear layers (out, in); ``.weight``, ``.bias``,
``.running_mean``, ``.running_var`` for batch norm (the statistics carried exactly);
``num_batches_tracked`` is dropped.
"""

import keras

from keras_seg.convert.assign import KEEP, OI_TO_IO, OIHW_TO_HWIO, Transfer, weighted_layers
from keras_seg.errors import ConversionError


def torch_name_transfers(model, source=None):
    """The transfers that fill ``model`` from a state dict keyed by its layer names.

    Returns:
        (transfers, dropped source keys).

    Raises:
        ConversionError: a weighted layer of a kind these rules do not know.

    Example:
        >>> transfers, _ = torch_name_transfers(keras_seg.build("fc_densenet56"))  # doctest: +SKIP
        >>> transfers[0].key  # doctest: +SKIP
        'firstconv.weight'
    """
    transfers = []
    for layer in weighted_layers(model):
        name = layer.name
        if isinstance(layer, keras.layers.BatchNormalization):
            params = [("weight", layer.gamma, KEEP), ("bias", layer.beta, KEEP),
                      ("running_mean", layer.moving_mean, KEEP),
                      ("running_var", layer.moving_variance, KEEP)]
        elif isinstance(layer, keras.layers.Conv2D | keras.layers.Conv2DTranspose):
            params = [("weight", layer.kernel, OIHW_TO_HWIO)]
            params += [("bias", layer.bias, KEEP)] if layer.use_bias else []
        elif isinstance(layer, keras.layers.Dense):
            params = [("weight", layer.kernel, OI_TO_IO)]
            params += [("bias", layer.bias, KEEP)] if layer.use_bias else []
        else:
            raise ConversionError(f"layer {name}: no PyTorch rule for a {type(layer).__name__}")
        transfers += [Transfer(f"{name}.{key}", name, variable, layout)
                      for key, variable, layout in params]
    keys = source.arrays if source is not None else {}
    return transfers, [key for key in keys if key.endswith(".num_batches_tracked")]
