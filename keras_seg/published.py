"""What each release's paper or README reports, and a measured score printed beside it.

Every :class:`~keras_seg.registry.WeightsRecord` carries the :class:`PublishedScore` s of
its file: the dataset, split and metric, the value in percent and where it is printed, and
the evaluation protocol that reproduces it with keras-seg's layouts (layout, split, ignore
label). A release that prints no score has one ``PublishedScore`` with ``value=None`` and
``where=NOT_REPORTED``; a figure this project could not check against its source has
``value=None`` and a ``where`` that begins with ``NOT_VERIFIED``: no number is written that
was not read in its source.

``keras-seg evaluate NAME DATA`` prints :func:`published_beside` after its table: the
measured score beside the published one, with a note wherever the run's protocol is not the
paper's.

Example:
    >>> from keras_seg.registry import get_weights_record
    >>> str(get_weights_record("fcn8s").scores[0])
    'PASCAL VOC 2011 seg11valid mean IoU 65.5 (shelhamer/fcn.berkeleyvision.org README)'
"""

import math
from dataclasses import dataclass, field
from pathlib import Path

from keras_seg.choices import IGNORE_LABEL, LAYOUTS

#: ``where`` of a release that reports no score (nor does its paper for this file).
NOT_REPORTED = "not reported"
#: Beginning of ``where`` for a figure that exists but could not be checked here.
NOT_VERIFIED = "not verified here"
#: Published metrics and the key of an evaluation result that measures each (a fraction);
#: ``"foreground IoU"`` is the IoU of class 1 (U-Net's cells).
METRIC_KEYS = {"mean IoU": "mean_iou", "pixel accuracy": "pixel_accuracy",
               "mean class accuracy": "mean_accuracy", "foreground IoU": None}


@dataclass(frozen=True)
class PublishedScore:
    """One score a paper or release prints for a weights file, and its protocol.

    Attributes:
        dataset: the benchmark, as the source names it (``"PASCAL VOC 2011"``).
        split: the split the source scored (``"seg11valid"``, ``"test"``); for a layout
            this is also the ``--split`` that reads it.
        metric: a key of :data:`METRIC_KEYS` (``"mean IoU"``).
        value: the score in percent, or None (nothing reported, or not verified here).
        where: where the value is printed (``"CVPR 2015 Table 3"``, a README), or
            :data:`NOT_REPORTED`, or a sentence beginning with :data:`NOT_VERIFIED`.
        layout: the :data:`~keras_seg.choices.LAYOUTS` entry that reads the dataset in the
            file's class order, or None when none does.
        ignore_label: the ``--ignore-label`` of a run scored as the source did (after the
            layout's label map: CamVid's void and Cityscapes' unevaluated classes become
            255), or None when no label is left out.
        held_out: the split's labels are kept by a benchmark server: no local run
            reproduces the figure.
        note: what else a reader must know (how the figure was checked, what the source
            says of the file).

    Example:
        >>> PublishedScore("CamVid", "test", "mean IoU", 66.9, "a paper").measured(
        ...     {"mean_iou": 0.65})
        65.0
    """

    dataset: str
    split: str
    metric: str
    value: float | None
    where: str
    layout: str | None = None
    ignore_label: int | None = IGNORE_LABEL
    held_out: bool = False
    note: str = field(default="", repr=False)

    def __post_init__(self):
        if self.metric not in METRIC_KEYS:
            raise ValueError(f"metric must be one of {', '.join(METRIC_KEYS)}, got "
                             f"{self.metric!r}")
        if self.layout is not None and self.layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS} or None, got {self.layout!r}")
        if self.value is None and not (self.where == NOT_REPORTED
                                       or self.where.startswith(NOT_VERIFIED)):
            raise ValueError(f"a score without a value says {NOT_REPORTED!r} or begins with "
                             f"{NOT_VERIFIED!r}, got {self.where!r}")

    def __str__(self):
        """One line with its source: ``CamVid test mean IoU 66.9 (where)``."""
        if self.value is None:
            return f"{self._head()}: {self.where}"
        return f"{self.short()} ({self.where})"

    def short(self):
        """The score without its source: ``CamVid test mean IoU 66.9``."""
        if self.value is None:
            return f"{self._head()}: {self.where.split(':')[0]}"
        return f"{self._head()} {self.value}"

    def _head(self):
        if self.where == NOT_REPORTED:
            return self.dataset
        return f"{self.dataset} {self.split} {self.metric}"

    def measured(self, result):
        """This metric in an evaluation result (:func:`keras_seg.evaluate`), in percent.

        Returns:
            The value, or None when the result does not hold it.
        """
        key = METRIC_KEYS[self.metric]
        if key is None:  # foreground IoU: the second class's
            values = list(result.get("per_class_iou", {}).values())
            value = values[1] if len(values) > 1 else None
        else:
            value = result.get(key)
        if value is None or not math.isfinite(value):
            return None
        return round(100 * value, 2)

    def command(self, record):
        """The ``keras-seg evaluate`` line that scores ``record`` as the source did, or None.

        Example:
            >>> from keras_seg.registry import get_weights_record
            >>> record = get_weights_record("fcn32s")
            >>> record.scores[0].command(record)
            'keras-seg evaluate fcn32s DATA --layout voc --split seg11valid'
        """
        if self.layout is None:
            return None
        from keras_seg.registry import get_spec

        words = ["keras-seg evaluate", record.model, "DATA", "--layout", self.layout]
        if self.layout != "folder":
            words += ["--split", self.split]
        if record.name != get_spec(record.model).default_weights:
            words += ["--weights", record.name]
        if self.ignore_label is not None and self.ignore_label != IGNORE_LABEL:
            words += ["--ignore-label", str(self.ignore_label)]
        return " ".join(words)


def summary(record):
    """The published scores of ``record`` on one short line (``keras-seg weights list``).

    Example:
        >>> from keras_seg.registry import get_weights_record
        >>> summary(get_weights_record("fcn8s")).count(";")
        1
    """
    return "; ".join(score.short() for score in record.scores)


def published_beside(name, model, result, *, layout, split, ignore_label=IGNORE_LABEL):
    """Lines that print a measured score beside the published one, with protocol notes.

    Args:
        name: the MODEL of ``keras-seg evaluate`` (a registered name, a preset of a
            published record, or a ``.keras`` file: nothing is printed for a file).
        model: the evaluated model (its metadata names the weights record it holds).
        result: what :func:`keras_seg.evaluate` returned.
        layout: the run's layout.
        split: the run's split.
        ignore_label: the run's ignore label.

    Returns:
        The lines as one string, or ``""`` when ``name`` has no published weights.

    Example:
        >>> print(published_beside("fcn8s", model, result, layout="voc", split="val"))
        ... # doctest: +SKIP
        <BLANKLINE>
        published (fcn8s): PASCAL VOC 2011 seg11valid mean IoU 65.5 (...); measured here 63.1
          note: this run's split is 'val', the source's 'seg11valid'
        published (fcn8s): PASCAL VOC 2012 test mean IoU 67.2 (...); measured here 63.1
          note: this run's split is 'val', the source's 'test'
          note: PASCAL VOC 2012 test labels are kept by its benchmark server: ...
    """
    from keras_seg.registry import get_spec, get_weights_record, list_models, list_weights, unwrap

    metadata = getattr(unwrap(model), "metadata", None) or {}
    if metadata.get("preset") and metadata.get("weights") in list_weights():
        name = metadata["weights"]  # a preset of a published record (folder or hf://)
    elif name not in list_models() or not get_spec(name).default_weights:
        return ""
    record = get_weights_record(metadata.get("weights") or name)
    lines = []
    if metadata.get("weights") != record.name:
        lines.append(f"note: these weights are not the published {record.name} file; its "
                     "published scores are shown for reference")
    num_classes = len(result.get("confusion") or ())
    if num_classes and num_classes != len(record.classes):
        lines.append(f"note: {num_classes} classes scored, the published file has "
                     f"{len(record.classes)}")
    split = Path(split).stem if str(split).endswith(".txt") else split  # a VOC list file
    matching = [s for s in record.scores if (s.layout, s.split) == (layout, split)]
    for score in matching or record.scores:
        measured = score.measured(result)
        shown = "-" if measured is None else f"{measured}"
        lines.append(f"published ({record.name}): {score}; measured here {shown}")
        lines += [f"  note: {note}" for note in _differences(score, layout, split,
                                                            ignore_label)]
    return "\n".join(["", *lines])  # a blank line after the table


def _differences(score, layout, split, ignore_label):
    """Where a run's protocol is not the source's, one sentence each."""
    if score.value is None:
        return [f"the source gives no figure to compare with ({score.where})"]
    notes = []
    if score.layout is None:
        notes.append(f"no keras-seg layout reads {score.dataset} as this file labels it: "
                     "check the class order before comparing")
    elif layout != score.layout:
        notes.append(f"this run reads the {layout!r} layout; the source scored "
                     f"{score.dataset} (--layout {score.layout})")
    if layout == score.layout != "folder" and split != score.split:
        notes.append(f"this run's split is {split!r}, the source's {score.split!r}")
    if score.held_out:
        notes.append(f"{score.dataset} {score.split} labels are kept by its benchmark "
                     "server: a local split is not the published one")
    if score.ignore_label is not None and ignore_label != score.ignore_label:
        notes.append(f"this run leaves out label {ignore_label}, the source "
                     f"{score.ignore_label}")
    if score.metric == "foreground IoU":
        notes.append("foreground IoU is the IoU of class 1 in the table above")
    return notes


def markdown_table():
    """The README's table of every weights record: scores, licence, size, how to measure.

    Example:
        >>> markdown_table().splitlines()[0].startswith("| record |")
        True
    """
    from keras_seg.registry import list_weights

    rows = ["| record | network | published score (dataset, split, metric, value, where) "
            "| licence | file size | measured here |",
            "|---|---|---|---|---|---|"]
    for record in list_weights().values():
        size = "unknown" if record.size_bytes is None else f"{record.size_bytes:,} bytes"
        rows.append(" | ".join([f"| `{record.name}`", f"`{record.model}`",
                                "<br>".join(_cell(score) for score in record.scores),
                                record.license, size, _measure_cell(record)]) + " |")
    return "\n".join(rows)


def _cell(score):
    if score.where == NOT_REPORTED:
        return f"{score.dataset}: {NOT_REPORTED}"
    value = "-" if score.value is None else f"**{score.value}**"
    return f"{score.dataset}, {score.split}, {score.metric}, {value}, {score.where}"


def _measure_cell(record):
    """"not measured here" and how to measure it, once per distinct protocol."""
    texts = []
    for score in record.scores:
        command = score.command(record)
        if score.where == NOT_REPORTED:
            text = "nothing published to compare with"
        elif score.held_out:
            text = f"the {score.split} labels are only on its benchmark server"
        elif command is None:
            text = "no layout reads this dataset in the file's class order"
        else:
            text = f"`{command}`"
        if text not in texts:
            texts.append(text)
    return "not measured here: " + "; ".join(texts)
