"""Mask formats: readers that turn one mask reference into (H, W) int32 class indices.

Like the weight readers, each format knows one kind of file and nothing of training:
index masks (palette or grayscale PNG, binary 0/255 foreground masks), colour masks with a
colour map, labelme JSON shapes and COCO annotations. Annotations are drawn into index
masks when read, so crops, augmentation and scores only ever see indices. A reader has
``kind`` (its name in reports), ``class_names`` (or None) and ``read(ref, seen=None)``;
``seen`` (a :class:`Seen`) collects the formats met and the notes to say once.

Example:
    >>> colours = ColourMasks.from_file("label_colors.txt")  # doctest: +SKIP
    >>> labels = colours.read("masks/0001.png")  # doctest: +SKIP
"""

import json
import math
from collections import Counter
from pathlib import Path

import numpy as np

from keras_seg.choices import IGNORE_LABEL
from keras_seg.errors import InputError, MaskFormatError

#: Class names that mean "the ignore label" in colour maps and labelme's labels.txt.
IGNORE_NAME = "__ignore__"
#: labelme's name of class 0.
BACKGROUND_NAME = "_background_"


class Seen:
    """What reading masks met: formats (counted) and notes (each kind said once, counted).

    Example:
        >>> seen = Seen()
        >>> seen.note("a"); seen.note("a"); seen.notes
        ['a']
        >>> seen.note("x.json: clipped", key="clipped"); seen.note("y.json: clipped", "clipped")
        >>> seen.notes[-1]
        'x.json: clipped (and 1 more like it)'
    """

    def __init__(self):
        self.formats, self._notes = Counter(), {}

    def note(self, line, key=None):
        """Remember a note once; with a ``key``, once per key, counting the others."""
        if key is None:
            self._notes.setdefault(line, [line, 1])
        elif key in self._notes:
            self._notes[key][1] += 1
        else:
            self._notes[key] = [line, 1]

    @property
    def notes(self):
        """The notes in the order first met, each with how many more like it followed."""
        return [line if count == 1 else f"{line} (and {count - 1} more like it)"
                for line, count in self._notes.values()]


def _refuse_jpeg(pil, path, what="mask"):
    if pil.format == "JPEG":
        raise MaskFormatError("{path}: JPEG {what} refused: its lossy compression invents "
                              "label values (colours) along every edge; save masks as PNG",
                              path=str(path), what=what)


def read_index_mask(path, seen=None):
    """A mask of class indices as (H, W) int32 (palette, grayscale or 16-bit image).

    Raises:
        MaskFormatError: a JPEG mask, or a colour (RGB) mask, whose colours are not indices.
        ValueError: an unreadable file.

    Example:
        >>> labels = read_index_mask("masks/0001.png")  # doctest: +SKIP
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as pil:
            _refuse_jpeg(pil, path)
            if pil.mode in ("RGB", "RGBA"):
                raise MaskFormatError(
                    "{path}: colour mask ({mode}); save class indices as a palette or "
                    "grayscale PNG, or give the colour map as {colors}", path=str(path),
                    mode=pil.mode)
            if seen is not None:
                mode = {"P": "palette", "L": "grayscale", "1": "1-bit"}.get(pil.mode,
                                                                          "16-bit grayscale")
                seen.formats[f"{mode} {pil.format}"] += 1
            return np.asarray(pil).astype(np.int32)
    except (OSError, UnidentifiedImageError) as error:
        raise ValueError(f"{path}: cannot read the mask ({error})") from None


class IndexMasks:
    """Masks that store class indices, through an optional 256-entry label map.

    Attributes:
        label_map: lookup from stored values to labels (None: the values themselves).
        binary: foreground masks (only 0 and 255 with 2 classes): 255 is read as class 1.

    Example:
        >>> IndexMasks().kind
        'index'
    """

    kind = "index"
    class_names = None

    def __init__(self, label_map=None, binary=False):
        self.label_map, self.binary = label_map, binary

    def read(self, ref, seen=None):
        """The mask at ``ref`` as labels (see :func:`read_index_mask`)."""
        mask = read_index_mask(ref, seen)
        if self.binary:
            mask = np.where(mask == 255, 1, mask)
        if self.label_map is not None:
            if mask.max(initial=0) > 255 or mask.min(initial=0) < 0:
                raise ValueError(f"{ref}: values outside 0-255 cannot be mapped")
            mask = np.asarray(self.label_map, np.int32)[mask]
        return mask


def read_colour_map(path):
    """A colour map file as ``[(name, (r, g, b)), ...]`` in class order.

    CamVid's ``label_colors.txt`` (``R G B<TAB>name``, one class a line) or JSON
    (``{"name": [r, g, b], ...}``; a name may list several colours, ``[[r, g, b], ...]``).
    The name ``__ignore__`` maps its colours to the ignore label.

    Raises:
        InputError: a missing file, or a line or entry that is not a colour, naming it.

    Example:
        >>> read_colour_map("label_colors.txt")[:1]  # doctest: +SKIP
        [('Animal', (64, 128, 64))]
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such colour map")
    entries, text = [], path.read_text()
    if path.suffix.lower() == ".json" or text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except ValueError as error:
            raise InputError(f"{path}: not valid JSON ({error})") from None
        if not isinstance(data, dict):
            raise InputError(f"{path}: expected {{\"name\": [r, g, b], ...}}")
        for name, value in data.items():
            several = isinstance(value, list) and value and isinstance(value[0], list)
            entries += [(str(name), colour, name) for colour in (value if several else [value])]
    else:
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            parts = line.split()
            entries.append((" ".join(parts[3:]) or f"class {len(entries)}", parts[:3],
                            f"line {number}"))
    colours = []
    for name, colour, where in entries:
        try:
            rgb = tuple(int(v) for v in colour)
        except (TypeError, ValueError):
            rgb = ()
        if len(rgb) != 3 or not all(0 <= v <= 255 for v in rgb):
            raise InputError(f"{path}: {where}: expected a colour R G B (0-255) and a name, "
                             f"got {colour!r}")
        colours.append((name, rgb))
    if not colours:
        raise InputError(f"{path}: no colours")
    return colours


class ColourMasks:
    """RGB masks whose colours stand for classes, by a colour map (see :func:`read_colour_map`).

    Args:
        colours: ``[(name, (r, g, b))]`` in class order; ``__ignore__`` is the ignore label.
        source: where the map comes from (named in errors).
        ignore_label: the label of ``__ignore__`` colours.

    Example:
        >>> masks = ColourMasks([("sky", (0, 0, 255)), ("road", (128, 64, 128))])
        >>> masks.class_names
        ('sky', 'road')
    """

    kind = "colour"

    def __init__(self, colours, source="the colour map", ignore_label=IGNORE_LABEL):
        self.source, names, self.lookup = str(source), [], {}
        for name, rgb in colours:
            if name == IGNORE_NAME:
                label = ignore_label
            else:
                if name not in names:
                    names.append(name)
                label = names.index(name)
            self.lookup[_pack(np.asarray(rgb))] = label
        self.class_names = tuple(names)

    @classmethod
    def from_file(cls, path, ignore_label=IGNORE_LABEL):
        """The colour masks of a colour map file."""
        return cls(read_colour_map(path), path, ignore_label)

    def read(self, ref, seen=None):
        """The colour mask at ``ref`` as labels.

        Raises:
            MaskFormatError: a JPEG mask, or a colour not in the map (with its pixel count).
        """
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(ref) as pil:
                _refuse_jpeg(pil, ref, "colour mask")
                rgb = np.asarray(pil.convert("RGB"))
                if seen is not None:
                    seen.formats[f"colour {pil.format}"] += 1
        except (OSError, UnidentifiedImageError) as error:
            raise ValueError(f"{ref}: cannot read the mask ({error})") from None
        values, inverse, counts = np.unique(_pack(rgb).ravel(), return_inverse=True,
                                            return_counts=True)
        labels = np.empty(len(values), np.int32)
        for i, value in enumerate(values.tolist()):
            if value not in self.lookup:
                colour = (value >> 16, (value >> 8) & 255, value & 255)
                raise MaskFormatError("{path}: colour {colour} ({count} pixels) is not in "
                                      "{source}", path=str(ref), colour=colour,
                                      count=int(counts[i]), source=self.source)
            labels[i] = self.lookup[value]
        return labels[inverse].reshape(rgb.shape[:2])


def _pack(rgb):
    rgb = np.asarray(rgb, np.int64)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


def read_class_names(classes):
    """Class names from ``"a,b,c"``, a file with one name a line, or a sequence.

    Example:
        >>> read_class_names("sky, road,car")
        ('sky', 'road', 'car')
    """
    if classes is None:
        return None
    if isinstance(classes, str | Path):
        path = Path(classes)
        if path.is_file():
            names = [line.strip() for line in path.read_text().splitlines()]
        elif (isinstance(classes, str) and "," in classes) or not path.suffix:
            names = str(classes).split(",")
        else:
            raise InputError(f"{classes}: no such class names file")
    else:
        names = [str(name) for name in classes]
    names = tuple(name.strip() for name in names if name.strip())
    if not names:
        raise InputError(f"{classes!r}: no class names")
    return names


# -- labelme ---------------------------------------------------------------------------------

def read_labelme_labels(path):
    """Labelme's ``labels.txt`` as class names, read as its ``labelme2voc.py`` reads it.

    Line i holds class i - 1: an optional first ``__ignore__`` (the ignore label), then
    ``_background_`` (class 0) and the classes 1, 2, ...

    Example:
        >>> read_labelme_labels("labels.txt")  # doctest: +SKIP
        ('_background_', 'cat', 'dog')
    """
    lines = [line.strip() for line in Path(path).read_text().splitlines() if line.strip()]
    if lines and lines[0] == IGNORE_NAME:
        lines = lines[1:]
    if not lines:
        raise InputError(f"{path}: no classes")
    return tuple(lines)


class LabelmeMasks:
    """labelme JSON files drawn into index masks as labelme draws them (Pillow ImageDraw).

    Polygons, rectangles and circles are filled, later shapes over earlier ones; lines and
    points mark no area and are left out (with a note); a shape reaching outside the image
    is clipped (with a note), as ``labelme2voc.py`` clips it.

    Args:
        labels: class names in label order (``_background_`` first, as in labels.txt).
        source: where the labels come from (named when a shape's label is not among them).
        ignore_label: the label of shapes named ``__ignore__``.

    Example:
        >>> LabelmeMasks(("_background_", "cat")).class_names
        ('background', 'cat')
    """

    kind = "labelme"

    def __init__(self, labels, source="labels.txt", ignore_label=IGNORE_LABEL):
        self.labels, self.source, self.ignore_label = tuple(labels), str(source), ignore_label
        self.index = {name: i for i, name in enumerate(self.labels)}
        self.index[IGNORE_NAME] = ignore_label
        self.class_names = tuple("background" if name == BACKGROUND_NAME else name
                                 for name in self.labels)

    def read(self, ref, seen=None):
        """The shapes of the labelme file ``ref`` as an index mask.

        Raises:
            MaskFormatError: a label not among the classes, or a shape with too few points.
        """
        from PIL import Image, ImageDraw

        data = read_labelme_json(ref)
        height, width = _labelme_size(ref, data)
        canvas = Image.new("I", (width, height), 0)
        draw = ImageDraw.Draw(canvas)
        for shape in data.get("shapes", []):
            label, kind = shape.get("label"), shape.get("shape_type") or "polygon"
            points = [(float(x), float(y)) for x, y in shape.get("points", [])]
            if kind in ("line", "linestrip", "point", "points"):
                if seen is not None:
                    seen.note(f"labelme: {kind} shapes mark no area and are left out "
                              f"(first in {ref})", key=("no area", kind))
                continue
            if label not in self.index:
                raise MaskFormatError("{path}: label {label!r} is not in {source} (classes: "
                                      "{names})", path=str(ref), label=label,
                                      source=self.source, names=", ".join(self.labels))
            value = self.index[label]
            if kind == "mask" and len(points) == 2:
                points = _paste_labelme_mask(canvas, shape, points, value, ref)
            elif kind == "circle" and len(points) == 2:
                (cx, cy), (px, py) = points
                r = math.hypot(cx - px, cy - py)
                box = [(cx - r, cy - r), (cx + r, cy + r)]
                points = box
                draw.ellipse(box, fill=value, outline=value)
            elif kind == "rectangle" and len(points) == 2:
                (x0, y0), (x1, y1) = points
                draw.rectangle([(min(x0, x1), min(y0, y1)), (max(x0, x1), max(y0, y1))],
                               fill=value, outline=value)
            elif (kind == "polygon" and len(points) >= 3) or (
                    kind == "oriented_rectangle" and len(points) == 4):
                draw.polygon(points, fill=value, outline=value)
            else:
                raise MaskFormatError("{path}: a {kind} shape ({label!r}) with {count} points "
                                      "cannot be drawn", path=str(ref), kind=kind,
                                      label=label, count=len(points))
            where = _placement(points, width, height)
            if where == "outside":
                raise MaskFormatError("{path}: shape {label!r} lies wholly outside the "
                                      "{size} image", path=str(ref), label=label,
                                      size=f"{width}x{height}")
            if where == "across" and seen is not None:
                seen.note(f"{ref}: shape {label!r} reaches outside the {width}x{height} "
                          "image; clipped to it", key="clipped")
        if seen is not None:
            seen.formats["labelme JSON"] += 1
        return np.asarray(canvas, np.int32)


def _paste_labelme_mask(canvas, shape, points, value, ref):
    """Paint a labelme ``mask`` shape (a base64 PNG over its box) as labelme's shapes_to_label.

    The patch's top-left corner is the first point, rounded; integer corners give the box
    ``x2 - x1 + 1`` by ``y2 - y1 + 1`` (labelme's legacy cropping), fractional ones the
    patch's own size; what falls outside the image is clipped. Returns the box's corners.
    """
    import base64
    import binascii
    import io

    from PIL import Image

    try:
        with Image.open(io.BytesIO(base64.b64decode(shape.get("mask") or ""))) as pil:
            patch = np.asarray(pil).astype(bool)
    except (OSError, ValueError, binascii.Error) as error:
        raise MaskFormatError("{path}: the mask shape {label!r} holds no readable image "
                              "({error})", path=str(ref), label=shape.get("label"),
                              error=str(error) or type(error).__name__) from None
    if patch.ndim == 3:
        patch = patch.any(axis=-1)
    corners = np.asarray(points, np.float64)
    (x1, y1), (x2, y2) = corners.round().astype(int)
    if np.array_equal(corners, np.trunc(corners)):
        height, width = min(y2 - y1 + 1, patch.shape[0]), min(x2 - x1 + 1, patch.shape[1])
    else:
        height, width = patch.shape
    stencil = Image.fromarray(patch[:height, :width].astype(np.uint8) * 255)
    canvas.paste(value, (x1, y1, x1 + width, y1 + height), stencil)  # PIL clips the box
    return [(x1, y1), (x1 + width, y1 + height)]


def _placement(points, width, height):
    """Where a shape's points lie: ``"inside"``, ``"across"`` the border, or ``"outside"``.

    A shape across the border is drawn clipped; one wholly outside draws nothing and is a
    mistake (refused).
    """
    points = np.asarray(points, np.float64).reshape(-1, 2)
    low, high = points.min(axis=0), points.max(axis=0)
    if (high < 0).any() or low[0] > width or low[1] > height:
        return "outside"
    return "across" if (low < 0).any() or high[0] > width or high[1] > height else "inside"


def read_labelme_json(path):
    """A labelme file's JSON (a dict), or :class:`MaskFormatError` naming the file."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise MaskFormatError("{path}: not a labelme file ({error})", path=str(path),
                              error=str(error)) from None
    if not isinstance(data, dict) or "shapes" not in data:
        raise MaskFormatError("{path}: not a labelme file (no shapes)", path=str(path))
    return data


def _labelme_size(path, data):
    if data.get("imageHeight") and data.get("imageWidth"):
        return int(data["imageHeight"]), int(data["imageWidth"])
    from PIL import Image

    image = labelme_image(path, data)
    if image is None:
        raise MaskFormatError("{path}: no image size and no image", path=str(path))
    with Image.open(image) as pil:
        return pil.size[1], pil.size[0]


def labelme_image(path, data):
    """The image a labelme file annotates (its ``imagePath``, else the same stem), or None."""
    from keras_seg.images import IMAGE_SUFFIXES

    path = Path(path)
    named = data.get("imagePath")
    if named and (path.parent / named).is_file():
        return path.parent / named
    for suffix in IMAGE_SUFFIXES:
        for candidate in (path.with_suffix(suffix), path.with_suffix(suffix.upper())):
            if candidate.is_file():
                return candidate
    return None


# -- COCO ------------------------------------------------------------------------------------

class CocoMasks:
    """COCO annotations drawn into index masks with pycocotools (polygons and RLE).

    Categories become classes 1..K in id order, 0 is background; ``iscrowd`` regions get the
    ignore label; later annotations are drawn over earlier ones.

    Args:
        data: the annotations file's JSON.
        images: the folder of the images it names.
        source: the annotations file (named in errors).
        ignore_label: the label of crowd regions.

    Raises:
        InputError: an image the file names that is not in ``images``.

    Example:
        >>> masks = CocoMasks.from_file("coco/annotations.json", "coco/images")
        ... # doctest: +SKIP
    """

    kind = "COCO"

    def __init__(self, data, images, source="annotations.json", ignore_label=IGNORE_LABEL):
        self.source, self.ignore_label = str(source), ignore_label
        categories = sorted(data.get("categories", []), key=lambda c: c["id"])
        self.category = {c["id"]: i + 1 for i, c in enumerate(categories)}
        self.class_names = ("background", *(str(c["name"]) for c in categories))
        by_image = {}
        for annotation in data.get("annotations", []):
            by_image.setdefault(annotation["image_id"], []).append(annotation)
        self.entries, self.pairs = {}, []
        for image in data.get("images", []):
            path = Path(images) / image["file_name"]
            if not path.is_file():
                raise InputError(f"{source}: image {image['file_name']!r} (id {image['id']}) "
                                 f"is not in {images}")
            self.entries[str(path)] = (int(image["height"]), int(image["width"]),
                                       by_image.get(image["id"], []))
            self.pairs.append((path, str(path)))
        if not self.pairs:
            raise InputError(f"{source}: lists no images")

    @classmethod
    def from_file(cls, path, images, ignore_label=IGNORE_LABEL):
        """The COCO masks of an annotations file."""
        path = Path(path)
        if not path.is_file():
            raise InputError(f"{path}: no such annotations file")
        try:
            data = json.loads(path.read_text())
        except ValueError as error:
            raise InputError(f"{path}: not valid JSON ({error})") from None
        return cls(data, images, path, ignore_label)

    def read(self, ref, seen=None):
        """The annotations of the image ``ref`` as an index mask."""
        try:
            from pycocotools import mask as coco_mask
        except ImportError:
            raise InputError("COCO annotations need pycocotools: pip install "
                             "'keras-seg[coco]'") from None
        height, width, annotations = self.entries[str(ref)]
        labels = np.zeros((height, width), np.int32)
        for annotation in annotations:
            segmentation = annotation.get("segmentation")
            if not segmentation:
                continue
            if annotation["category_id"] not in self.category:
                raise MaskFormatError("{source}: annotation {id} has category {category}, "
                                      "not among its categories", source=self.source,
                                      id=annotation.get("id"),
                                      category=annotation["category_id"])
            if isinstance(segmentation, list):
                points = np.concatenate([np.reshape(p, (-1, 2)) for p in segmentation])
                where = _placement(points, width, height)
                if where == "outside":
                    raise MaskFormatError("{source}: annotation {id} lies wholly outside its "
                                          "{size} image", source=self.source,
                                          id=annotation.get("id"), size=f"{width}x{height}")
                if where == "across" and seen is not None:
                    seen.note(f"{self.source}: annotation {annotation.get('id')} reaches "
                              "outside its image; clipped to it", key="clipped")
                rle = coco_mask.merge(coco_mask.frPyObjects(segmentation, height, width))
            elif isinstance(segmentation.get("counts"), list):
                rle = coco_mask.frPyObjects(segmentation, height, width)
            else:
                rle = segmentation
            drawn = coco_mask.decode(rle).astype(bool)
            labels[drawn] = (self.ignore_label if annotation.get("iscrowd")
                             else self.category[annotation["category_id"]])
        if seen is not None:
            seen.formats["COCO annotations"] += 1
        return labels
