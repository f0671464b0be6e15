"""Pictures a person would rather look at than read: scores, training curves, summaries.

matplotlib draws off screen (the Agg backend); every function writes a PNG atomically (a
partial file renamed) and returns its path.
"""

import csv
import os
from pathlib import Path

import numpy as np


def _figure(width, height):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt, plt.figure(figsize=(width, height), dpi=100)


def _save(plt, figure, path):
    path = Path(path)
    partial = path.with_name(f".{path.name}.partial")
    figure.savefig(partial, format="png", bbox_inches="tight")
    plt.close(figure)
    os.replace(partial, path)
    return path


def plot_scores(result, path, title="scores"):
    """The row-normalised confusion matrix and the per-class IoU, side by side.

    Args:
        result: a dict from :func:`keras_seg.training.evaluate.evaluate_folder`.
        path: the PNG to write.
        title: the figure's title.

    Example:
        >>> plot_scores(evaluate_folder(model, "data/val"), "scores.png")  # doctest: +SKIP
    """
    confusion = np.asarray(result["confusion"], np.float64)
    names = list(result["per_class_iou"])
    ious = np.array(list(result["per_class_iou"].values()), np.float64)
    rows = confusion.sum(axis=1, keepdims=True)
    normalised = np.divide(confusion, rows, out=np.zeros_like(confusion), where=rows > 0)
    plt, figure = _figure(11, max(4, 0.35 * len(names) + 2))
    left, right = figure.subplots(1, 2)
    image = left.imshow(normalised, cmap="viridis", vmin=0, vmax=1)
    left.set_xticks(range(len(names)), names, rotation=90)
    left.set_yticks(range(len(names)), names)
    left.set_xlabel("predicted")
    left.set_ylabel("true")
    left.set_title("confusion (each row sums to 1)")
    figure.colorbar(image, ax=left, fraction=0.046)
    right.barh(range(len(names)), np.nan_to_num(ious), color="tab:blue")
    right.set_yticks(range(len(names)), names)
    right.invert_yaxis()
    right.set_xlim(0, 1)
    right.set_xlabel("IoU")
    right.set_title(f"mean IoU {result['mean_iou']:.3f}")
    figure.suptitle(title)
    return _save(plt, figure, path)


def plot_training_curves(log_csv, path):
    """Loss and scores per epoch from a training run's ``log.csv``.

    Example:
        >>> plot_training_curves("ckpt/log.csv", "ckpt/curves.png")  # doctest: +SKIP
    """
    with open(log_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f"{log_csv}: no epoch logged yet")
    epochs = [int(row["epoch"]) + 1 for row in rows]
    keys = [key for key in rows[0] if key not in ("epoch", "learning_rate")
            and not np.isnan([_number(row[key]) for row in rows]).all()]  # no "NA" columns
    losses = [key for key in keys if "loss" in key]
    scores = [key for key in keys if key not in losses]
    plt, figure = _figure(10, 4)
    left, right = figure.subplots(1, 2)
    for axis, group, label in ((left, losses, "loss"), (right, scores, "score")):
        for key in group:
            axis.plot(epochs, [_number(row[key]) for row in rows], marker="o", label=key)
        axis.set_xlabel("epoch")
        axis.set_ylabel(label)
        axis.xaxis.get_major_locator().set_params(integer=True)
        if group:
            axis.legend(fontsize="small")
    right.set_ylim(0, 1)
    return _save(plt, figure, path)


def _number(text):
    """A logged value, NaN where the CSV logger wrote "NA"."""
    try:
        return float(text)
    except (TypeError, ValueError):
        return float("nan")


def plot_summary(image, labels, overlay_image, result, path, class_names=None):
    """One picture of a run: input | labels | overlay | per-class IoU bars.

    Example:
        >>> plot_summary(image, labels, overlay(image, labels, palette), scores,
        ...              "summary.png")  # doctest: +SKIP
    """
    plt, figure = _figure(16, 4)
    axes = figure.subplots(1, 4)
    for axis, picture, title in zip(axes, (image, labels, overlay_image),
                                    ("input", "labels", "overlay")):
        axis.imshow(picture, interpolation="nearest")
        axis.set_title(title)
        axis.axis("off")
    names = class_names or list(result["per_class_iou"])
    ious = np.nan_to_num(np.array(list(result["per_class_iou"].values()), np.float64))
    axes[3].barh(range(len(names)), ious, color="tab:blue")
    axes[3].set_yticks(range(len(names)), names)
    axes[3].invert_yaxis()
    axes[3].set_xlim(0, 1)
    axes[3].set_title(f"held-out IoU (mean {result['mean_iou']:.3f})")
    return _save(plt, figure, path)
