"""Segmentation scores from an accumulated confusion matrix (never averaged per image)."""

import keras
import numpy as np
from keras import ops


def confusion_matrix(labels, predictions, num_classes, ignore_label=255):
    """Counts (true class, predicted class) over the labelled pixels, with NumPy.

    Raises:
        ValueError: a label that is neither a class nor ``ignore_label`` (naming it).

    Example:
        >>> confusion_matrix(np.array([0, 1, 255]), np.array([0, 0, 1]), 2).tolist()
        [[1, 0], [1, 0]]
    """
    labels, predictions = np.asarray(labels).ravel(), np.asarray(predictions).ravel()
    keep = labels != ignore_label if ignore_label is not None else np.ones(labels.shape, bool)
    bad = keep & ((labels < 0) | (labels >= num_classes))
    if bad.any():
        raise ValueError(f"label values {sorted(set(labels[bad].tolist()))[:10]} are not in "
                         f"[0, {num_classes}) and not the ignore label {ignore_label}")
    index = labels[keep].astype(np.int64) * num_classes + predictions[keep].astype(np.int64)
    return np.bincount(index, minlength=num_classes**2).reshape(num_classes, num_classes)


def scores(confusion, class_names=None):
    """Pixel accuracy, mean accuracy, mean IoU, frequency-weighted IoU and per-class IoU.

    Classes absent from both labels and predictions are left out of the means (their IoU is
    NaN), as in the FCN evaluation code.

    Args:
        confusion: (C, C) counts, rows = true class.
        class_names: optional names for the per-class table.

    Returns:
        A dict of floats, with ``per_class_iou`` a dict name -> IoU.

    Example:
        >>> round(scores(np.array([[3, 1], [0, 4]]))["mean_iou"], 4)
        0.775
    """
    confusion = np.asarray(confusion, np.float64)
    true, predicted, hits = confusion.sum(1), confusion.sum(0), np.diag(confusion)
    total = confusion.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        accuracy = hits / true
        iou = hits / (true + predicted - hits)
    present = true > 0
    names = class_names or [str(i) for i in range(len(confusion))]
    return {
        "pixel_accuracy": float(hits.sum() / total) if total else float("nan"),
        "mean_accuracy": float(np.nanmean(accuracy[present])) if present.any() else float("nan"),
        "mean_iou": float(np.nanmean(iou)) if np.isfinite(iou).any() else float("nan"),
        "frequency_weighted_iou": float(np.nansum(true / total * iou)) if total else float("nan"),
        "per_class_iou": {name: float(value) for name, value in zip(names, iou)},
    }


@keras.saving.register_keras_serializable(package="keras_seg")
class ConfusionMatrixScore(keras.metrics.Metric):
    """A Keras metric accumulating the confusion matrix over an epoch; reports one score.

    Usable in ``model.compile(metrics=[...])``: predictions are the argmax of the scores,
    pixels labelled ``ignore_label`` are skipped.

    Args:
        num_classes: C.
        score: ``"mean_iou"``, ``"pixel_accuracy"``, ``"mean_accuracy"`` or
            ``"frequency_weighted_iou"``.
        ignore_label: label skipped (None: none).
        **kwargs: metric arguments (``name``...).

    Example:
        >>> metric = ConfusionMatrixScore(21, "mean_iou", name="miou")
    """

    def __init__(self, num_classes, score="mean_iou", ignore_label=255, **kwargs):
        kwargs.setdefault("name", score)
        super().__init__(**kwargs)
        if score not in ("mean_iou", "pixel_accuracy", "mean_accuracy", "frequency_weighted_iou"):
            raise ValueError(f"unknown score {score!r}")
        self.num_classes, self.score, self.ignore_label = int(num_classes), score, ignore_label
        self.confusion = self.add_variable(shape=(self.num_classes, self.num_classes),
                                           initializer="zeros", dtype="float32",
                                           name="confusion")

    def update_state(self, y_true, y_pred, sample_weight=None):
        labels = ops.reshape(ops.cast(y_true, "int32"), (-1,))
        predictions = ops.reshape(ops.cast(ops.argmax(y_pred, axis=-1), "int32"), (-1,))
        valid = ops.logical_and(labels >= 0, labels < self.num_classes)
        if self.ignore_label is not None:
            valid = ops.logical_and(valid, ops.not_equal(labels, self.ignore_label))
        index = ops.where(valid, labels * self.num_classes + predictions, 0)
        # a segment sum of a static length compiles under every backend (JAX's bincount
        # needs its length known while tracing)
        counts = ops.segment_sum(ops.cast(valid, "float32"), index,
                                 num_segments=self.num_classes**2)
        counts = ops.reshape(counts, (self.num_classes, self.num_classes))
        self.confusion.assign(self.confusion + ops.cast(counts, "float32"))

    def result(self):
        confusion = self.confusion
        true, predicted = ops.sum(confusion, 1), ops.sum(confusion, 0)
        hits = ops.diagonal(confusion)
        total = ops.maximum(ops.sum(confusion), 1.0)
        if self.score == "pixel_accuracy":
            return ops.sum(hits) / total
        if self.score == "mean_accuracy":
            present = true > 0
            accuracy = ops.where(present, hits / ops.maximum(true, 1.0), 0.0)
            return ops.sum(accuracy) / ops.maximum(ops.sum(ops.cast(present, "float32")), 1.0)
        union = true + predicted - hits
        iou = ops.where(union > 0, hits / ops.maximum(union, 1.0), 0.0)
        if self.score == "frequency_weighted_iou":
            return ops.sum(true / total * iou)
        return ops.sum(iou) / ops.maximum(ops.sum(ops.cast(union > 0, "float32")), 1.0)

    def reset_state(self):
        self.confusion.assign(ops.zeros(self.confusion.shape, "float32"))

    def get_config(self):
        config = super().get_config()
        config.update(num_classes=self.num_classes, score=self.score,
                      ignore_label=self.ignore_label)
        return config
