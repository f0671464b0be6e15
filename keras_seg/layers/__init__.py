"""Caffe-faithful Keras layers, serializable and written with ``keras.ops``."""

from keras_seg.layers.crop import CaffeCrop
from keras_seg.layers.deconv import GroupedConv2DTranspose
from keras_seg.layers.initializers import BilinearUpsampling, ContextIdentity, bilinear_kernel
from keras_seg.layers.pooling import CaffePooling2D, caffe_pool_size
from keras_seg.layers.scale import Scale

__all__ = [
    "BilinearUpsampling",
    "CaffeCrop",
    "CaffePooling2D",
    "ContextIdentity",
    "GroupedConv2DTranspose",
    "Scale",
    "bilinear_kernel",
    "caffe_pool_size",
]
