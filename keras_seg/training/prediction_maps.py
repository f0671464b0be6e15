"""Saved label maps (predictions of any tool): matched to a dataset's masks, read as classes.

A prediction is a PNG of class indices (palette or grayscale, 8 or 16 bit) somewhere under
a folder (searched recursively), matched by the stem of its image or its mask: ``a.png``
scores the mask of ``images/a.jpg``. Under the cityscapes layout it matches by its frame,
``<city>_<sequence>_<frame>*.png`` as the official scripts match, so ``..._leftImg8bit.png``,
``..._labelIds.png`` and the plain frame name all do.

What the values mean is ``ids`` (:data:`~keras_seg.choices.PREDICTION_IDS`): ``"train"``,
class indices 0..N-1, as ``keras-seg predict`` writes them; ``"label"``, the values the
dataset's masks store, read through the layout's label map (Cityscapes label ids to the 19
train ids). A value the map sends to the ignore label (a Cityscapes void id) is a pixel
predicted as no class: :data:`NO_CLASS`, a miss of its true class, as the benchmark counts it.

Example:
    >>> matched, missing = match_predictions("preds", source.pairs)  # doctest: +SKIP
    >>> reader = PredictionReader(num_classes=19, ids="label", label_map=source.label_map)
    >>> classes = reader.read(matched[0][0])  # doctest: +SKIP
"""

import contextlib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from keras_seg.choices import IGNORE_LABEL, LABEL_ID_LAYOUTS, PREDICTION_IDS
from keras_seg.errors import InputError, ParameterError
from keras_seg.images import IMAGE_SUFFIXES

#: The class of a pixel predicted as none of the classes (``ids="label"``: a void id).
NO_CLASS = -1
#: Pillow modes that hold one value a pixel: palette, grayscale, 1-bit, 16 and 32-bit.
_LABEL_MODES = ("P", "L", "1", "I", "I;16", "I;16B", "I;16L")


def default_prediction_ids(layout):
    """What a layout's saved label maps hold unless told: ``"label"`` for Cityscapes.

    Example:
        >>> default_prediction_ids("cityscapes"), default_prediction_ids("voc")
        ('label', 'train')
    """
    return "label" if layout in LABEL_ID_LAYOUTS else "train"


def match_key(stem, layout="folder"):
    """The name a prediction and a mask share: the stem; under cityscapes, the frame.

    Example:
        >>> match_key("aachen_000000_000019_gtFine_labelIds", "cityscapes")
        'aachen_000000_000019'
    """
    return "_".join(stem.split("_")[:3]) if layout == "cityscapes" else stem


def match_predictions(folder, pairs, layout="folder"):
    """The prediction of each (image, mask) pair, found under ``folder`` by name.

    Args:
        folder: the predictions' folder (searched recursively).
        pairs: the dataset's (image path, mask reference) pairs.
        layout: the dataset's layout (cityscapes matches by frame).

    Returns:
        (matched, missing): ``[(prediction, mask reference)]`` and the mask references
        without a prediction.

    Raises:
        InputError: a missing folder, or a mask that several predictions match.

    Example:
        >>> matched, missing = match_predictions("preds", source.pairs)  # doctest: +SKIP
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: no such folder")
    found = defaultdict(list)
    for path in sorted(folder.rglob("*")):
        if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
            found[match_key(path.stem, layout)].append(path)
    matched, missing = [], []
    for image, ref in pairs:
        keys = dict.fromkeys(match_key(Path(p).stem, layout) for p in (image, ref))
        candidates = list(dict.fromkeys(p for key in keys for p in found.get(key, ())))
        if len(candidates) > 1:
            shown = ", ".join(map(str, candidates[:3]))
            raise InputError(f"{ref}: {len(candidates)} predictions match it ({shown}); "
                             "keep one")
        if candidates:
            matched.append((candidates[0], ref))
        else:
            missing.append(str(ref))
    return matched, missing


@contextlib.contextmanager
def _label_image(path):
    """The Pillow image at ``path``, refused unless it is a PNG of one value a pixel."""
    from PIL import Image, UnidentifiedImageError

    try:
        pil = Image.open(path)
    except (OSError, UnidentifiedImageError) as error:
        raise InputError(f"{path}: cannot read the prediction ({error})") from None
    with pil:
        if pil.format == "JPEG":
            raise InputError(f"{path}: JPEG prediction refused: its lossy compression invents "
                             "label values along every edge; save label maps as PNG")
        if pil.format != "PNG":
            raise InputError(f"{path}: a {pil.format} image; predictions are PNG label maps")
        if pil.mode not in _LABEL_MODES:
            what = ("colour image" if pil.mode.startswith("RGB")
                    else f"image of {len(pil.getbands())} channels")
            raise InputError(f"{path}: {what} ({pil.mode}); a prediction is a label map, one "
                             "class index a pixel (palette or grayscale PNG, as keras-seg "
                             "predict writes), not a colour rendering")
        yield pil


def check_prediction_file(path):
    """Refuse, from its header alone, a file that is no PNG label map.

    Example:
        >>> check_prediction_file("preds/a.png")  # doctest: +SKIP
    """
    with _label_image(path):
        pass


@dataclass(frozen=True)
class PredictionReader:
    """Reads saved label maps as classes (see the module's text for ``ids``).

    Attributes:
        num_classes: the classes scored, 0..N-1.
        ids: ``"train"`` or ``"label"`` (:data:`~keras_seg.choices.PREDICTION_IDS`).
        label_map: with ``"label"``, the layout's 256-entry map (None: the values as they
            are); values it sends to ``ignore_label`` are :data:`NO_CLASS`.
        ignore_label: the masks' ignore label.
        label_ids: with ``"label"``, how many label ids the dataset defines (None: any
            8-bit value); a larger value is refused.

    Example:
        >>> import numpy as np
        >>> from keras_seg.training.layouts import CITYSCAPES_TRAIN_IDS, label_map
        >>> reader = PredictionReader(19, "label", label_map(CITYSCAPES_TRAIN_IDS, 255, 255),
        ...                           label_ids=34)
        >>> reader.classes(np.array([[7, 26, 0]]), "a.png").tolist()
        [[0, 13, -1]]
    """

    num_classes: int
    ids: str = "train"
    label_map: object = None
    ignore_label: int = IGNORE_LABEL
    label_ids: int | None = None

    def __post_init__(self):
        if self.ids not in PREDICTION_IDS:
            raise ParameterError("{prediction_ids} must be one of {choices}, got {value!r}",
                                 choices=", ".join(PREDICTION_IDS), value=self.ids)

    def read(self, path):
        """The label map at ``path`` as (H, W) int32 classes (:data:`NO_CLASS` for none)."""
        with _label_image(path) as pil:
            try:
                values = np.asarray(pil)
            except OSError as error:
                raise InputError(f"{path}: cannot decode the PNG ({error})") from None
        return self.classes(values.astype(np.int32), path)

    def classes(self, values, path):
        """Stored values as classes, refusing those that are none (naming ``path``)."""
        last = self.num_classes - 1
        if self.ids == "train":
            bad = (values < 0) | (values > last)
            if bad.any():
                raise ParameterError(
                    "{path}: value {value} is not a class (0..{last}); if the maps hold "
                    "the dataset's label ids, set {prediction_ids} to 'label'",
                    path=str(path), value=int(values[bad].max()), last=last)
            return values
        count = self.label_ids or 256
        if values.min(initial=0) < 0 or values.max(initial=0) >= count:
            value = int(values.max() if values.max() >= count else values.min())
            raise InputError(f"{path}: value {value} is no label id of the dataset "
                             f"(0..{count - 1})")
        table = (np.asarray(self.label_map, np.int32) if self.label_map is not None
                 else np.arange(256, dtype=np.int32))
        classes = table[values]
        none = classes == self.ignore_label
        bad = ~none & ((classes < 0) | (classes > last))
        if bad.any():
            raise ParameterError(
                "{path}: label id {value} is class {label}, not one of 0..{last} (nor the "
                "ignore label {ignore}); set {num_classes} to the classes scored",
                path=str(path), value=int(values[bad][0]), label=int(classes[bad][0]),
                last=last, ignore=self.ignore_label)
        return np.where(none, NO_CLASS, classes)
