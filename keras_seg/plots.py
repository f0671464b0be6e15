"""Pictures a person would rather look at than read: scores, training curves, summaries.

Each picture is drawn on a :class:`matplotlib.figure.Figure` with its own Agg canvas: no
pyplot and no backend switching, so a notebook's backend is left as it was. ``draw_*``
functions return the Figure (a notebook shows it with ``IPython.display.display(figure)``
under its inline backend); ``plot_*`` functions write it as a PNG atomically (a partial file
renamed) and return the path.

Example:
    >>> plot_scores(evaluate_folder(model, "data/val"), "scores.png")  # doctest: +SKIP
"""

import csv
from pathlib import Path

import numpy as np


def new_figure(width, height):
    """A Figure of ``width`` x ``height`` inches at 100 dpi, drawn by an Agg canvas.

    Example:
        >>> new_figure(4, 3).get_size_inches().tolist()
        [4.0, 3.0]
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    return figure


def save_png(figure, path):
    """Write ``figure`` to ``path`` as a PNG, under a partial name renamed at the end.

    Example:
        >>> save_png(draw_scores(result), "scores.png")  # doctest: +SKIP
        PosixPath('scores.png')
    """
    from keras_seg.files import atomic_path

    path = Path(path)
    with atomic_path(path) as partial:
        figure.savefig(partial, format="png", bbox_inches="tight")
    return path


def draw_scores(result, title="scores"):
    """The row-normalised confusion matrix and the per-class IoU, side by side.

    Args:
        result: a dict from :func:`keras_seg.training.evaluate.evaluate_folder`.
        title: the figure's title.

    Returns:
        A :class:`matplotlib.figure.Figure`.

    Example:
        >>> figure = draw_scores(evaluate_folder(model, "data/val"))  # doctest: +SKIP
    """
    confusion = np.asarray(result["confusion"], np.float64)
    names = list(result["per_class_iou"])
    ious = np.array(list(result["per_class_iou"].values()), np.float64)
    rows = confusion.sum(axis=1, keepdims=True)
    normalised = np.divide(confusion, rows, out=np.zeros_like(confusion), where=rows > 0)
    figure = new_figure(11, max(4, 0.35 * len(names) + 2))
    figure.set_layout_engine("constrained")  # the bars' class names clear the colour bar
    left, right = figure.subplots(1, 2)
    image = left.imshow(normalised, cmap="viridis", vmin=0, vmax=1)
    left.set_xticks(range(len(names)), names, rotation=90)
    left.set_yticks(range(len(names)), names)
    left.set_xlabel("predicted")
    left.set_ylabel("true")
    left.set_title("confusion (each row sums to 1)")
    figure.colorbar(image, ax=left, fraction=0.046)
    _iou_bars(right, names, ious)
    right.set_title(f"mean IoU {result['mean_iou']:.3f}")
    figure.suptitle(title)
    return figure


def plot_scores(result, path, title="scores"):
    """:func:`draw_scores` written to the PNG ``path``; returns the path.

    Example:
        >>> plot_scores(evaluate_folder(model, "data/val"), "scores.png")  # doctest: +SKIP
    """
    return save_png(draw_scores(result, title), path)


def draw_training_curves(log_csv):
    """Loss and scores per epoch from a training run's ``log.csv``, as a Figure.

    Example:
        >>> figure = draw_training_curves("ckpt/log.csv")  # doctest: +SKIP
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
    figure = new_figure(10, 4)
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
    return figure


def plot_training_curves(log_csv, path):
    """:func:`draw_training_curves` written to the PNG ``path``; returns the path.

    Example:
        >>> plot_training_curves("ckpt/log.csv", "ckpt/curves.png")  # doctest: +SKIP
    """
    return save_png(draw_training_curves(log_csv), path)


def _number(text):
    """A logged value, NaN where the CSV logger wrote "NA"."""
    try:
        return float(text)
    except (TypeError, ValueError):
        return float("nan")


#: The colour of unlabelled (ignore-label) pixels in label panels: no class uses white.
IGNORE_RGB = (255, 255, 255)


def draw_summary(image, labels, overlay_image, result, palette, class_names, truth=None,
                 ignore_label=255):
    """One picture of a run: input | ground truth | labels | overlay | per-class IoU.

    Label maps are drawn in ``palette`` colours and the ignore label of ``truth`` in
    :data:`IGNORE_RGB`, with a legend of the class names and colours below.

    Args:
        image: (H, W, 3) uint8 RGB input.
        labels: (H, W) predicted class indices.
        overlay_image: (H, W, 3) uint8 labels blended over the image.
        result: held-out scores (``per_class_iou``, ``mean_iou``).
        palette: (C, 3) uint8 colour per class.
        class_names: name per class.
        truth: (H, W) ground-truth labels, or None for no truth panel.
        ignore_label: the value of unlabelled truth pixels.

    Example:
        >>> figure = draw_summary(image, labels, overlaid, scores, SHAPE_PALETTE,
        ...                       SHAPE_CLASSES, truth)  # doctest: +SKIP
    """
    palette = np.asarray(palette, np.uint8)
    panels = [(image, "input")]
    if truth is not None:
        panels.append((_colour(truth, palette, ignore_label), "ground truth"))
    panels += [(_colour(labels, palette, ignore_label), "prediction"),
               (overlay_image, "overlay")]
    figure = new_figure(4 * (len(panels) + 1), 4.4)
    axes = figure.subplots(1, len(panels) + 1)
    for axis, (picture, title) in zip(axes, panels):
        axis.imshow(picture, interpolation="nearest")
        axis.set_title(title)
        axis.axis("off")
    ious = np.nan_to_num(np.array(list(result["per_class_iou"].values()), np.float64))
    _iou_bars(axes[-1], list(class_names), ious, palette)
    axes[-1].set_title(f"held-out IoU (mean {result['mean_iou']:.3f})")
    _legend(figure, palette, class_names, with_ignore=truth is not None
            and bool(np.any(np.asarray(truth) == ignore_label)))
    return figure


def plot_summary(image, labels, overlay_image, result, path, palette, class_names,
                 truth=None, ignore_label=255):
    """:func:`draw_summary` written to the PNG ``path``; returns the path.

    Example:
        >>> plot_summary(image, labels, overlaid, scores, "summary.png", SHAPE_PALETTE,
        ...              SHAPE_CLASSES, truth)  # doctest: +SKIP
    """
    return save_png(draw_summary(image, labels, overlay_image, result, palette, class_names,
                                 truth, ignore_label), path)


def _colour(labels, palette, ignore_label):
    """Class indices as RGB in ``palette`` colours; the ignore label (or any other) white."""
    labels = np.asarray(labels)
    known = (labels >= 0) & (labels < len(palette)) & (labels != ignore_label)
    rgb = np.full((*labels.shape, 3), IGNORE_RGB, np.uint8)
    rgb[known] = palette[labels[known]]
    return rgb


def _iou_bars(axis, names, ious, palette=None):
    colours = (np.asarray(palette[: len(names)]) / 255 if palette is not None
               else "tab:blue")
    axis.barh(range(len(names)), np.nan_to_num(ious), color=colours, edgecolor="black")
    axis.set_yticks(range(len(names)), names)
    axis.invert_yaxis()
    axis.set_xlim(0, 1)
    axis.set_xlabel("IoU")


def _legend(figure, palette, class_names, with_ignore):
    from matplotlib.patches import Patch

    handles = [Patch(facecolor=np.asarray(colour) / 255, edgecolor="black", label=name)
               for colour, name in zip(palette, class_names)]
    if with_ignore:
        handles.append(Patch(facecolor=np.asarray(IGNORE_RGB) / 255, edgecolor="black",
                             label="ignored (not scored)"))
    figure.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False,
                  bbox_to_anchor=(0.5, -0.02))


def draw_class_histogram(report, ignore_label=255, title="classes"):
    """Pixels and images per label of a dataset survey, as two bar charts (log pixels).

    Args:
        report: a :class:`~keras_seg.training.dataset_survey.Survey`.
        ignore_label: the label drawn grey and named "ignore".
        title: the figure's title.

    Returns:
        A :class:`matplotlib.figure.Figure`.

    Example:
        >>> figure = draw_class_histogram(survey(open_dataset("data/train")))
        ... # doctest: +SKIP
    """
    labels = sorted(report.pixels)
    names = ["ignore" if label == ignore_label else report.name(label) for label in labels]
    colours = ["0.6" if label == ignore_label else "C0" for label in labels]
    figure = new_figure(max(6, 0.4 * len(labels) + 3), 6)
    pixels, images = figure.subplots(2, 1, sharex=True)
    positions = range(len(labels))
    pixels.bar(positions, [report.pixels[label] for label in labels], color=colours)
    pixels.set_yscale("log")
    pixels.set_ylabel("pixels")
    images.bar(positions, [report.images[label] for label in labels], color=colours)
    images.set_ylabel("images")
    images.set_xticks(positions, names, rotation=90)
    figure.suptitle(f"{title}: {report.pairs} masks")
    return figure


def plot_class_histogram(report, path, ignore_label=255, title="classes"):
    """Write :func:`draw_class_histogram` as a PNG; returns the path.

    Example:
        >>> plot_class_histogram(report, "classes.png")  # doctest: +SKIP
        PosixPath('classes.png')
    """
    return save_png(draw_class_histogram(report, ignore_label, title), path)
