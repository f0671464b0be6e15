"""Losses for segmentation: ``keras_seg.losses``, the public home of the training losses.

Each is a ``keras.losses.Loss`` called as ``loss(labels, logits)``, labels (N, H, W)
integers and logits (N, H, W, C), that skips ``ignore_label``: cross-entropy
(:class:`MaskedSparseCrossEntropy`), :class:`DiceLoss`, :class:`FocalLoss`,
:class:`LovaszSoftmaxLoss` and :class:`TverskyLoss` (the last four equal
segmentation_models.pytorch 0.6.0's multiclass losses), and :class:`LossSum` of several;
:func:`make_loss` builds one from a setting such as ``"ce+dice"`` (``keras-seg train --loss``).

Example:
    >>> from keras_seg.losses import DiceLoss, MaskedSparseCrossEntropy
    >>> loss = MaskedSparseCrossEntropy(ignore_label=255)  # doctest: +SKIP
    >>> dice = DiceLoss(num_classes=21, ignore_label=255)  # doctest: +SKIP
"""

from keras_seg.training.losses import (
    FocalLoss,
    LossSum,
    MaskedSparseCrossEntropy,
    make_loss,
    median_frequency_weights,
)
from keras_seg.training.region_losses import DiceLoss, LovaszSoftmaxLoss, TverskyLoss
from keras_seg.training.unet_weights import unet_weight_map

__all__ = ["DiceLoss", "FocalLoss", "LossSum", "LovaszSoftmaxLoss", "MaskedSparseCrossEntropy",
           "TverskyLoss", "make_loss", "median_frequency_weights", "unet_weight_map"]
