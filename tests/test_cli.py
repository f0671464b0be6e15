"""The keras-seg command, end to end in a subprocess and through main()."""

import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from keras_seg import cli
from keras_seg.samples import street_scene

from caffe_files import (
    FCN,
    deploy_net,
    prototxt_text,
    random_blobs,
    reference_or_skip,
    write_caffemodel,
)


def _run(*args):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run([sys.executable, "-m", "keras_seg.cli", *args], capture_output=True,
                          text=True, env=env, timeout=600)


def test_models_lists_the_registry(capsys):
    assert cli.main(["models"]) == 0
    assert "fcn8s_atonce" in capsys.readouterr().out


@pytest.mark.parametrize("argv,message", [
    (["predict", "fcn4s", "x.png"], "unknown model 'fcn4s'"),
    (["predict", "fcn8s", "missing.png"], "missing.png: cannot read the image"),
    (["convert", "fcn8s", "w.caffemodel", "--out", "x.h5"], "must end in .weights.h5"),
    (["convert", "fcn8s", "missing.caffemodel", "--out", "x.weights.h5"], "no such file"),
])
def test_errors_are_one_line_and_non_zero(capsys, monkeypatch, tmp_path, argv, message):
    monkeypatch.chdir(tmp_path)
    assert cli.main(argv) == 2  # refused before any work
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


@pytest.mark.slow
def test_convert_then_predict_writes_a_colour_label_image(tmp_path, capsys):
    """The release's deploy prototxt at narrow widths: convert checks it, predict uses it."""
    source = reference_or_skip(FCN / "voc-fcn8s" / "deploy.prototxt")
    narrow = deploy_net(source, widths={64: 4, 128: 8, 256: 8, 512: 8, 4096: 16})
    prototxt = tmp_path / "deploy.prototxt"
    prototxt.write_text(prototxt_text(narrow, 64, 64))
    caffemodel = write_caffemodel(tmp_path / "fcn8s.caffemodel", random_blobs(narrow, seed=3))
    out = tmp_path / "x.weights.h5"
    widths = ["--model-arg", "widths=(4, 8, 8, 8, 8, 16)"]
    assert cli.main(["convert", "fcn8s", str(caffemodel), "--out", str(out),
                     "--prototxt", str(prototxt), *widths]) == 0
    assert out.exists() and "arrays assigned" in capsys.readouterr().out
    image = tmp_path / "street.jpg"
    Image.fromarray(street_scene(75, 101)).save(image)
    assert cli.main(["predict", "fcn8s", str(image), "--weights", str(out), *widths,
                     "--overlay", str(tmp_path / "overlay.png"), "--probabilities",
                     str(tmp_path / "p.npy")]) == 0
    labels = Image.open(tmp_path / "street_labels.png")
    assert labels.mode == "P" and labels.size == (101, 75)
    assert labels.getpalette()[3:6] == [128, 0, 0]  # VOC colours
    probabilities = np.load(tmp_path / "p.npy")
    np.testing.assert_allclose(probabilities.sum(-1), 1, rtol=1e-5)
    np.testing.assert_array_equal(np.asarray(labels), probabilities.argmax(-1))
    assert len(np.unique(np.asarray(labels))) > 1  # random weights: several classes


@pytest.mark.parametrize("target", ["model.keras", "saved_model"])
def test_export_gives_the_source_model_outputs(tmp_path, capsys, target):
    import keras

    import keras_seg

    narrow = {"num_classes": 3, "widths": (4, 8, 8, 8, 8, 16)}
    source = keras_seg.build("fcn32s", **narrow)
    rng = np.random.default_rng(0)
    for layer in source.layers:  # FCN zero-initialises its scores: make them count
        if layer.name == "score_fr":
            layer.kernel.assign(rng.normal(size=layer.kernel.shape))
    source.save_weights(tmp_path / "source.weights.h5")
    out = tmp_path / target
    args = ["export", "fcn32s", "--out", str(out), "--num-classes", "3",
            "--weights", str(tmp_path / "source.weights.h5"),
            "--model-arg", "widths=(4, 8, 8, 8, 8, 16)"]
    assert cli.main(args) == 0 and "wrote" in capsys.readouterr().out
    x = rng.normal(size=(1, 40, 52, 3)).astype("float32") * 50
    expected = np.asarray(source(x))
    assert np.abs(expected).max() > 1e-3
    if target.endswith(".keras"):
        restored = keras.saving.load_model(out)
        assert restored.metadata["model"] == "fcn32s"
        actual = np.asarray(restored(x))
    else:
        import tensorflow as tf

        served = tf.saved_model.load(str(out))  # keep it: its variables live with it
        actual = np.asarray(served.serve(x))
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5)


def test_demo_runs_end_to_end(tmp_path, capsys, monkeypatch):
    from keras_seg.demo import FAMILIES, run_demo
    from keras_seg.registry import get_spec

    monkeypatch.setenv("KERAS_SEG_WEIGHTS", str(tmp_path / "empty_cache"))  # nothing published
    out = tmp_path / "demo"
    result = run_demo(out, epochs=1, train_images=8)
    printed = capsys.readouterr().out
    assert 0 <= result["mean_iou"] <= 1 and result["images"] == 16
    assert result["published"] == {}
    for name in ("shapes_image.png", "shapes_labels.png", "shapes_overlay.png", "summary.png"):
        assert (out / name).exists()
    with Image.open(out / "summary.png") as summary:
        assert summary.size[0] > 3 * summary.size[1]  # four panels side by side
    assert "from RANDOM weights" in printed and "held-out mean IoU" in printed
    assert "pixel accuracy on it" in printed
    for family, model in FAMILIES:
        assert (f"{family}: published weights not in the cache; get them with: keras-seg "
                f"weights fetch {get_spec(model).default_weights}\n") in printed
    *_, wall, last = printed.strip().splitlines()
    assert "wall time" in wall
    assert last.startswith(f"open first: {out / 'summary.png'} ")


def test_demo_predicts_with_published_weights_found_in_the_cache(tmp_path, capsys,
                                                                monkeypatch):
    from keras_seg.demo import published_predictions
    from keras_seg.pretrained import converted_path
    from keras_seg.registry import build_model, get_weights_record

    monkeypatch.setenv("KERAS_SEG_WEIGHTS", str(tmp_path / "cache"))
    record = get_weights_record("fc_densenet103_camvid")  # the smallest family release
    converted_path(record.name).parent.mkdir(parents=True)
    build_model(record.model, **record.builder_args).save_weights(converted_path(record.name))
    written = published_predictions(tmp_path / "published", families=(
        ("FC-DenseNet", "fc_densenet103"), ("U-Net", "unet")))
    printed = capsys.readouterr().out
    assert written == {"FC-DenseNet": tmp_path / "published" / "fc_densenet103.png"}
    with Image.open(written["FC-DenseNet"]) as overlaid:
        assert overlaid.size[0] == 320 and overlaid.size[1] > 240  # the image and a legend
    assert "FC-DenseNet: fc_densenet103 with the published weights fc_densenet103_camvid" in printed
    assert ("U-Net: published weights not in the cache; get them with: keras-seg weights "
            "fetch unet") in printed


NARROW_ARGS = ["--num-classes", "3", "--model-arg", "widths=(4, 8, 8, 8, 8, 16)"]


@pytest.fixture()
def image_file(tmp_path):
    path = tmp_path / "image.png"
    Image.fromarray(street_scene(40, 52)).save(path)
    return path


def test_predict_refuses_an_untrained_network_unless_asked(image_file, tmp_path, capsys,
                                                           monkeypatch):
    monkeypatch.setenv("KERAS_SEG_WEIGHTS", str(tmp_path / "cache"))
    assert cli.main(["predict", "fcn8s", str(image_file), *NARROW_ARGS]) == 2
    err = capsys.readouterr().err.strip()
    assert "no converted weights for fcn8s" in err and "--random-weights" in err
    assert not (tmp_path / "image_labels.png").exists()
    assert cli.main(["predict", "fcn8s", str(image_file), "--random-weights", *NARROW_ARGS]) == 0
    assert (tmp_path / "image_labels.png").exists()


def test_outputs_are_checked_before_and_written_all_or_none(image_file, tmp_path, capsys,
                                                            monkeypatch):
    args = ["predict", "fcn8s", str(image_file), "--random-weights", *NARROW_ARGS]
    assert cli.main([*args, "--out", str(tmp_path / "no" / "such" / "labels.png")]) == 2
    assert "does not exist" in capsys.readouterr().err
    import numpy

    def failing_save(*_args, **_kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(numpy, "save", failing_save)
    assert cli.main([*args, "--probabilities", str(tmp_path / "p.npy")]) == 1
    assert "disk full" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["image.png"]  # no labels, no leftovers


def test_weights_that_do_not_fit_give_a_one_line_summary(image_file, tmp_path, capsys):
    import keras_seg

    keras_seg.build("fcn8s", num_classes=4, widths=(4, 8, 8, 8, 8, 16)).save_weights(
        tmp_path / "four.weights.h5")
    argv = ["predict", "fcn8s", str(image_file), "--weights", str(tmp_path / "four.weights.h5"),
            *NARROW_ARGS]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and len(err) < 600 and "tf.Tensor" not in err
    assert "nothing loaded" in err and "should have shape" in err


def test_a_trained_checkpoint_predicts_and_evaluates(tmp_path, capsys):
    from keras_seg.samples import write_shapes_dataset

    data = write_shapes_dataset(tmp_path / "data", 8, 48, 48, seed=1)
    assert cli.main(["train", "fcn8s", str(data), "--num-classes", "4", "--checkpoint-dir",
                     str(tmp_path / "ckpt"), "--epochs", "1", "--batch-size", "4",
                     "--crop-size", "32", "--model-arg", "widths=(4, 8, 8, 8, 8, 16)"]) == 0
    image = next((data / "images").iterdir())
    out = tmp_path / "labels.png"
    assert cli.main(["predict", str(tmp_path / "ckpt" / "best.keras"), str(image),
                     "--out", str(out)]) == 0
    assert np.asarray(Image.open(out)).max() < 4
    assert cli.main(["evaluate", str(tmp_path / "ckpt" / "best.keras"), str(data),
                     "--json", str(tmp_path / "scores.json"),
                     "--plot", str(tmp_path / "scores.png")]) == 0
    assert (tmp_path / "scores.json").exists() and "mean_iou" in capsys.readouterr().out
    with Image.open(tmp_path / "scores.png") as plot:
        assert plot.format == "PNG" and np.asarray(plot.convert("L")).std() > 10
    with Image.open(tmp_path / "ckpt" / "curves.png") as curves:  # drawn after each epoch
        assert curves.format == "PNG" and curves.size[0] > 300


def test_tensorflow_start_up_lines_show_with_verbose(image_file, tmp_path):
    """Without --verbose they are hidden: test_registration's fresh-process predict."""
    verbose = _run("predict", "fcn8s", str(image_file), "--random-weights", *NARROW_ARGS,
                   "--out", str(tmp_path / "l.png"), "--verbose")
    assert verbose.returncode == 0 and verbose.stderr.strip()  # TensorFlow had things to say


@pytest.mark.parametrize("extra,message", [
    (["--model-arg", "foo=1"], "fcn8s takes no argument 'foo'; its arguments: num_classes"),
    (["--model-arg", "widths=(4, 8)"], "fcn8s: cannot build with"),
    (["--num-classes", "0"], "num_classes must be a positive integer, got 0"),
    (["--tile-size", "0"], "--tile-size takes one or two positive sizes, got 0"),
    (["--overlap", "1.5"], "--overlap must be in [0, 1), got 1.5"),
    (["--out", "labels.jpg"], "label images are palette PNGs; name it .png"),
])
def test_bad_options_are_refusals_named_by_their_flags(image_file, capsys, extra, message):
    argv = ["predict", "fcn8s", str(image_file), "--random-weights", *extra]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and "Traceback" not in err


def test_model_files_that_are_missing_or_not_models_are_named(image_file, tmp_path, capsys):
    assert cli.main(["predict", str(tmp_path / "nothere.keras"), str(image_file)]) == 2
    assert "nothere.keras: no such file" in capsys.readouterr().err
    (tmp_path / "junk.keras").write_bytes(b"not a zip")
    assert cli.main(["predict", str(tmp_path / "junk.keras"), str(image_file)]) == 2
    assert "junk.keras: not a valid .keras file" in capsys.readouterr().err


def test_train_hints_only_at_options_it_takes(tmp_path, capsys, monkeypatch):
    from keras_seg.samples import write_shapes_dataset

    monkeypatch.setenv("KERAS_SEG_WEIGHTS", str(tmp_path / "cache"))
    data = write_shapes_dataset(tmp_path / "data", 2, 32, 32)
    argv = ["train", "fcn8s", str(data), "--num-classes", "4", "--checkpoint-dir",
            str(tmp_path / "ckpt"), "--weights", "fcn8s"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "keras-seg weights fetch fcn8s" in err and "--random-weights" not in err


def test_one_line_messages_join_their_lines_cleanly():
    from keras_seg.cli.app import one_line

    assert one_line("a.pth: nothing loaded, 2 arrays do not fit:\n  layer x\n  layer y") \
        == "a.pth: nothing loaded, 2 arrays do not fit: layer x; layer y"
