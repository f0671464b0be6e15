"""Rules for wkentaro/pytorch-fcn's state dicts: modules named as the Caffe layers.

The PyTorch FCN port (``torchfcn.models.FCN32s/16s/8s/8sAtOnce``, converted from the Caffe
releases) names each module after its Caffe layer and keeps Caffe's layouts: convolution
weights (out, in, kh, kw), transposed convolutions (in, out, kh, kw), so ``<layer>.weight``
and ``<layer>.bias`` fill what the Caffe blobs ``<layer>/0`` and ``<layer>/1`` fill. Its
at-once model multiplies pool3 and pool4 by constants in ``forward`` instead of keeping Scale
layers, so the frozen ``scale_pool*`` layers keep their values here.
"""

from keras_seg.convert.assign import Transfer
from keras_seg.convert.caffe import caffe_transfers

#: Caffe blob index -> PyTorch parameter name.
PARAMETERS = ("weight", "bias")


def torch_fcn_transfers(model, source=None):
    """The transfers that fill an FCN builder from a pytorch-fcn state dict.

    Returns:
        (transfers, dropped source keys): BatchNorm counters are dropped.

    Example:
        >>> transfers, _ = torch_fcn_transfers(keras_seg.build("fcn8s"))  # doctest: +SKIP
        >>> transfers[0].key  # doctest: +SKIP
        'conv1_1.weight'
    """
    transfers = [
        Transfer(f"{t.layer}.{PARAMETERS[int(t.key.rsplit('/', 1)[1])]}", t.layer, t.variable,
                 t.layout)
        for t in caffe_transfers(model) if not t.layer.startswith("scale_pool")
    ]
    keys = source.arrays if source is not None else {}
    return transfers, [key for key in keys if key.endswith("num_batches_tracked")]
