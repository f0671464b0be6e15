"""Loss with ignore label and class weights; confusion-matrix scores against hand counts."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_seg.training.losses import MaskedSparseCrossEntropy, median_frequency_weights
from keras_seg.training.metrics import ConfusionMatrixScore, confusion_matrix, scores


def _log_softmax(x):
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def test_all_ignored_batch_gives_zero_loss_and_zero_gradient():
    logits = tf.Variable(np.random.default_rng(0).normal(size=(2, 5, 6, 3)).astype("float32"))
    labels = np.full((2, 5, 6), 255)
    with tf.GradientTape() as tape:
        loss = MaskedSparseCrossEntropy(255)(labels, logits)
    assert float(loss) == 0.0
    assert not np.any(tape.gradient(loss, logits).numpy())


def test_loss_is_the_mean_over_labelled_pixels_and_ignores_255():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(2, 4, 5, 3)).astype("float32")
    labels = rng.integers(0, 3, (2, 4, 5))
    labels[0, :2] = 255
    keep = labels != 255
    expected = -np.mean(np.take_along_axis(_log_softmax(logits), np.where(keep, labels, 0)[
        ..., None], -1)[..., 0][keep])
    assert float(MaskedSparseCrossEntropy(255)(labels, logits)) == pytest.approx(expected, 1e-5)
    # the ignored pixels' logits do not matter
    changed = logits.copy()
    changed[0, :2] = 100
    assert float(MaskedSparseCrossEntropy(255)(labels, changed)) == pytest.approx(expected, 1e-5)


def test_class_weights_give_the_weighted_mean():
    logits = np.log(np.array([[[[0.5, 0.5], [0.9, 0.1]]]], "float32"))
    labels = np.array([[[0, 1]]])
    weights = [1.0, 3.0]
    expected = -(1 * np.log(0.5) + 3 * np.log(0.1)) / 4
    loss = MaskedSparseCrossEntropy(None, weights)(labels, logits)
    assert float(loss) == pytest.approx(expected, 1e-5)
    config = MaskedSparseCrossEntropy(7, weights).get_config()
    restored = MaskedSparseCrossEntropy.from_config(config)
    assert restored.ignore_label == 7 and restored.class_weights == weights


def test_median_frequency_weights_by_hand():
    # class 0: 60 px over 2 images of 50 -> 0.6; class 1: 20 px in 1 image -> 0.4;
    # class 2: 10 px in 1 image -> 0.2; median 0.4
    weights = median_frequency_weights([60, 20, 10], [100, 50, 50])
    np.testing.assert_allclose(weights, [0.4 / 0.6, 1.0, 2.0], rtol=1e-6)


def test_scores_by_hand():
    labels = np.array([0, 0, 0, 1, 1, 2, 255, 255])
    predicted = np.array([0, 0, 1, 1, 2, 2, 2, 0])
    confusion = confusion_matrix(labels, predicted, 3)
    assert confusion.tolist() == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    result = scores(confusion, ["a", "b", "c"])
    assert result["pixel_accuracy"] == pytest.approx(4 / 6)
    assert result["mean_accuracy"] == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
    iou = [2 / 3, 1 / 3, 1 / 2]  # 2/(3+2-2), 1/(2+2-1), 1/(1+2-1)
    assert result["per_class_iou"] == pytest.approx(dict(zip("abc", iou)))
    assert result["mean_iou"] == pytest.approx(np.mean(iou))
    assert result["frequency_weighted_iou"] == pytest.approx(3 / 6 * iou[0] + 2 / 6 * iou[1]
                                                             + 1 / 6 * iou[2])
    with pytest.raises(ValueError, match=r"label values \[7\]"):
        confusion_matrix(np.array([7]), np.array([0]), 3)


def test_keras_metric_accumulates_over_batches_not_per_image():
    rng = np.random.default_rng(2)
    metrics = {s: ConfusionMatrixScore(4, s) for s in
               ("mean_iou", "pixel_accuracy", "mean_accuracy", "frequency_weighted_iou")}
    total = np.zeros((4, 4), np.int64)
    for _ in range(3):
        labels = rng.integers(0, 4, (2, 6, 7))
        labels[rng.random(labels.shape) < 0.2] = 255
        logits = rng.normal(size=(2, 6, 7, 4)).astype("float32")
        for metric in metrics.values():
            metric.update_state(labels, logits)
        total += confusion_matrix(labels, logits.argmax(-1), 4)
    expected = scores(total)
    for name, metric in metrics.items():
        assert float(metric.result()) == pytest.approx(expected[name], abs=1e-6)
    clone = ConfusionMatrixScore.from_config(metrics["mean_iou"].get_config())
    assert clone.num_classes == 4 and isinstance(clone, keras.metrics.Metric)
