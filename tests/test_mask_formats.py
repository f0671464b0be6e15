"""Mask formats (index, binary, colour, labelme, COCO) on tiny files made here, and verify-data."""

import json

import numpy as np
import pytest
from PIL import Image

from keras_seg import cli
from keras_seg.errors import InputError, MaskFormatError
from keras_seg.training.dataset_survey import survey
from keras_seg.training.layouts import open_dataset
from keras_seg.training.mask_formats import ColourMasks, read_class_names

NARROW = ["--model-arg", "widths=(4, 8, 8, 8, 8, 16)", "--crop-size", "32", "--epochs", "1",
          "--batch-size", "2"]


def _png(path, array, **keywords):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array, np.uint8)).save(path, **keywords)
    return path


def _folder(root, masks, suffix=".png"):
    for i, mask in enumerate(masks):
        mask = np.asarray(mask, np.uint8)
        _png(root / "images" / f"{i}.png", np.full((*mask.shape[:2], 3), 90, np.uint8))
        _png(root / "masks" / f"{i}{suffix}", mask)
    return root


def _error(capsys):
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    return err


def test_one_list_of_image_suffixes_for_every_command():
    from keras_seg.images import IMAGE_SUFFIXES
    from keras_seg.inference import batch
    from keras_seg.training import data

    assert IMAGE_SUFFIXES == (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
    assert batch.IMAGE_SUFFIXES is IMAGE_SUFFIXES and data.IMAGE_SUFFIXES is IMAGE_SUFFIXES


def test_jpeg_masks_are_refused_with_the_reason(tmp_path, capsys):
    data = _folder(tmp_path / "data", [np.zeros((32, 32))], suffix=".jpg")
    with pytest.raises(MaskFormatError, match="0.jpg: JPEG mask refused: its lossy"):
        open_dataset(data).masks.read(data / "masks" / "0.jpg")
    assert cli.main(["verify-data", str(data), "--num-classes", "2"]) == 1
    assert "JPEG mask refused" in capsys.readouterr().out
    ckpt = tmp_path / "ckpt"
    assert cli.main(["train", "fcn8s", str(data), "--num-classes", "2", "--checkpoint-dir",
                     str(ckpt), *NARROW]) == 2
    assert "0.jpg: JPEG mask refused" in _error(capsys) and not ckpt.exists()


def test_binary_masks_are_foreground_masks(tmp_path):
    mask = np.zeros((8, 8), np.uint8)
    mask[2:5, 2:5] = 255
    source = open_dataset(_folder(tmp_path, [mask, np.zeros((8, 8))]))
    report = survey(source, num_classes=2)
    assert report.notes == ["masks hold only 0 and 255 with 2 classes: foreground masks, 255 "
                            "read as class 1"]
    assert report.pixels == {0: 119, 1: 9} and report.images == {0: 2, 1: 1}
    assert source.masks.read(source.pairs[0][1]).max() == 1
    assert not survey(open_dataset(tmp_path), num_classes=3).notes  # 3 classes: 255 ignored


@pytest.mark.parametrize("kind", ["txt", "json"])
def test_colour_masks_with_a_colour_map(tmp_path, kind):
    if kind == "txt":  # CamVid's label_colors.txt
        (tmp_path / "colors.txt").write_text("128 128 128\tSky\n128 0 0\tBuilding\n"
                                             "0 0 0\t__ignore__\n")
    else:
        (tmp_path / "colors.txt").write_text(json.dumps(
            {"Sky": [128, 128, 128], "Building": [128, 0, 0], "__ignore__": [[0, 0, 0]]}))
    colours = np.zeros((4, 4, 3), np.uint8)
    colours[:2] = 128
    colours[2, :2] = [128, 0, 0]
    _png(tmp_path / "m.png", colours)
    masks = ColourMasks.from_file(tmp_path / "colors.txt")
    assert masks.class_names == ("Sky", "Building")
    assert masks.read(tmp_path / "m.png").tolist() == [[0] * 4, [0] * 4, [1, 1, 255, 255],
                                                       [255] * 4]
    colours[3, 3] = [1, 2, 3]
    _png(tmp_path / "m.png", colours)
    with pytest.raises(MaskFormatError,
                       match=r"m.png: colour \(1, 2, 3\) \(1 pixels\) is not in .*colors.txt"):
        masks.read(tmp_path / "m.png")
    _png(tmp_path / "m.jpg", colours)
    with pytest.raises(MaskFormatError, match="JPEG colour mask refused"):
        masks.read(tmp_path / "m.jpg")


def test_class_names_from_a_list_or_a_file(tmp_path):
    (tmp_path / "names.txt").write_text("sky\nroad\n\ncar\n")
    assert read_class_names("sky,road, car") == read_class_names(tmp_path / "names.txt")
    assert read_class_names(["a", "b"]) == ("a", "b")


def _labelme(path, shapes, size=(20, 30), image=True):
    height, width = size
    if image:
        _png(path.with_suffix(".png"), np.full((height, width, 3), 100, np.uint8))
    path.write_text(json.dumps({"shapes": shapes, "imagePath": path.with_suffix(".png").name,
                                "imageHeight": height, "imageWidth": width}))
    return path


def _shape(label, points, kind="polygon"):
    return {"label": label, "points": points, "shape_type": kind}


def test_labelme_shapes_drawn_in_order(tmp_path):
    _labelme(tmp_path / "a.json", [
        _shape("cat", [[0, 0], [9, 0], [9, 9], [0, 9]]),
        _shape("dog", [[5, 5], [14, 14]], "rectangle"),  # over the cat
        _shape("cat", [[25, 15], [27, 15]], "circle"),
        _shape("dog", [[0, 19], [29, 19]], "line"),
        _shape("__ignore__", [[28, 0], [40, 0], [40, 3], [28, 3]]),  # reaches outside
    ])
    source = open_dataset(tmp_path, "labelme")
    assert source.class_names == ("background", "cat", "dog")  # sorted, background first
    assert source.derived_labels == ("_background_", "cat", "dog")
    report = survey(source)
    mask = source.masks.read(source.pairs[0][1])
    assert mask[2, 2] == 1 and mask[7, 7] == 2 and mask[12, 12] == 2 and mask[15, 25] == 1
    assert mask[19, 10] == 0 and mask[1, 29] == 255 and mask.shape == (20, 30)
    assert any("line shapes mark no area" in note for note in report.notes)
    assert any("reaches outside the 30x20 image; clipped" in note for note in report.notes)
    assert report.formats == {"labelme JSON": 1}


def _b64_png(array):
    import base64
    import io

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def test_labelme_mask_and_oriented_rectangle_shapes(tmp_path):
    """As labelme's shapes_to_label (examples/utils.py): the patch at the rounded first point,
    integer corners crop it to the box, fractional ones keep its size, clipped to the image."""
    patch = np.zeros((4, 5), np.uint8)
    patch[1:, 1:4] = 1
    mask_shape = _shape("cat", [[20, 2], [23, 4]], "mask")  # integer box 4x3: cropped
    mask_shape["mask"] = _b64_png(patch)
    edge = _shape("dog", [[27.6, 17.4], [31.2, 20.6]], "mask")  # fractional: its own 4x5
    edge["mask"] = _b64_png(np.ones((4, 5), bool))
    _labelme(tmp_path / "a.json", [
        _shape("dog", [[2, 1], [8, 3], [6, 9], [0, 7]], "oriented_rectangle"), mask_shape,
        edge])
    source = open_dataset(tmp_path, "labelme")
    mask = source.masks.read(source.pairs[0][1])
    expected = np.zeros((3, 4), np.int32)
    expected[1:, 1:4] = 1
    np.testing.assert_array_equal(mask[2:5, 20:24], expected)
    assert (mask[2:5, 24] == 0).all()  # the patch's fifth column is outside the box
    assert (mask[17:, 28:] == 2).all() and (mask[16, 28:] == 0).all()
    assert mask[5, 4] == 2 and mask[0, 0] == 0
    broken = _shape("cat", [[0, 0], [3, 3]], "mask")
    broken["mask"] = "not base64 at all!"
    _labelme(tmp_path / "a.json", [broken])
    with pytest.raises(MaskFormatError, match="the mask shape 'cat' holds no readable image"):
        source.masks.read(source.pairs[0][1])


def test_labelme_notes_are_said_once_per_kind_with_a_count(tmp_path):
    for stem in ("a", "b", "c"):
        _labelme(tmp_path / f"{stem}.json", [
            _shape("cat", [[0, 0], [9, 0], [9, 9]]),
            _shape("cat", [[0, 19], [29, 19]], "line"),
            _shape("cat", [[28, 0], [40, 0], [40, 3]])])  # reaches outside
    notes = survey(open_dataset(tmp_path, "labelme")).notes
    assert notes == [
        f"labelme: line shapes mark no area and are left out (first in {tmp_path / 'a.json'}) "
        "(and 2 more like it)",
        f"{tmp_path / 'a.json'}: shape 'cat' reaches outside the 30x20 image; clipped to it "
        "(and 2 more like it)"]


def test_labelme_labels_txt_as_labelme2voc_reads_it(tmp_path, capsys):
    (tmp_path / "labels.txt").write_text("__ignore__\n_background_\ndog\ncat\n")
    _labelme(tmp_path / "a.json", [_shape("cat", [[0, 0], [5, 0], [5, 5]])])
    source = open_dataset(tmp_path, "labelme")
    assert source.class_names == ("background", "dog", "cat") and not source.derived_labels
    assert source.masks.read(source.pairs[0][1])[1, 3] == 2
    _labelme(tmp_path / "b.json", [_shape("bird", [[0, 0], [5, 0], [5, 5]])])
    ckpt = tmp_path / "ckpt"
    assert cli.main(["train", "fcn8s", str(tmp_path), "--layout", "labelme", "--num-classes",
                     "3", "--checkpoint-dir", str(ckpt), *NARROW]) == 2
    err = _error(capsys)
    assert "b.json: label 'bird' is not in" in err and "labels.txt" in err
    assert not ckpt.exists()


def _coco(root, images, annotations, write_images=True):
    for image in images if write_images else ():
        _png(root / "images" / image["file_name"],
             np.zeros((image["height"], image["width"], 3), np.uint8))
    (root / "annotations.json").write_text(json.dumps({
        "images": images, "annotations": annotations,
        "categories": [{"id": 7, "name": "zebra"}, {"id": 3, "name": "ant"}]}))
    return root


def test_coco_polygons_rle_and_crowds(tmp_path):
    from pycocotools import mask as coco_mask

    crowd = np.zeros((10, 12), np.uint8, order="F")
    crowd[8:, :] = 1
    rle = coco_mask.encode(crowd)
    rle["counts"] = rle["counts"].decode()
    root = _coco(tmp_path, [{"id": 1, "file_name": "x.png", "height": 10, "width": 12}], [
        {"id": 1, "image_id": 1, "category_id": 7, "iscrowd": 0,
         "segmentation": [[0, 0, 6, 0, 6, 6, 0, 6]]},
        {"id": 2, "image_id": 1, "category_id": 3, "iscrowd": 0,
         "segmentation": [[3, 3, 9, 3, 9, 9, 3, 9]]},  # over the zebra
        {"id": 3, "image_id": 1, "category_id": 3, "iscrowd": 1, "segmentation": rle}])
    source = open_dataset(root, "coco")
    assert source.class_names == ("background", "ant", "zebra")  # ids 3, 7
    mask = source.masks.read(source.pairs[0][1])
    assert mask[1, 1] == 2 and mask[5, 5] == 1 and mask[1, 10] == 0
    assert (mask[8:] == 255).all()


def test_coco_splits_and_images_no_annotation_lists(tmp_path, capsys):
    image = {"id": 1, "file_name": "x.png", "height": 4, "width": 4}
    root = _coco(tmp_path / "single", [image], [])
    _png(root / "images" / "stray.png", np.zeros((4, 4, 3), np.uint8))
    source = open_dataset(root, "coco")
    assert source.unmatched == [str(root / "images" / "stray.png")]
    assert cli.main(["verify-data", str(root), "--layout", "coco"]) == 1
    assert f"unmatched: {root / 'images' / 'stray.png'}" in capsys.readouterr().out
    with pytest.raises(InputError, match="no split 'val2017'"):
        open_dataset(root, "coco", "val2017")
    official = tmp_path / "official"  # COCO's own: annotations/instances_<split>.json
    _png(official / "val2017" / "x.png", np.zeros((4, 4, 3), np.uint8))
    (official / "annotations").mkdir()
    (official / "annotations" / "instances_val2017.json").write_text(json.dumps({
        "images": [image], "annotations": [], "categories": [{"id": 1, "name": "a"}]}))
    source = open_dataset(official, "coco", "val2017")
    assert source.pairs[0][0] == official / "val2017" / "x.png" and not source.unmatched


def test_coco_file_naming_a_missing_image_is_refused(tmp_path, capsys):
    root = _coco(tmp_path, [{"id": 1, "file_name": "gone.png", "height": 4, "width": 4}], [],
                 write_images=False)
    (root / "images").mkdir()
    assert cli.main(["verify-data", str(root), "--layout", "coco"]) == 2
    assert "image 'gone.png' (id 1) is not in" in _error(capsys)


def test_shapes_wholly_outside_their_image_are_refused_before_training(tmp_path, capsys):
    labelme = tmp_path / "labelme"
    labelme.mkdir()
    _labelme(labelme / "a.json", [_shape("cat", [[0, 0], [9, 0], [9, 9]]),
                                  _shape("cat", [[35, 2], [40, 2], [40, 8]])])  # x > 30
    coco = _coco(tmp_path / "coco", [{"id": 1, "file_name": "x.png", "height": 10,
                                      "width": 12}], [
        {"id": 4, "image_id": 1, "category_id": 7, "iscrowd": 0,
         "segmentation": [[0, -9, 5, -9, 5, -2]]}])  # above the image
    for root, layout, classes, message in (
            (labelme, "labelme", "2", f"{labelme / 'a.json'}: shape 'cat' lies wholly outside "
                                      "the 30x20 image"),
            (coco, "coco", "3", "annotation 4 lies wholly outside its 12x10 image")):
        ckpt = tmp_path / f"ckpt-{layout}"
        assert cli.main(["train", "fcn8s", str(root), "--layout", layout, "--num-classes",
                         classes, "--checkpoint-dir", str(ckpt), *NARROW]) == 2
        err = _error(capsys)
        assert message in err and "\n" not in err and not ckpt.exists()


def test_mostly_ignored_data_is_refused_before_any_work(tmp_path, capsys):
    mask = np.full((32, 32), 255, np.uint8)
    mask[:4] = 1
    data = _folder(tmp_path / "data", [mask, mask])
    ckpt = tmp_path / "ckpt"
    assert cli.main(["train", "fcn8s", str(data), "--num-classes", "3", "--checkpoint-dir",
                     str(ckpt), *NARROW]) == 2
    err = _error(capsys)
    assert "88% of the labelled pixels of the training masks are the ignore label 255" in err
    assert "--allow-mostly-ignored" in err and not ckpt.exists()


def test_verify_data_counts_classes_formats_and_draws_them(tmp_path, capsys):
    (tmp_path / "colors.json").write_text(json.dumps({"sky": [0, 0, 255], "road": [9, 9, 9]}))
    colours = np.zeros((4, 4, 3), np.uint8)
    colours[:] = [9, 9, 9]
    colours[0] = [0, 0, 255]
    _folder(tmp_path / "data", [colours, colours])
    plot = tmp_path / "classes.png"
    assert cli.main(["verify-data", str(tmp_path / "data"), "--colors",
                     str(tmp_path / "colors.json"), "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert "2 image/mask pairs, 0 unmatched files, 0 problems" in out
    assert "formats: colour PNG (2)" in out
    assert "    0            8  25.00%       2  sky" in out
    assert "    1           24  75.00%       2  road" in out
    with Image.open(plot) as picture:
        assert picture.format == "PNG" and np.asarray(picture.convert("L")).std() > 5


def test_labelme_data_trains_and_evaluates_with_its_class_names(tmp_path, capsys):
    for i in range(2):
        _labelme(tmp_path / "data" / f"{i}.json", [
            _shape("cat", [[2, 2], [20, 2], [20, 20], [2, 20]]),
            _shape("dog", [[30, 30], [44, 44]], "rectangle")], size=(48, 48))
    ckpt = tmp_path / "ckpt"
    assert cli.main(["train", "fcn8s", str(tmp_path / "data"), "--layout", "labelme",
                     "--num-classes", "3", "--checkpoint-dir", str(ckpt), *NARROW]) == 0
    assert (ckpt / "labels.txt").read_text() == "__ignore__\n_background_\ncat\ndog\n"
    state = json.loads((ckpt / "state.json").read_text())
    assert state["epoch"] == 1
    capsys.readouterr()
    assert cli.main(["evaluate", str(ckpt / "best.keras"), str(tmp_path / "data"),
                     "--layout", "labelme"]) == 0
    table = capsys.readouterr().out
    assert "background" in table and "cat" in table and "dog" in table
    # predict's legend names the trained classes
    from keras_seg.images import overlay, read_image, with_legend

    image = tmp_path / "data" / "0.png"
    assert cli.main(["predict", str(ckpt / "best.keras"), str(image), "--out",
                     str(tmp_path / "l.png"), "--overlay", str(tmp_path / "o.png")]) == 0
    labels = np.asarray(Image.open(tmp_path / "l.png"))
    palette = np.asarray(Image.open(tmp_path / "l.png").getpalette(), np.uint8).reshape(-1, 3)
    drawn = overlay(read_image(image), labels, palette)
    saved = np.asarray(Image.open(tmp_path / "o.png").convert("RGB"))
    np.testing.assert_array_equal(saved, with_legend(drawn, labels, palette,
                                                     ("background", "cat", "dog")))
    assert not np.array_equal(saved, with_legend(drawn, labels, palette, None))  # not "0, 1"


def test_colour_data_trains_with_the_map_names_and_notes_unseen_classes(tmp_path, capsys):
    import keras

    (tmp_path / "colors.txt").write_text("0 0 0\tsky\n255 0 0\tcar\n0 255 0\ttree\n")
    colours = np.zeros((48, 48, 3), np.uint8)
    colours[20:, 10:30] = [255, 0, 0]
    data = _folder(tmp_path / "data", [colours, colours])
    ckpt = tmp_path / "ckpt"
    assert cli.main(["train", "fcn8s", str(data), "--colors", str(tmp_path / "colors.txt"),
                     "--checkpoint-dir", str(ckpt), *NARROW]) == 0  # 3 classes: the map's
    assert "classes never in the training masks: 2 (tree)" in capsys.readouterr().err
    from keras_seg.registration import register_with_keras
    from keras_seg.registry import class_names

    register_with_keras()
    model = keras.saving.load_model(ckpt / "best.keras")
    assert class_names(model) == ("sky", "car", "tree")


def test_without_num_classes_the_data_must_name_them(tmp_path, capsys):
    data = _folder(tmp_path / "data", [np.zeros((32, 32))])
    assert cli.main(["train", "fcn8s", str(data), "--checkpoint-dir", str(tmp_path / "ckpt"),
                     *NARROW]) == 2
    assert ("--num-classes is needed: the masks hold class indices and nothing names the "
            "classes") in _error(capsys)
    assert not (tmp_path / "ckpt").exists()


def test_class_names_of_another_count_are_refused(tmp_path, capsys):
    data = _folder(tmp_path / "data", [np.zeros((32, 32))])
    assert cli.main(["train", "fcn8s", str(data), "--classes", "a,b", "--num-classes", "3",
                     "--checkpoint-dir", str(tmp_path / "ckpt"), *NARROW]) == 2
    assert "the dataset names 2 classes (a, b) but --num-classes is 3" in _error(capsys)
