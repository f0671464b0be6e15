"""Evaluation on a dataset: one confusion matrix over all pixels, then scores."""

import sys

import numpy as np

from keras_seg.registry import class_names, unwrap
from keras_seg.training.confusion import confusion_matrix, scores
from keras_seg.training.data import load_pair
from keras_seg.training.dataset_survey import survey
from keras_seg.training.layouts import open_dataset
from keras_seg.training.mask_formats import read_class_names


def evaluate_folder(model, data_dir, weights=None, *, num_classes=None, ignore_label=255,
                    tile_size=None, model_args=None, progress=True, layout="folder",
                    split="val", colors=None, annotations=None, classes=None):
    """Score a model on a dataset with its original pipeline.

    Args:
        model: a registered name or a model built by keras-seg (e.g. a reloaded checkpoint).
        data_dir: a folder with ``images/`` and ``masks/``, or the root of a ``layout``.
        weights: weights for a registered name (file or record; default: its published
            weights converted in the cache).
        num_classes: classes (default: the model's).
        ignore_label: label value left out of the scores.
        tile_size: blended tiling with this tile size.
        model_args: builder arguments for a registered name.
        progress: show a progress bar.
        layout: one of :data:`~keras_seg.choices.LAYOUTS` (``"labelme"``, ``"coco"``...).
        split: the split of the layout.
        colors: the colour map of colour masks.
        annotations: the COCO annotations file (default ``data_dir/annotations.json``).
        classes: class names for the table (default: the model's, else the dataset's);
            for labelme files without labels.txt, also their label order.

    Returns:
        The :func:`~keras_seg.training.metrics.scores` dict plus ``images`` and
        ``confusion`` (a nested list).

    Example:
        >>> result = evaluate_folder("fcn8s", "data/val", "fcn8s.weights.h5")  # doctest: +SKIP
    """
    from tqdm.auto import tqdm

    from keras_seg.inference.predict import _cached_default, predict

    if isinstance(model, str):
        from keras_seg.pretrained import build

        overrides = dict(model_args or {})
        if num_classes:
            overrides["num_classes"] = num_classes
        model = build(model, weights=weights or _cached_default(model), **overrides)
    model = unwrap(model)  # an adversarial trainer: its segmenter
    num_classes = num_classes or int(model.output_shape[-1])
    names = class_names(model)
    source = open_dataset(data_dir, layout, split, colors=colors, annotations=annotations,
                          classes=classes or names, ignore_label=ignore_label)
    if num_classes == 2 and getattr(source.masks, "label_map", 1) is None:
        for note in survey(source, num_classes, ignore_label).notes:  # 0/255 masks
            print(note, file=sys.stderr)
    pairs = source.pairs
    confusion = np.zeros((num_classes, num_classes), np.int64)
    quiet = not progress or not sys.stderr.isatty()  # no bar in a log file
    for image_path, mask_path in tqdm(pairs, unit="image", disable=quiet):
        image, mask = load_pair(image_path, mask_path, num_classes, ignore_label,
                                masks=source.masks)
        labels = predict(model, image, tile_size=tile_size)
        confusion += confusion_matrix(mask, labels, num_classes, ignore_label)
    names = read_class_names(classes) or names or source.class_names
    result = scores(confusion, list(names) if names and len(names) == num_classes else None)
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
