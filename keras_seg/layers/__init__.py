"""Caffe-faithful Keras layers, serializable and written with ``keras.ops``.

Beside each layer class its module declares what the library needs of it (ONNX form,
TFLite form, receptive-field rule, Caffe check, precision; :mod:`keras_seg.layers.support`);
:mod:`keras_seg.layers.keras_layers` does the same for the stock Keras layers.
"""

from keras_seg.layers import keras_layers  # noqa: F401  (the stock layers' support records)
from keras_seg.layers.batch_norm import BatchStatisticsNormalization
from keras_seg.layers.crop import CaffeCrop
from keras_seg.layers.deconv import GroupedConv2DTranspose
from keras_seg.layers.dropout import SamplingDropout
from keras_seg.layers.initializers import BilinearUpsampling, ContextIdentity, bilinear_kernel
from keras_seg.layers.lrn import LRN
from keras_seg.layers.pooling import CaffePooling2D, caffe_pool_size
from keras_seg.layers.scale import CaffeBN, Scale
from keras_seg.layers.sizes import PadTo, ValidSize, valid_sizes_near
from keras_seg.layers.unpooling import MaxPoolingWithArgmax2D, MaxUnpooling2D

__all__ = [
    "LRN",
    "BatchStatisticsNormalization",
    "BilinearUpsampling",
    "CaffeBN",
    "CaffeCrop",
    "CaffePooling2D",
    "ContextIdentity",
    "GroupedConv2DTranspose",
    "MaxPoolingWithArgmax2D",
    "MaxUnpooling2D",
    "PadTo",
    "SamplingDropout",
    "Scale",
    "ValidSize",
    "bilinear_kernel",
    "caffe_pool_size",
    "valid_sizes_near",
]
