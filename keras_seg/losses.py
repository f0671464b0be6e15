"""Losses for segmentation: ``keras_seg.losses``, the public home of the training losses.

Example:
    >>> from keras_seg.losses import MaskedSparseCrossEntropy
    >>> loss = MaskedSparseCrossEntropy(ignore_label=255)  # doctest: +SKIP
"""

from keras_seg.training.losses import MaskedSparseCrossEntropy, median_frequency_weights
from keras_seg.training.unet_weights import unet_weight_map

__all__ = ["MaskedSparseCrossEntropy", "median_frequency_weights", "unet_weight_map"]
