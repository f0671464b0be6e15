"""Evaluation on an image/mask folder: one confusion matrix over all pixels, then scores."""

import numpy as np

from keras_seg.training.data import folder_pairs, load_pair
from keras_seg.training.metrics import confusion_matrix, scores


def evaluate_folder(model_name, data_dir, weights, *, num_classes=None, ignore_label=255,
                    tile_size=None, model_args=None, progress=True):
    """Score a model on ``data_dir/images`` + ``data_dir/masks`` with its original pipeline.

    Returns:
        The :func:`~keras_seg.training.metrics.scores` dict plus ``images`` and
        ``confusion`` (a nested list).

    Example:
        >>> result = evaluate_folder("fcn8s", "data/val", "fcn8s.weights.h5")  # doctest: +SKIP
    """
    from tqdm.auto import tqdm

    from keras_seg.convert.load import load_weights
    from keras_seg.inference.predict import predict
    from keras_seg.registry import build, get_spec

    spec = get_spec(model_name)
    num_classes = num_classes or spec.num_classes
    model = build(model_name, num_classes=num_classes, **(model_args or {}))
    load_weights(model, weights)
    pairs, _ = folder_pairs(data_dir)
    confusion = np.zeros((num_classes, num_classes), np.int64)
    for image_path, mask_path in tqdm(pairs, unit="image", disable=not progress):
        image, mask = load_pair(image_path, mask_path, num_classes, ignore_label)
        labels = predict(model, image, tile_size=tile_size)
        confusion += confusion_matrix(mask, labels, num_classes, ignore_label)
    names = list(spec.classes) if len(spec.classes) == num_classes else None
    result = scores(confusion, names)
    result.update(images=len(pairs), confusion=confusion.tolist())
    return result


def format_table(result):
    """The per-class IoU table and the summary scores as text."""
    lines = [f"{'class':24s} {'IoU':>7s}"]
    lines += [f"{name:24s} {iou:7.4f}" for name, iou in result["per_class_iou"].items()]
    lines.append("")
    for key in ("pixel_accuracy", "mean_accuracy", "mean_iou", "frequency_weighted_iou"):
        lines.append(f"{key:24s} {result[key]:7.4f}")
    lines.append(f"{'images':24s} {result['images']:7d}")
    return "\n".join(lines)
