"""Losses for segmentation: cross-entropy that skips an ignore label, with class weights."""

import keras
import numpy as np
from keras import ops


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
