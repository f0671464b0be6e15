"""The confusion-matrix scores as a Keras metric (the NumPy scores live in ``confusion``)."""

import keras
from keras import ops

from keras_seg.training.confusion import confusion_matrix, scores  # noqa: F401  (their home before)


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
