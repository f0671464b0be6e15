"""Segmentation scores from an accumulated confusion matrix (never averaged per image).

NumPy only: scoring saved label maps (:func:`keras_seg.evaluate_predictions`) loads no
framework. The Keras metric that accumulates the same matrix during training is
:class:`~keras_seg.training.metrics.ConfusionMatrixScore`.

Example:
    >>> confusion = confusion_matrix(np.array([0, 1, 1]), np.array([0, 1, 0]), 2)
    >>> round(scores(confusion)["mean_iou"], 4)
    0.5
"""

import numpy as np


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


def scores(confusion, class_names=None, unclassified=None):
    """Pixel accuracy, mean accuracy, mean IoU, frequency-weighted IoU and per-class IoU.

    Classes absent from both labels and predictions are left out of the means (their IoU is
    NaN), as in the FCN evaluation code (``np.nanmean``) and the Cityscapes scripts.

    Args:
        confusion: (C, C) counts, rows = true class.
        class_names: optional names for the per-class table.
        unclassified: optional (C,) counts of labelled pixels of each true class predicted
            as no class at all (a Cityscapes void label id): misses of their class (in its
            IoU's union and in every accuracy's total), false positives of none, as the
            Cityscapes benchmark counts them.

    Returns:
        A dict of floats, with ``per_class_iou`` a dict name -> IoU.

    Example:
        >>> round(scores(np.array([[3, 1], [0, 4]]))["mean_iou"], 4)
        0.775
        >>> round(scores(np.array([[3, 1], [0, 4]]), unclassified=[0, 2])["mean_iou"], 4)
        0.6607
    """
    confusion = np.asarray(confusion, np.float64)
    missed = (np.zeros(len(confusion)) if unclassified is None
              else np.asarray(unclassified, np.float64))
    true, predicted, hits = confusion.sum(1) + missed, confusion.sum(0), np.diag(confusion)
    total = true.sum()
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
