"""A look at every mask of a dataset before any work: classes, formats, problems.

:func:`survey` reads each mask of a :class:`~keras_seg.training.layouts.DatasetSource` once
and counts pixels and images per label, the formats met and the problems; it decides
whether index masks holding only 0 and 255 are foreground masks. ``keras-seg verify-data``
prints it; the trainer refuses data it cannot learn from (:func:`check_training_data`).

Example:
    >>> report = survey(open_dataset("data/train"), num_classes=5)  # doctest: +SKIP
    >>> report.pixels[0]  # doctest: +SKIP
    1234567
"""

import warnings
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from keras_seg.errors import MaskFormatError, ParameterError
from keras_seg.training.mask_formats import IndexMasks, Seen

#: Most of the labelled-or-ignored pixels a training set may give the ignore label.
MOST_IGNORED = 0.5


@dataclass
class Survey:
    """What :func:`survey` found.

    Attributes:
        pairs: number of pairs read.
        pixels: label -> pixels (the ignore label and unknown values included).
        images: label -> images holding it.
        formats: format -> masks read in it.
        problems: one line per bad file.
        refusals: the problems that are the masks' (JPEG masks, unknown colours or
            labels, label values that are not classes), which no run can train through.
        notes: lines to say once (binary masks, shapes left out or clipped).
        class_names: the classes' names, or None.
    """

    pairs: int = 0
    pixels: Counter = field(default_factory=Counter)
    images: Counter = field(default_factory=Counter)
    formats: Counter = field(default_factory=Counter)
    problems: list = field(default_factory=list)
    refusals: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    class_names: tuple | None = None

    def name(self, label):
        """A label as shown in reports: ``"1 (cat)"`` where the class has a name."""
        names = self.class_names or ()
        return f"{label} ({names[label]})" if 0 <= label < len(names) else str(label)


def survey(source, num_classes=None, ignore_label=255, check_sizes=False):
    """Read every mask of ``source`` once: counts per label, formats, problems, notes.

    With two classes, index masks that hold only 0 and 255 over the whole dataset are
    foreground masks: ``source.masks.binary`` is set (255 is read as class 1) and a note
    says so.

    Args:
        source: a :class:`~keras_seg.training.layouts.DatasetSource`.
        num_classes: classes expected (other values than ``ignore_label`` are problems);
            None: every value is counted and none is a problem.
        ignore_label: the ignore value.
        check_sizes: also compare each mask's size with its image's.

    Returns:
        A :class:`Survey`.

    Example:
        >>> survey(open_dataset("data/train"), 2).notes  # doctest: +SKIP
        ['masks hold only 0 and 255 with 2 classes: foreground masks, 255 read as class 1']
    """
    from PIL import Image

    seen, report, values_of = Seen(), Survey(class_names=source.class_names), []
    for image_path, ref in source.pairs:
        try:
            mask = source.masks.read(ref, seen)
            if check_sizes:
                with Image.open(image_path) as pil:
                    size = pil.size
                if (mask.shape[1], mask.shape[0]) != size:
                    report.problems.append(f"{ref}: mask is {mask.shape[1]}x{mask.shape[0]}, "
                                           f"image {size[0]}x{size[1]}")
        except MaskFormatError as error:
            report.problems.append(str(error))
            report.refusals.append(error)
            continue
        except (OSError, ValueError) as error:
            report.problems.append(f"{image_path}: {error}")
            continue
        report.pairs += 1
        values, counts = np.unique(mask, return_counts=True)
        report.pixels.update(dict(zip(values.tolist(), counts.tolist())))
        report.images.update(values.tolist())
        values_of.append((ref, values.tolist()))
    binary = _binary(source, report, num_classes)
    for ref, values in values_of if num_classes is not None else ():
        bad = [v for v in values if v != ignore_label and not 0 <= v < num_classes
               and not (binary and v == 255)]
        if bad:
            error = MaskFormatError("{path}: label values {values} are not classes 0..{last} "
                                    "nor the ignore label {ignore}", path=str(ref),
                                    values=str(bad[:10]), last=num_classes - 1,
                                    ignore=ignore_label)
            report.problems.append(str(error))
            report.refusals.append(error)
    report.formats = seen.formats
    report.notes = seen.notes + report.notes
    return report


def _binary(source, report, num_classes):
    masks = source.masks
    if (num_classes != 2 or not isinstance(masks, IndexMasks) or masks.label_map is not None
            or set(report.pixels) - {0, 255} or 255 not in report.pixels):
        return masks.binary if isinstance(masks, IndexMasks) else False
    masks.binary = True
    report.pixels[1] = report.pixels.pop(255)
    report.images[1] = report.images.pop(255)
    report.notes.append("masks hold only 0 and 255 with 2 classes: foreground masks, 255 read "
                        "as class 1")
    return True


def check_training_data(report, num_classes, ignore_label=255, allow_mostly_ignored=False,
                        skip_bad_files=False):
    """Refuse training data no run can learn from; warn about classes that never occur.

    Raises:
        MaskFormatError: masks their format cannot read, or holding values that are neither
            classes nor the ignore label (unless ``skip_bad_files``: the run skips them).
        ParameterError: more than half of the labelled-or-ignored pixels are the ignore
            label (unless ``allow_mostly_ignored``).

    Example:
        >>> check_training_data(survey(open_dataset("data/train"), 5), 5)  # doctest: +SKIP
    """
    if report.refusals and not skip_bad_files:
        first, others = report.refusals[0], len(report.refusals) - 1
        more = f" (and {others} more bad mask{'s' * (others > 1)})" if others else ""
        raise MaskFormatError(first.template + "{more}", **first.values, more=more)
    ignored = report.pixels.get(ignore_label, 0)
    counted = ignored + sum(report.pixels.get(label, 0) for label in range(num_classes))
    if counted and ignored / counted > MOST_IGNORED and not allow_mostly_ignored:
        raise ParameterError("{share} of the labelled pixels of the training masks are the "
                             "ignore label {ignore}: nothing to learn from; check "
                             "{ignore_label}, or pass {allow_mostly_ignored} to train anyway",
                             share=f"{ignored / counted:.0%}", ignore=ignore_label)
    missing = [report.name(label) for label in range(num_classes) if not report.pixels[label]]
    if missing and report.pairs:
        warnings.warn(f"classes never in the training masks: {', '.join(missing)}; the model "
                      "cannot learn them", stacklevel=2)
