"""Does training learn as well from every mask format as from palette masks? Same scenes.

Usage: python benchmarks/mask_formats.py [--images 160] [--epochs 12] [--out build/formats]

Generated scenes (a road polygon, rectangles, discs on a noisy background; 4 classes) are
written once in each format a user brings: palette index PNGs (``folder``), colour PNGs
with a colour map (``--colors``), labelme JSON beside the images (``--layout labelme``),
COCO polygons (``--layout coco``), and, with the objects as one foreground class, binary
0/255 masks next to the same masks saved as 0/1. A narrow FCN-8s is trained by ``train``
with its defaults on each (same seed, same number of epochs) and scored on held-out palette
masks (0/1 masks for the binary pair). Prints one line per format and the ratio of its
held-out mean IoU to the palette run's (issue 20 asks for at least 0.85).
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SIZE = 64
CLASSES = ("background", "road", "box", "disc")
COLOURS = ((0, 0, 0), (128, 64, 128), (230, 150, 40), (40, 110, 230))
WIDTHS = {"widths": (8, 16, 32, 32, 32, 64)}


def scene(rng):
    """An RGB picture and its shapes as (class, kind, points), drawn in order."""
    image = Image.fromarray(rng.integers(120, 190, (SIZE, SIZE, 3), dtype=np.uint8))
    image = image.filter(ImageFilter.GaussianBlur(1))
    shapes = []
    top = int(rng.integers(38, 50))
    shapes.append((1, "polygon", [(0, top), (SIZE, top - int(rng.integers(-6, 7))),
                                  (SIZE, SIZE), (0, SIZE)]))
    for _ in range(int(rng.integers(1, 3))):
        x, y, w, h = (int(v) for v in rng.integers([2, 2, 10, 10], [40, 30, 22, 22]))
        shapes.append((2, "rectangle", [(x, y), (x + w, y + h)]))
    cx, cy, r = (int(v) for v in rng.integers([10, 10, 5], [54, 40, 10]))
    shapes.append((3, "circle", [(cx, cy), (cx + r, cy)]))
    draw = ImageDraw.Draw(image)
    for label, kind, points in shapes:
        _draw(draw, kind, points, COLOURS[label] if label else None)
    return image, shapes


def _draw(draw, kind, points, fill):
    if kind == "polygon":
        draw.polygon(points, fill=fill, outline=fill)
    elif kind == "rectangle":
        draw.rectangle(points, fill=fill, outline=fill)
    else:
        (cx, cy), (px, _) = points
        r = px - cx
        draw.ellipse([(cx - r, cy - r), (cx + r, cy + r)], fill=fill, outline=fill)


def index_mask(shapes):
    mask = Image.new("L", (SIZE, SIZE), 0)
    draw = ImageDraw.Draw(mask)
    for label, kind, points in shapes:
        _draw(draw, kind, points, label)
    return np.asarray(mask)


def _polygon(kind, points):
    """The shape as a COCO polygon (a flat list of x, y)."""
    if kind == "polygon":
        corners = points
    elif kind == "rectangle":
        (x0, y0), (x1, y1) = points
        corners = [(x0, y0), (x1 + 1, y0), (x1 + 1, y1 + 1), (x0, y1 + 1)]
    else:
        (cx, cy), (px, _) = points
        r = px - cx + 0.5
        corners = [(cx + 0.5 + r * np.cos(a), cy + 0.5 + r * np.sin(a))
                   for a in np.linspace(0, 2 * np.pi, 48, endpoint=False)]
    return [float(v) for point in corners for v in point]


def write_formats(root, count, seed):
    """Every format of the same ``count`` scenes under ``root``; returns the folders."""
    rng = np.random.default_rng(seed)
    folders = {name: root / name for name in ("palette", "colour", "labelme", "coco",
                                              "binary", "binary01")}
    for name in ("palette", "colour", "binary", "binary01"):
        (folders[name] / "images").mkdir(parents=True, exist_ok=True)
        (folders[name] / "masks").mkdir(parents=True, exist_ok=True)
    folders["labelme"].mkdir(parents=True, exist_ok=True)
    (folders["coco"] / "images").mkdir(parents=True, exist_ok=True)
    coco = {"images": [], "annotations": [],
            "categories": [{"id": i, "name": n} for i, n in enumerate(CLASSES) if i]}
    palette = [v for colour in COLOURS for v in colour]
    for i in range(count):
        image, shapes = scene(rng)
        stem, mask = f"{i:04d}", index_mask(shapes)
        for name in ("palette", "colour", "binary", "binary01"):
            image.save(folders[name] / "images" / f"{stem}.png")
        indexed = Image.fromarray(mask, "P")
        indexed.putpalette(palette)
        indexed.save(folders["palette"] / "masks" / f"{stem}.png")
        Image.fromarray(np.array(COLOURS, np.uint8)[mask]).save(
            folders["colour"] / "masks" / f"{stem}.png")
        Image.fromarray(np.where(mask > 1, 255, 0).astype(np.uint8)).save(
            folders["binary"] / "masks" / f"{stem}.png")
        Image.fromarray((mask > 1).astype(np.uint8)).save(
            folders["binary01"] / "masks" / f"{stem}.png")
        image.save(folders["labelme"] / f"{stem}.png")
        (folders["labelme"] / f"{stem}.json").write_text(json.dumps({
            "shapes": [{"label": CLASSES[label], "shape_type": kind,
                        "points": [list(p) for p in points]} for label, kind, points in shapes],
            "imagePath": f"{stem}.png", "imageHeight": SIZE, "imageWidth": SIZE}))
        image.save(folders["coco"] / "images" / f"{stem}.png")
        coco["images"].append({"id": i, "file_name": f"{stem}.png", "height": SIZE,
                               "width": SIZE})
        for label, kind, points in shapes:
            coco["annotations"].append({
                "id": len(coco["annotations"]) + 1, "image_id": i, "category_id": label,
                "segmentation": [_polygon(kind, points)], "iscrowd": 0})
    (folders["labelme"] / "labels.txt").write_text("\n".join(("__ignore__", "_background_",
                                                              *CLASSES[1:])) + "\n")
    (folders["colour"] / "colors.json").write_text(json.dumps(
        {name: list(colour) for name, colour in zip(CLASSES, COLOURS)}))
    (folders["coco"] / "annotations.json").write_text(json.dumps(coco))
    return folders


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=160)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--out", default="build/formats")
    args = parser.parse_args()

    from keras_seg import evaluate, train

    out = Path(args.out)
    train_sets = write_formats(out / "train", args.images, seed=1)
    heldout = write_formats(out / "heldout", 24, seed=2)
    runs = {  # format: (folder, train settings, classes, held-out folder)
        "palette": (train_sets["palette"], {}, 4, heldout["palette"]),
        "colour --colors": (train_sets["colour"],
                            {"colors": str(train_sets["colour"] / "colors.json")}, 4,
                            heldout["palette"]),
        "labelme": (train_sets["labelme"], {"layout": "labelme"}, 4, heldout["palette"]),
        "coco": (train_sets["coco"], {"layout": "coco"}, 4, heldout["palette"]),
        "binary 0/1": (train_sets["binary01"], {}, 2, heldout["binary01"]),
        "binary 0/255": (train_sets["binary"], {}, 2, heldout["binary01"]),
    }
    scores = {}
    for name, (folder, settings, classes, scored_on) in runs.items():
        start = time.perf_counter()
        model, history = train("fcn8s", folder, num_classes=classes, crop_size=(SIZE, SIZE),
                               checkpoint_dir=out / "ckpt", epochs=args.epochs, seed=0,
                               model_args=WIDTHS, verbose=0, tensorboard=False,
                               overwrite=True, **settings)
        scores[name] = evaluate(model, scored_on, progress=False)["mean_iou"]
        baseline = scores["binary 0/1" if classes == 2 else "palette"]
        print(f"{name:16s} held-out mIoU {scores[name]:.3f} ({scores[name] / baseline:.2f}x "
              f"the {'0/1' if classes == 2 else 'palette'} run; first-epoch loss "
              f"{history.history['loss'][0]:.3f}; {time.perf_counter() - start:.0f} s)",
              flush=True)


if __name__ == "__main__":
    main()
