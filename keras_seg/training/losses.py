"""Losses for segmentation: cross-entropy and focal loss with an ignore label, and their sums.

:func:`make_loss` turns a loss setting (``"ce"``, ``"dice"``, ``"focal"``, ``"lovasz"``,
``"tversky"`` or a sum such as ``"ce+dice"``) into the loss a run trains with; the region
losses (Dice, Tversky, Lovasz-Softmax) are in :mod:`keras_seg.training.region_losses`.
"""

import keras
import numpy as np
from keras import ops

from keras_seg.choices import LOSSES_WITHOUT_CLASS_WEIGHTS
from keras_seg.training.config import check_loss, loss_spec
from keras_seg.training.region_losses import (
    DiceLoss,
    LovaszSoftmaxLoss,
    TverskyLoss,
    WholeBatchLoss,
    class_mean,
)


@keras.saving.register_keras_serializable(package="keras_seg")
class MaskedSparseCrossEntropy(keras.losses.Loss):
    """Pixel-wise sparse cross-entropy that skips ``ignore_label``, optionally class-weighted.

    The loss is the weighted sum over labelled pixels divided by the sum of their weights:
    without class weights, the mean over labelled pixels, as Caffe's ``SoftmaxWithLoss`` with
    ``ignore_label`` normalises (VALID); with them, the weighted mean (as PyTorch's
    ``cross_entropy(weight=...)``). A batch whose pixels are all ignored gives zero loss and
    zero gradient. A pixel-wise ``sample_weight`` (U-Net's weight map, shape (N, H, W))
    multiplies each pixel's term: ``-sum(w_map * log p) / labelled pixels``.

    Args:
        ignore_label: label value that contributes nothing (255 in VOC; None: none).
        class_weights: optional per-class weights (e.g. median-frequency weights).
        from_logits: ``y_pred`` are scores (True) or probabilities.
        **kwargs: ``keras.losses.Loss`` arguments (``name``...).

    Example:
        >>> loss = MaskedSparseCrossEntropy(ignore_label=255)
        >>> y_true = np.array([[[0, 255]]])
        >>> y_pred = np.array([[[[2.0, 0.0], [0.0, 9.0]]]])
        >>> round(float(loss(y_true, y_pred)), 4)
        0.1269
    """

    #: A pixel-wise ``sample_weight`` (U-Net's weight map) weights each pixel's term.
    takes_sample_weight = True

    def __init__(self, ignore_label=255, class_weights=None, from_logits=True,
                 name="masked_sparse_cross_entropy", **kwargs):
        kwargs.pop("reduction", None)
        super().__init__(name=name, reduction="sum", **kwargs)
        self.ignore_label = ignore_label
        self.class_weights = None if class_weights is None else [float(w) for w in class_weights]
        self.from_logits = from_logits

    def call(self, y_true, y_pred):
        y_pred = ops.cast(y_pred, "float32")  # mixed precision: the loss in float32
        num_classes = ops.shape(y_pred)[-1]
        labels = ops.cast(y_true, "int32")
        if len(labels.shape) == len(y_pred.shape):
            labels = ops.squeeze(labels, -1)
        valid = ops.ones_like(labels, dtype="bool")
        if self.ignore_label is not None:
            valid = ops.not_equal(labels, self.ignore_label)
        valid = ops.logical_and(valid, ops.logical_and(labels >= 0, labels < num_classes))
        safe = ops.where(valid, labels, ops.zeros_like(labels))
        log_probs = (ops.log_softmax(y_pred, axis=-1) if self.from_logits
                     else ops.log(ops.clip(y_pred, 1e-7, 1.0)))
        picked = ops.take_along_axis(log_probs, ops.expand_dims(safe, -1), axis=-1)[..., 0]
        weights = ops.cast(valid, y_pred.dtype)
        if self.class_weights is not None:
            table = ops.convert_to_tensor(np.asarray(self.class_weights, "float32"))
            weights = weights * ops.cast(ops.take(table, safe), y_pred.dtype)
        total = ops.sum(weights)
        scale = ops.cast(total > 0, y_pred.dtype) / ops.maximum(total, 1e-12)
        # per pixel, summed by the "sum" reduction: a pixel-wise sample_weight (U-Net's
        # weight map) multiplies each pixel's term before the sum
        return -picked * weights * scale

    def get_config(self):
        config = super().get_config()
        config.pop("reduction", None)
        config.update(ignore_label=self.ignore_label, class_weights=self.class_weights,
                      from_logits=self.from_logits)
        return config


@keras.saving.register_keras_serializable(package="keras_seg")
class FocalLoss(WholeBatchLoss):
    """Focal loss: per class, the binary focal loss of its logit, averaged over classes.

    Lin, Goyal, Girshick, He & Dollar 2017, "Focal Loss for Dense Object Detection". For
    each class c and labelled pixel, with ``t = [label == c]`` and the class's own logit
    ``x_c`` (a sigmoid, not the softmax): ``-(1 - p_t) ** gamma * log p_t``, times
    ``alpha t + (1 - alpha)(1 - t)`` when ``alpha`` is given; the mean over the labelled
    pixels, then the mean (or ``class_weights``-weighted mean) over classes, as smp 0.6.0's
    ``FocalLoss(mode="multiclass")``. A batch whose pixels are all ignored gives 0.

    Args:
        num_classes: C, the logits' last axis.
        ignore_label: label value that counts for nothing (None: none).
        gamma: the focusing power (0: binary cross-entropy).
        alpha: optional weight of the positives, in [0, 1].
        class_weights: optional per-class weights: a weighted mean over classes.
        name: the loss's name.
        **kwargs: ``keras.losses.Loss`` arguments (``dtype``).

    Example:
        >>> loss = FocalLoss(num_classes=2, ignore_label=255, gamma=2.0)
        >>> labels = np.array([[[0, 255]]])
        >>> round(float(loss(labels, np.zeros((1, 1, 2, 2), "float32"))), 4)
        0.1733
    """

    def __init__(self, num_classes, ignore_label=255, gamma=2.0, alpha=None,
                 class_weights=None, name="focal", **kwargs):
        super().__init__(num_classes, ignore_label, name=name, **kwargs)
        self.gamma = float(gamma)
        self.alpha = None if alpha is None else float(alpha)
        self.class_weights = None if class_weights is None else [float(w) for w in
                                                                 class_weights]

    def call(self, y_true, y_pred):
        logits, labels, valid = self._inputs(y_true, y_pred)
        target = ops.one_hot(labels, self.num_classes, dtype="float32")
        # binary cross-entropy of each class's logit, the stable form
        log_pt = (ops.maximum(logits, 0.0) - logits * target
                  + ops.log1p(ops.exp(-ops.abs(logits))))
        loss = ops.power(1.0 - ops.exp(-log_pt), self.gamma) * log_pt
        if self.alpha is not None:
            loss = loss * (self.alpha * target + (1.0 - self.alpha) * (1.0 - target))
        axes = tuple(range(len(loss.shape) - 1))
        mask = ops.expand_dims(valid, -1)
        per_class = ops.sum(loss * mask, axis=axes) / ops.maximum(ops.sum(valid), 1.0)
        return class_mean(per_class, self.class_weights)

    def get_config(self):
        config = super().get_config()
        config.update(gamma=self.gamma, alpha=self.alpha, class_weights=self.class_weights)
        return config


@keras.saving.register_keras_serializable(package="keras_seg")
class LossSum(keras.losses.Loss):
    """The sum of losses (``ce+dice``), each called on the same labels and logits.

    A pixel-wise ``sample_weight`` (U-Net's weight map) goes to the terms that take one (the
    cross-entropy); the whole-batch terms get none.

    Args:
        losses: the terms, ``keras.losses.Loss`` objects.
        name: the loss's name (default: the terms' names joined by ``_plus_``).
        **kwargs: ``keras.losses.Loss`` arguments (``dtype``).

    Example:
        >>> loss = LossSum([MaskedSparseCrossEntropy(255), DiceLoss(4, 255)])
        >>> loss.name
        'masked_sparse_cross_entropy_plus_dice'
    """

    def __init__(self, losses, name=None, **kwargs):
        kwargs.pop("reduction", None)
        losses = [keras.losses.deserialize(loss) if isinstance(loss, dict) else loss
                  for loss in losses]
        super().__init__(name=name or "_plus_".join(loss.name for loss in losses),
                         reduction="sum", **kwargs)
        self.losses = losses

    def __call__(self, y_true, y_pred, sample_weight=None):
        total = 0.0
        for loss in self.losses:
            weight = sample_weight if getattr(loss, "takes_sample_weight", True) else None
            total = total + loss(y_true, y_pred, sample_weight=weight)
        return total

    def call(self, y_true, y_pred):
        return self(y_true, y_pred)

    def get_config(self):
        config = super().get_config()
        config.pop("reduction", None)
        config["losses"] = [keras.losses.serialize(loss) for loss in self.losses]
        return config


#: The loss class of each loss name of a setting (``ce`` apart: it has no ``num_classes``).
_REGION_LOSSES = {"dice": DiceLoss, "focal": FocalLoss, "lovasz": LovaszSoftmaxLoss,
                  "tversky": TverskyLoss}


def make_loss(spec, num_classes, ignore_label=255, class_weights=None):
    """The loss a loss setting names: one loss, or the :class:`LossSum` of ``"ce+dice"``.

    ``ce`` is :class:`MaskedSparseCrossEntropy`; ``dice``, ``tversky`` and ``lovasz`` are
    :class:`~keras_seg.training.region_losses.DiceLoss`,
    :class:`~keras_seg.training.region_losses.TverskyLoss` (``alpha = beta = 0.5``) and
    :class:`~keras_seg.training.region_losses.LovaszSoftmaxLoss`; ``focal`` is
    :class:`FocalLoss` (``gamma = 2``); ``focal:gamma=3`` and ``tversky:alpha=0.3,beta=0.7``
    set other parameters (:func:`~keras_seg.training.config.loss_spec`). The terms of a sum
    are added with weight 1.

    Args:
        spec: ``"ce"``, ``"dice"``, ``"focal"``, ``"lovasz"``, ``"tversky"`` (with
            parameters: ``"focal:gamma=3"``) or a sum of them (``"ce+dice"``); None: ``"ce"``.
        num_classes: C, the logits' last axis.
        ignore_label: label value that counts for nothing (None: none).
        class_weights: optional per-class weights, given to every term (``lovasz`` takes
            none: refused).

    Returns:
        a ``keras.losses.Loss``.

    Raises:
        ParameterError: an unknown loss (the message lists the choices), a loss named
            twice, or class weights with ``lovasz``.

    Example:
        >>> make_loss("ce+dice", num_classes=4).name
        'masked_sparse_cross_entropy_plus_dice'
        >>> make_loss("tversky:alpha=0.3,beta=0.7", num_classes=4).beta
        0.7
        >>> make_loss("lovasz", 4, class_weights=[1, 1, 1, 2])
        Traceback (most recent call last):
        ...
        keras_seg.errors.ParameterError: class_weights: the lovasz loss takes no class weights; leave out class_weights or the lovasz term of loss
    """  # noqa: E501
    check_loss(spec, class_weights)
    if class_weights is not None:
        class_weights = [float(w) for w in class_weights]
    losses = []
    for term, parameters in loss_spec("ce" if spec is None else spec):
        if term == "ce":
            losses.append(MaskedSparseCrossEntropy(ignore_label, class_weights))
        elif term in LOSSES_WITHOUT_CLASS_WEIGHTS:
            losses.append(_REGION_LOSSES[term](num_classes, ignore_label, **parameters))
        else:
            losses.append(_REGION_LOSSES[term](num_classes, ignore_label,
                                               class_weights=class_weights, **parameters))
    return losses[0] if len(losses) == 1 else LossSum(losses)


def median_frequency_weights(pixel_counts, image_counts):
    """SegNet's median-frequency class weights: ``median(freq) / freq(c)``.

    ``freq(c)`` is the number of pixels of class c divided by the number of pixels of the
    images in which c appears (Eigen & Fergus 2015). Classes never seen get weight 0.

    Args:
        pixel_counts: (C,) pixels of each class over the dataset.
        image_counts: (C,) total pixels of the images containing each class.

    Returns:
        (C,) float32 weights.

    Example:
        >>> median_frequency_weights([10, 30, 0], [100, 100, 0]).tolist()
        [2.0, 0.6666666865348816, 0.0]
    """
    pixel_counts = np.asarray(pixel_counts, np.float64)
    image_counts = np.asarray(image_counts, np.float64)
    seen = (pixel_counts > 0) & (image_counts > 0)
    freq = np.zeros_like(pixel_counts)
    freq[seen] = pixel_counts[seen] / image_counts[seen]
    weights = np.zeros_like(freq)
    weights[seen] = np.median(freq[seen]) / freq[seen]
    return weights.astype(np.float32)
