"""Segmentation scores: ``keras_seg.metrics``, the public home of the confusion-matrix scores.

Example:
    >>> import numpy as np
    >>> from keras_seg.metrics import confusion_matrix, scores
    >>> confusion = confusion_matrix(np.array([[0, 1]]), np.array([[0, 1]]), 2)
    >>> scores(confusion)["mean_iou"]
    1.0
"""

from keras_seg.training.evaluate import format_table
from keras_seg.training.metrics import ConfusionMatrixScore, confusion_matrix, scores

__all__ = ["ConfusionMatrixScore", "confusion_matrix", "format_table", "scores"]
