"""Scoring saved label maps (``evaluate --predictions``), equal to the reference scorers.

The references: the official Cityscapes scripts (``cityscapesscripts``, the ``test``
extra) and FCN's ``score.py``, copied below. Every map here is a few dozen pixels wide.
"""

import copy
import json
import re

import numpy as np
import pytest
from PIL import Image

import keras_seg
from keras_seg import cli
from keras_seg.training.evaluate import evaluate_predictions
from keras_seg.training.layouts import CITYSCAPES_TRAIN_IDS

#: Awkward sizes (width, height): odd, wider and taller than they are long.
SIZES = ((40, 30), (37, 23), (29, 41))


# FCN's score.py, shelhamer/fcn.berkeleyvision.org at 1305c7378a9f0ab44b2c936f4d60e4687e3d8743
# (file last changed in 796c0876671bb685641d6b6f170057feabc5118d): fast_hist as written there,
# and the four scores do_seg_tests prints from the accumulated hist.
def fast_hist(a, b, n):
    k = (a >= 0) & (a < n)
    return np.bincount(n * a[k].astype(int) + b[k], minlength=n**2).reshape(n, n)


def fcn_scores(hist):
    with np.errstate(divide="ignore", invalid="ignore"):
        acc = np.diag(hist).sum() / hist.sum()
        per_class_acc = np.diag(hist) / hist.sum(1)
        iu = np.diag(hist) / (hist.sum(1) + hist.sum(0) - np.diag(hist))
        freq = hist.sum(1) / hist.sum()
        return {"overall accuracy": acc, "mean accuracy": np.nanmean(per_class_acc),
                "mean IU": np.nanmean(iu), "fwavacc": (freq[freq > 0] * iu[freq > 0]).sum(),
                "iu": iu}


def _save(path, array, mode=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array, np.uint8), mode).save(path)


def _voc(root, rng):
    """A VOC layout (val split) with 255 borders; returns {id: mask}."""
    masks = {}
    for index, (width, height) in enumerate(SIZES):
        name = f"2007_{index:06d}"
        mask = rng.choice([0, 1, 2, 5, 7, 15], size=(height // 3 + 1, width // 3 + 1))
        mask = np.kron(mask, np.ones((3, 3), int))[:height, :width]  # 3x3 blocks
        edges = np.zeros(mask.shape, bool)
        edges[:, 1:] |= mask[:, 1:] != mask[:, :-1]
        edges[1:] |= mask[1:] != mask[:-1]
        mask[edges] = 255  # VOC's object borders
        _save(root / "JPEGImages" / f"{name}.jpg", np.zeros((height, width, 3)))
        _save(root / "SegmentationClass" / f"{name}.png", mask, "L")
        masks[name] = mask
    (root / "ImageSets" / "Segmentation").mkdir(parents=True)
    (root / "ImageSets" / "Segmentation" / "val.txt").write_text("\n".join(masks) + "\n")
    return masks


def test_voc_scores_equal_fcn_score_py(tmp_path, capsys):
    rng = np.random.default_rng(0)
    masks = _voc(tmp_path / "VOC", rng)
    hist = np.zeros((21, 21))
    for name, mask in masks.items():
        prediction = np.where(mask == 255, rng.integers(0, 21, mask.shape), mask)
        noise = rng.random(mask.shape) < 0.3
        prediction[noise] = rng.choice([0, 1, 2, 5, 9], size=int(noise.sum()))
        prediction[prediction == 7] = 1  # class 7 never predicted, 9 never true
        _save(tmp_path / "preds" / f"{name}.png", prediction, "L")
        hist += fast_hist(mask.flatten(), prediction.flatten(), 21)
    assert cli.main(["evaluate", "--predictions", str(tmp_path / "preds"),
                     str(tmp_path / "VOC"), "--layout", "voc", "--json",
                     str(tmp_path / "scores.json")]) == 0
    assert "aeroplane" in capsys.readouterr().out  # the layout's class names
    ours, fcn = json.loads((tmp_path / "scores.json").read_text()), fcn_scores(hist)
    # Classes absent from labels and predictions alike are NaN in both and left out of the
    # means by both (FCN's np.nanmean): the same set of classes is averaged.
    assert np.isnan(fcn["iu"]).sum() == 21 - 7
    np.testing.assert_allclose(list(ours["per_class_iou"].values()), fcn["iu"], rtol=0,
                               atol=1e-12)  # NaN where FCN's is NaN
    for key, reference in (("pixel_accuracy", "overall accuracy"),
                           ("mean_accuracy", "mean accuracy"), ("mean_iou", "mean IU"),
                           ("frequency_weighted_iou", "fwavacc")):
        assert ours[key] == pytest.approx(fcn[reference], abs=1e-12), key
    assert np.array_equal(ours["confusion"], hist) and ours["images"] == 3


def _cityscapes(root, rng, labels=None):
    """A Cityscapes val split of random label ids (void ones too); returns [(frame, ids)]."""
    frames = []
    for index, (width, height) in enumerate(SIZES):
        city = ("aachen", "bochum", "zurich")[index]
        frame = f"{city}_000000_{index:06d}"
        ids = rng.integers(0, 34, (height, width)) if labels is None else labels[index]
        _save(root / "leftImg8bit" / "val" / city / f"{frame}_leftImg8bit.png",
              np.zeros((height, width, 3)))
        _save(root / "gtFine" / "val" / city / f"{frame}_gtFine_labelIds.png", ids, "L")
        frames.append((frame, ids))
    return frames


def test_cityscapes_scores_equal_the_official_scripts(tmp_path):
    cs = pytest.importorskip("cityscapesscripts.evaluation.evalPixelLevelSemanticLabeling",
                             reason="cityscapesscripts (the 'test' extra) is not installed")
    from cityscapesscripts.helpers.labels import labels

    evaluated = [label for label in labels if not label.ignoreInEval]
    assert {label.id: label.trainId for label in evaluated} == CITYSCAPES_TRAIN_IDS
    rng = np.random.default_rng(1)
    frames = _cityscapes(tmp_path / "cityscapes", rng)
    # the names the benchmark's rule (<city>_<seq>_<frame>*.png, any folder) accepts
    names = ("{}.png", "{}_leftImg8bit.png", "lindau/{}_pred_labelIds.png")
    predictions, truths = [], []
    for (frame, ids), name in zip(frames, names):
        guess = np.where(rng.random(ids.shape) < 0.4, rng.integers(0, 34, ids.shape), ids)
        path = tmp_path / "results" / name.format(frame)
        _save(path, guess, "L")
        predictions.append(str(path))
        truths.append(str(next((tmp_path / "cityscapes" / "gtFine").rglob(f"{frame}_*.png"))))
    args = copy.copy(cs.args)
    args.quiet, args.JSONOutput, args.evalInstLevelScore = True, False, False
    official = cs.evaluateImgLists(predictions, truths, args)

    with pytest.warns(UserWarning, match="predicted as no class"):  # random ids: many void
        ours = evaluate_predictions(tmp_path / "results", tmp_path / "cityscapes",
                                    layout="cityscapes", progress=False)
    assert keras_seg.evaluate_predictions is evaluate_predictions
    by_train_id = sorted(evaluated, key=lambda label: label.trainId)
    np.testing.assert_allclose(list(ours["per_class_iou"].values()),
                               [official["classScores"][label.name] for label in by_train_id],
                               rtol=0, atol=1e-6)
    assert list(ours["per_class_iou"]) == [label.name for label in by_train_id]
    assert ours["mean_iou"] == pytest.approx(official["averageScoreClasses"], abs=1e-6)
    assert sum(ours["unclassified"]) > 0  # void ids predicted on scored pixels: misses


def test_cityscapes_train_ids_score_as_their_label_ids(tmp_path, capsys):
    """The same guesses saved as train ids or as label ids score the same; train ids read
    as label ids (the default) draw a note naming the flag."""
    rng = np.random.default_rng(2)
    to_label = {train: label for label, train in CITYSCAPES_TRAIN_IDS.items()}
    labels = [rng.choice([*CITYSCAPES_TRAIN_IDS, 0, 4], size=(h, w)) for w, h in SIZES]
    frames = _cityscapes(tmp_path / "cityscapes", rng, labels)
    for frame, ids in frames:
        train = rng.integers(0, 19, ids.shape)
        _save(tmp_path / "train" / f"{frame}.png", train, "L")
        _save(tmp_path / "label" / f"{frame}.png", np.vectorize(to_label.get)(train), "L")
    runs = {}
    for ids in ("train", "label"):
        json_path = tmp_path / f"{ids}.json"
        assert cli.main(["evaluate", "--predictions", str(tmp_path / ids),
                         str(tmp_path / "cityscapes"), "--layout", "cityscapes",
                         "--prediction-ids", ids, "--json", str(json_path)]) == 0
        runs[ids] = json.loads(json_path.read_text())
    assert runs["train"] == runs["label"] and sum(runs["train"]["unclassified"]) == 0
    capsys.readouterr()
    assert cli.main(["evaluate", "--predictions", str(tmp_path / "train"),
                     str(tmp_path / "cityscapes"), "--layout", "cityscapes"]) == 0
    assert "set --prediction-ids to 'train'" in capsys.readouterr().err


@pytest.fixture()
def folder_data(tmp_path):
    """A folder dataset (3 classes, 255 in the masks) and a perfect prediction of each."""
    rng = np.random.default_rng(3)
    for name, (width, height) in zip("abc", SIZES):
        mask = rng.integers(0, 3, (height, width))
        mask[0] = 255
        _save(tmp_path / "data" / "images" / f"{name}.png", np.zeros((height, width, 3)))
        _save(tmp_path / "data" / "masks" / f"{name}.png", mask, "L")
        (tmp_path / "preds").mkdir(exist_ok=True)  # palette PNGs, as keras-seg predict writes
        keras_seg.images.write_labels(tmp_path / "preds" / f"{name}.png",
                                      np.where(mask == 255, 0, mask), [(0, 0, 0)] * 3)
    return tmp_path


def _evaluate(root, capsys, *extra):
    status = cli.main(["evaluate", "--predictions", str(root / "preds"), str(root / "data"),
                       "--num-classes", "3", *extra])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_a_perfect_prediction_scores_one(folder_data, capsys):
    status, out, _ = _evaluate(folder_data, capsys)
    assert status == 0 and re.search(r"mean_iou +1.0000", out), out


def _rgb(path):
    _save(path, np.zeros((30, 40, 3)))


def _jpeg(path):
    path.unlink()
    Image.fromarray(np.zeros((30, 40), np.uint8)).save(path.with_suffix(".jpg"))


def _truncated(path):
    path.write_bytes(path.read_bytes()[:-30])  # the header whole, the pixels cut


BAD_PREDICTIONS = [
    (lambda path: path.unlink(), "1 of 3 masks have no prediction in"),
    (lambda path: _save(path, np.zeros((30, 41)), "L"),
     "a.png: the prediction is 41x30 but its mask"),
    (lambda path: _save(path, np.full((30, 40), 7), "L"), "a.png: value 7 is not a class (0..2)"),
    (_jpeg, "a.jpg: JPEG prediction refused"),
    (lambda path: path.write_bytes(b"not a png"), "a.png: cannot read the prediction"),
    (_truncated, "a.png: cannot decode the PNG"),
    (_rgb, "a.png: colour image (RGB); a prediction is a label map"),
]


@pytest.mark.parametrize("spoil,message", BAD_PREDICTIONS)
def test_bad_predictions_are_refused_naming_the_file(folder_data, capsys, spoil, message):
    spoil(folder_data / "preds" / "a.png")
    status, _, err = _evaluate(folder_data, capsys)
    assert status == 2 and message in err and err.count("\n") == 1, err


def test_masks_without_a_prediction_are_scored_without_them_when_allowed(folder_data, capsys):
    (folder_data / "preds" / "a.png").unlink()
    status, _, err = _evaluate(folder_data, capsys)
    assert status == 2 and "pass --allow-unmatched" in err
    status, out, _ = _evaluate(folder_data, capsys, "--allow-unmatched")
    assert status == 0 and re.search(r"images +2\n", out), out
