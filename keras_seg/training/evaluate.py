"""Evaluation on a dataset: one confusion matrix over all pixels, then scores.

A model's predictions (:func:`evaluate_folder`) or label maps saved by any tool
(:func:`evaluate_predictions`, which loads no framework) are scored alike.
"""

import sys
import warnings

import numpy as np

from keras_seg.errors import InputError, ParameterError, ParameterWarning
from keras_seg.registry import class_names, unwrap
from keras_seg.training.confusion import confusion_matrix, scores
from keras_seg.training.data import check_mask_values, load_pair
from keras_seg.training.dataset_survey import survey
from keras_seg.training.layouts import LABEL_ID_COUNTS, LAYOUT_CLASSES, open_dataset
from keras_seg.training.mask_formats import read_class_names
from keras_seg.training.prediction_maps import (
    NO_CLASS,
    PredictionReader,
    check_prediction_file,
    default_prediction_ids,
    match_predictions,
)

#: With label ids, a share of labelled pixels predicted as no class above this is a sign
#: that the maps hold class indices instead (train ids read as label ids are mostly void).
_NO_CLASS_NOTE_SHARE = 0.1


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


def evaluate_predictions(predictions, data_dir, *, num_classes=None, ignore_label=255,
                         layout="folder", split="val", prediction_ids=None,
                         allow_unmatched=False, progress=True, **mask_format):
    """Score label maps saved by any tool against a dataset's masks.

    The maps are PNGs of class indices matched to the masks by name (see
    :mod:`~keras_seg.training.prediction_maps`); the scores are those of
    :func:`evaluate_folder`, from one confusion matrix over all pixels. They equal the
    official Cityscapes scripts' and FCN's ``score.py`` (the tests compare them).

    Args:
        predictions: the folder of saved label maps (searched recursively).
        data_dir: a folder with ``images/`` and ``masks/``, or the root of a ``layout``.
        num_classes: classes (default: as many as the dataset or the layout names).
        ignore_label: label value left out of the scores.
        layout: one of :data:`~keras_seg.choices.LAYOUTS`.
        split: the split of the layout.
        prediction_ids: ``"train"`` (class indices 0..N-1, as ``keras-seg predict`` writes)
            or ``"label"`` (the values the masks store, through the layout's label map:
            Cityscapes label ids, the benchmark's format); default ``"label"`` for
            cityscapes, ``"train"`` for the others.
        allow_unmatched: score the masks that have a prediction when some have none.
        progress: show a progress bar.
        **mask_format: ``colors``, ``annotations`` and ``classes``, as
            :func:`~keras_seg.training.layouts.open_dataset` takes them.

    Returns:
        The dict of :func:`evaluate_folder` plus ``unclassified``: per true class, the
        labelled pixels predicted as no class (a void label id), counted as misses.

    Raises:
        InputError: missing predictions (unless ``allow_unmatched``), a prediction that is
            no PNG label map, of another size than its mask, or holding a value that is no
            class, each naming the file.

    Example:
        >>> result = evaluate_predictions("results", "cityscapes", layout="cityscapes")
        ... # doctest: +SKIP
        >>> print(format_table(result))  # doctest: +SKIP
    """
    from tqdm.auto import tqdm

    source = open_dataset(data_dir, layout, split, ignore_label=ignore_label, **mask_format)
    names = source.class_names or LAYOUT_CLASSES.get(layout)
    num_classes = num_classes or (len(names) if names else None)
    if not num_classes:
        raise ParameterError("{num_classes} is needed: the {layout} layout names no classes "
                             "(or give their names with {classes})", layout=layout)
    ids = prediction_ids or default_prediction_ids(layout)
    reader = PredictionReader(num_classes, ids, source.label_map if ids == "label" else None,
                              ignore_label, LABEL_ID_COUNTS.get(layout) if ids == "label"
                              else None)
    matched, missing = match_predictions(predictions, source.pairs, layout)
    if missing and (not allow_unmatched or not matched):
        shown = ", ".join(missing[:3]) + (" ..." if len(missing) > 3 else "")
        hint = "; pass {allow_unmatched} to score the others" if matched else ""
        raise ParameterError("{count} of {total} masks have no prediction in {folder}: "
                             "{shown}" + hint, count=len(missing), total=len(source.pairs),
                             folder=str(predictions), shown=shown)
    for path, _ in matched:  # headers only: a colour rendering is refused before scoring
        check_prediction_file(path)
    confusion = np.zeros((num_classes, num_classes), np.int64)
    unclassified = np.zeros(num_classes, np.int64)
    quiet = not progress or not sys.stderr.isatty()
    for path, ref in tqdm(matched, unit="image", disable=quiet):
        truth = source.masks.read(ref)
        check_mask_values(truth, ref, num_classes, ignore_label)
        predicted = reader.read(path)
        if predicted.shape != truth.shape:
            raise InputError(f"{path}: the prediction is {predicted.shape[1]}x"
                             f"{predicted.shape[0]} but its mask {ref} is {truth.shape[1]}x"
                             f"{truth.shape[0]}")
        labelled = truth != ignore_label
        scored = labelled & (predicted != NO_CLASS)
        confusion += confusion_matrix(truth[scored], predicted[scored], num_classes,
                                      ignore_label)
        unclassified += np.bincount(truth[labelled & ~scored], minlength=num_classes)
    total = confusion.sum() + unclassified.sum()
    if ids == "label" and total and unclassified.sum() > _NO_CLASS_NOTE_SHARE * total:
        warnings.warn(ParameterWarning(
            "{share} of the labelled pixels were predicted as no class (label ids the "
            "dataset does not score); if the maps hold class indices, set {prediction_ids} "
            "to 'train'", share=f"{unclassified.sum() / total:.0%}"), stacklevel=2)
    names = names if names and len(names) == num_classes else None
    result = scores(confusion, list(names) if names else None, unclassified)
    result.update(images=len(matched), confusion=confusion.tolist(),
                  unclassified=unclassified.tolist())
    return result


def format_table(result):
    """The per-class IoU table and the summary scores as text."""
    lines = [f"{'class':24s} {'IoU':>7s}"]
    lines += [f"{name:24s} {iou:7.4f}" for name, iou in result["per_class_iou"].items()]
    lines.append("")
    for key in ("pixel_accuracy", "mean_accuracy", "mean_iou", "frequency_weighted_iou"):
        lines.append(f"{key:24s} {result[key]:7.4f}")
    lines.append(f"{'images':24s} {result['images']:7d}")
    if sum(result.get("unclassified", ())):
        lines.append(f"{'unclassified pixels':24s} {sum(result['unclassified']):7d}")
    return "\n".join(lines)
