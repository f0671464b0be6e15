"""The published scores of the weights records, the evaluate line beside them, the README."""

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import pytest

from keras_seg import cli
from keras_seg.choices import LAYOUTS
from keras_seg.published import (
    METRIC_KEYS,
    NOT_REPORTED,
    NOT_VERIFIED,
    PublishedScore,
    markdown_table,
    published_beside,
)
from keras_seg.registry import get_weights_record, list_weights

README = Path(__file__).resolve().parents[1] / "README.md"
SCRIPT = Path(__file__).resolve().parent / "scripts" / "readme_scores.py"
#: Figures read in the releases' own READMEs (fcn.berkeleyvision.org, pytorch-fcn).
README_FIGURES = {"fcn32s": 63.6, "fcn16s": 65.0, "fcn8s": 65.5, "fcn8s_atonce": 65.4,
                  "fcn32s_torch": 63.63, "fcn16s_torch": 65.01, "fcn8s_torch": 65.51,
                  "fcn8s_atonce_torch": 65.40}


@pytest.mark.parametrize("name", list(list_weights()))
def test_every_record_says_what_its_source_reports(name):
    record = get_weights_record(name)
    assert record.scores and all(isinstance(s, PublishedScore) for s in record.scores)
    for score in record.scores:
        assert score.metric in METRIC_KEYS and score.where and score.dataset and score.split
        assert score.layout is None or score.layout in LAYOUTS
        if score.value is None:
            assert score.where == NOT_REPORTED or score.where.startswith(NOT_VERIFIED)
        else:
            assert 0 < score.value <= 100
        if score.layout is not None and not score.held_out and score.value is not None:
            assert score.command(record).startswith(f"keras-seg evaluate {record.model} DATA")
    assert repr(record.scores[0]).startswith("PublishedScore(dataset=")  # the note: str only
    assert "note=" not in repr(record.scores[0])


def test_the_release_readme_figures_are_the_records():
    for name, value in README_FIGURES.items():
        score = get_weights_record(name).scores[0]
        assert (score.dataset, score.split, score.metric, score.value) == \
            ("PASCAL VOC 2011", "seg11valid", "mean IoU", value)
    assert get_weights_record("fcn8s").scores[1].held_out  # seg12test: the server's


def test_a_score_without_a_value_must_say_why():
    with pytest.raises(ValueError, match="not reported"):
        PublishedScore("CamVid", "test", "mean IoU", None, "somewhere")
    with pytest.raises(ValueError, match="metric must be one of"):
        PublishedScore("CamVid", "test", "mIoU", 60.0, "a paper")
    assert str(PublishedScore("X", "-", "mean IoU", None, NOT_REPORTED)) == "X: not reported"


def test_the_measured_score_is_printed_beside_the_published_one():
    model = SimpleNamespace(metadata={"model": "fcn8s", "weights": "fcn8s"})
    result = {"mean_iou": 0.6312, "pixel_accuracy": 0.9, "confusion": [[0]] * 21}
    text = published_beside("fcn8s", model, result, layout="voc", split="seg11valid.txt")
    assert text == ("\npublished (fcn8s): PASCAL VOC 2011 seg11valid mean IoU 65.5 "
                    "(shelhamer/fcn.berkeleyvision.org README); measured here 63.12")
    text = published_beside("fcn8s", SimpleNamespace(metadata={}), result, layout="voc",
                            split="val")
    assert "these weights are not the published fcn8s file" in text
    assert "this run's split is 'val', the source's 'seg11valid'" in text
    assert "labels are kept by its benchmark server" in text  # the seg12test line
    assert published_beside("build/best.keras", model, result, layout="voc", split="val") == ""


def test_evaluate_prints_the_published_score_of_a_registered_model(tmp_path, capsys):
    import keras_seg
    from keras_seg.samples import write_shapes_dataset

    data = write_shapes_dataset(tmp_path / "data", 1, 32, 32, seed=1)
    weights = tmp_path / "narrow.weights.h5"
    keras_seg.build("fcn8s", num_classes=4, widths=(4, 8, 8, 8, 8, 16)).save_weights(weights)
    assert cli.main(["evaluate", "fcn8s", str(data), "--weights", str(weights),
                     "--num-classes", "4", "--model-arg", "widths=(4, 8, 8, 8, 8, 16)"]) == 0
    out = capsys.readouterr().out
    assert "published (fcn8s): PASCAL VOC 2011 seg11valid mean IoU 65.5" in out
    assert "note: these weights are not the published fcn8s file" in out
    assert "note: 4 classes scored, the published file has 21" in out
    assert "this run reads the 'folder' layout" in out


def test_the_readme_table_is_the_records():
    spec = importlib.util.spec_from_file_location("readme_scores", SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    text = README.read_text()
    assert markdown_table() in text and script.rewritten(text) == text, \
        "the README's published-scores table is stale: python tests/scripts/readme_scores.py"
    assert text.count("| `") >= len(list_weights())
