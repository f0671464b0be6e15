"""Region losses: Dice, Tversky and Lovasz-Softmax over the whole batch, with an ignore label.

Each is a ``keras.losses.Loss`` called as ``loss(labels, logits)`` with integer labels
(N, H, W) and logits (N, H, W, C), and gives one value for the batch: the pixels of all its
images are pooled per class, as segmentation_models.pytorch (smp) 0.6.0 does in multiclass
mode (``DiceLoss``, ``TverskyLoss``, ``LovaszLoss(per_image=False)``); their values equal
smp's with the same ``ignore_index``. Pixels labelled ``ignore_label`` (or outside
``[0, num_classes)``) count for nothing. The losses compute in float32 whatever the logits'
dtype (mixed precision), with ``keras.ops`` only (any backend).

Example:
    >>> loss = DiceLoss(num_classes=2, ignore_label=255)
    >>> labels = np.array([[[0, 1, 255]]])
    >>> logits = np.array([[[[4.0, 0.0], [0.0, 4.0], [9.0, 0.0]]]])
    >>> round(float(loss(labels, logits)), 4)
    0.018
"""

import keras
import numpy as np
from keras import ops

#: Smallest denominator of the overlap scores (smp's ``eps``).
EPSILON = 1e-7


def sparse_labels(y_true, num_classes, ignore_label):
    """(labels with the left-out pixels set to 0, which pixels count) of integer labels.

    A pixel counts when its label is in ``[0, num_classes)`` and is not ``ignore_label``.

    Args:
        y_true: (N, H, W) or (N, H, W, 1) labels, of any numeric dtype.
        num_classes: C.
        ignore_label: the label left out (None: none).

    Returns:
        (int32 labels, bool mask), both (N, H, W).

    Example:
        >>> labels, valid = sparse_labels(np.array([[[1, 255, 7]]]), 3, 255)
        >>> np.asarray(labels).tolist(), np.asarray(valid).tolist()
        ([[[1, 0, 0]]], [[[True, False, False]]])
    """
    labels = ops.cast(y_true, "int32")
    if len(labels.shape) == 4 and labels.shape[-1] == 1:
        labels = ops.squeeze(labels, -1)
    valid = ops.logical_and(labels >= 0, labels < num_classes)
    if ignore_label is not None:
        valid = ops.logical_and(valid, ops.not_equal(labels, ignore_label))
    return ops.where(valid, labels, ops.zeros_like(labels)), valid


def class_mean(values, class_weights):
    """The mean of per-class values, or their ``class_weights``-weighted mean (smp's rule).

    Example:
        >>> float(class_mean(np.array([1.0, 3.0], "float32"), [3.0, 1.0]))
        1.5
    """
    if class_weights is None:
        return ops.mean(values)
    weights = ops.convert_to_tensor(np.asarray(class_weights, "float32"))
    return ops.sum(values * weights) / ops.sum(weights)


class WholeBatchLoss(keras.losses.Loss):
    """A loss that is one value for the whole batch: it takes no pixel-wise ``sample_weight``.

    The base of keras-seg's Dice, Tversky, Lovasz-Softmax and focal losses: it keeps
    ``num_classes`` and ``ignore_label`` and checks the logits' classes. U-Net's weight map
    weights the cross-entropy term of a sum (:class:`~keras_seg.training.losses.LossSum`).

    Args:
        num_classes: C, the logits' last axis.
        ignore_label: label value that counts for nothing (None: none).
        name: the loss's name.
        **kwargs: ``keras.losses.Loss`` arguments (``dtype``).
    """

    #: Whether a pixel-wise ``sample_weight`` (U-Net's weight map) applies.
    takes_sample_weight = False

    def __init__(self, num_classes, ignore_label=255, name=None, **kwargs):
        kwargs.pop("reduction", None)
        super().__init__(name=name, reduction="sum", **kwargs)
        self.num_classes, self.ignore_label = int(num_classes), ignore_label

    def __call__(self, y_true, y_pred, sample_weight=None):
        if sample_weight is not None:
            raise ValueError(f"{type(self).__name__} is one value for the whole batch and takes "
                             "no pixel-wise sample_weight; U-Net's weight map weights the "
                             "cross-entropy term of a sum (make_loss('ce+...'))")
        return super().__call__(y_true, y_pred)

    def _inputs(self, y_true, y_pred):
        """(float32 logits, int32 labels with left-out pixels 0, float32 mask (N, H, W))."""
        classes = y_pred.shape[-1]
        if classes is not None and classes != self.num_classes:
            raise ValueError(f"{type(self).__name__}: logits of {classes} classes, expected "
                             f"num_classes={self.num_classes}")
        labels, valid = sparse_labels(y_true, self.num_classes, self.ignore_label)
        return ops.cast(y_pred, "float32"), labels, ops.cast(valid, "float32")

    def get_config(self):
        config = super().get_config()
        config.pop("reduction", None)
        config.update(num_classes=self.num_classes, ignore_label=self.ignore_label)
        return config


@keras.saving.register_keras_serializable(package="keras_seg")
class TverskyLoss(WholeBatchLoss):
    """Tversky loss: ``(1 - mean_c T_c) ** gamma`` over softmax probabilities.

    Salehi, Erdogmus & Gholipour 2017, "Tversky loss function for image segmentation using
    3D fully convolutional deep networks". Per class c, over the labelled pixels of the
    batch, ``T_c = TP / (TP + alpha FP + beta FN)`` with soft counts (``TP = sum p_c y_c``);
    a class absent from the labels contributes 0 (but still counts in the mean), as in
    smp's ``TverskyLoss(mode="multiclass")``. ``alpha = beta = 0.5`` is the Dice loss.

    Args:
        num_classes: C, the logits' last axis.
        ignore_label: label value that counts for nothing (None: none).
        alpha: weight of the false positives.
        beta: weight of the false negatives.
        gamma: power of the mean loss.
        class_weights: optional per-class weights: a weighted mean over classes.
        name: the loss's name.
        **kwargs: ``keras.losses.Loss`` arguments (``dtype``).

    Example:
        >>> loss = TverskyLoss(num_classes=3, ignore_label=255, alpha=0.3, beta=0.7)
        >>> labels = np.zeros((1, 2, 2), "int32")
        >>> round(float(loss(labels, np.zeros((1, 2, 2, 3), "float32"))), 4)
        0.1944
    """

    def __init__(self, num_classes, ignore_label=255, alpha=0.5, beta=0.5, gamma=1.0,
                 class_weights=None, name="tversky", **kwargs):
        super().__init__(num_classes, ignore_label, name=name, **kwargs)
        self.alpha, self.beta, self.gamma = float(alpha), float(beta), float(gamma)
        self.class_weights = None if class_weights is None else [float(w) for w in
                                                                 class_weights]

    def call(self, y_true, y_pred):
        logits, labels, valid = self._inputs(y_true, y_pred)
        mask = ops.expand_dims(valid, -1)
        probabilities = ops.softmax(logits, axis=-1) * mask
        truth = ops.one_hot(labels, self.num_classes, dtype="float32") * mask
        axes = tuple(range(len(probabilities.shape) - 1))  # all but the classes
        true_positive = ops.sum(probabilities * truth, axis=axes)
        predicted, actual = ops.sum(probabilities, axis=axes), ops.sum(truth, axis=axes)
        score = true_positive / ops.maximum(
            true_positive + self.alpha * (predicted - true_positive)
            + self.beta * (actual - true_positive), EPSILON)
        per_class = (1.0 - score) * ops.cast(actual > 0, "float32")
        return ops.power(class_mean(per_class, self.class_weights), self.gamma)

    def get_config(self):
        config = super().get_config()
        config.update(alpha=self.alpha, beta=self.beta, gamma=self.gamma,
                      class_weights=self.class_weights)
        return config


@keras.saving.register_keras_serializable(package="keras_seg")
class DiceLoss(TverskyLoss):
    """Soft Dice loss: ``1 - mean_c 2 TP_c / (P_c + Y_c)`` over softmax probabilities.

    Milletari, Navab & Ahmadi 2016, "V-Net". Per class c, over the labelled pixels of the
    batch, with soft counts: ``TP = sum p_c y_c``, ``P = sum p_c``, ``Y = sum y_c``; a class
    absent from the labels contributes 0 (but still counts in the mean), as in smp's
    ``DiceLoss(mode="multiclass")`` (``smooth=0``, ``eps=1e-7``). It is
    :class:`TverskyLoss` with ``alpha = beta = 0.5``.

    Args:
        num_classes: C, the logits' last axis.
        ignore_label: label value that counts for nothing (None: none).
        class_weights: optional per-class weights: a weighted mean over classes.
        name: the loss's name.
        **kwargs: ``keras.losses.Loss`` arguments (``dtype``).

    Example:
        >>> loss = DiceLoss(num_classes=2, ignore_label=255)
        >>> labels = np.array([[[0, 1]]])
        >>> round(float(loss(labels, np.array([[[[9.0, 0.0], [0.0, 9.0]]]]))), 4)
        0.0001
    """

    def __init__(self, num_classes, ignore_label=255, class_weights=None, name="dice",
                 **kwargs):
        for fixed in ("alpha", "beta", "gamma"):
            kwargs.pop(fixed, None)
        super().__init__(num_classes, ignore_label, class_weights=class_weights, name=name,
                         **kwargs)

    def get_config(self):
        config = super().get_config()
        for fixed in ("alpha", "beta", "gamma"):
            config.pop(fixed)
        return config


@keras.saving.register_keras_serializable(package="keras_seg")
class LovaszSoftmaxLoss(WholeBatchLoss):
    """Lovasz-Softmax loss: a convex surrogate of the mean Jaccard loss of the present classes.

    Berman, Rannen Triki & Blaschko 2018, "The Lovasz-Softmax loss". The labelled pixels of
    the whole batch are pooled; for each class present in the labels, the errors
    ``|y_c - p_c|`` are sorted and weighted by the Lovasz extension's gradient of the
    Jaccard loss; the loss is the mean over the present classes (0 when none), as smp's
    ``LovaszLoss(mode="multiclass", per_image=False)``. Class weights are not defined for it.

    Args:
        num_classes: C, the logits' last axis.
        ignore_label: label value that counts for nothing (None: none).
        name: the loss's name.
        **kwargs: ``keras.losses.Loss`` arguments (``dtype``).

    Example:
        >>> loss = LovaszSoftmaxLoss(num_classes=2, ignore_label=255)
        >>> labels = np.array([[[0, 1, 255]]])
        >>> logits = np.array([[[[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]]])
        >>> round(float(loss(labels, logits)), 4)
        0.5
    """

    def __init__(self, num_classes, ignore_label=255, name="lovasz_softmax", **kwargs):
        super().__init__(num_classes, ignore_label, name=name, **kwargs)

    def call(self, y_true, y_pred):
        logits, labels, valid = self._inputs(y_true, y_pred)
        classes = self.num_classes
        probabilities = ops.reshape(ops.softmax(logits, axis=-1), (-1, classes))
        valid = ops.reshape(valid, (-1,))
        truth = ops.reshape(ops.one_hot(labels, classes, dtype="float32"), (-1, classes))
        truth = ops.transpose(truth * ops.expand_dims(valid, -1))  # (C, P)
        errors = ops.abs(truth - ops.transpose(probabilities)) * valid
        # left-out pixels sort last (their errors are -1 in the key) and add nothing
        key = ops.stop_gradient(ops.where(valid > 0, errors, -ops.ones_like(errors)))
        order = ops.argsort(-key, axis=-1)
        errors = ops.take_along_axis(errors, order, axis=-1)
        truth = ops.take_along_axis(truth, order, axis=-1)
        total = ops.sum(truth, axis=-1, keepdims=True)
        intersection = total - ops.cumsum(truth, axis=-1)
        union = total + ops.cumsum(1.0 - truth, axis=-1)
        jaccard = 1.0 - intersection / union
        gradient = ops.concatenate([jaccard[:, :1], jaccard[:, 1:] - jaccard[:, :-1]], axis=-1)
        present = ops.cast(total[:, 0] > 0, "float32")
        per_class = ops.sum(errors * gradient, axis=-1) * present
        return ops.sum(per_class) / ops.maximum(ops.sum(present), 1.0)
