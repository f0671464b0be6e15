"""Batch prediction: folders and lists streamed through tf.data, resumable, bad images skipped."""

import os
import warnings

import keras
import numpy as np
import pytest
from PIL import Image

import keras_seg
from keras_seg import cli
from keras_seg.images import read_image
from keras_seg.inference.batch import list_images, predict_files, predict_folder
from keras_seg.inference.forward import model_cache
from keras_seg.samples import street_scene

NARROW_ARGS = ["--num-classes", "3", "--model-arg", "widths=(4, 8, 8, 8, 8, 16)"]


@pytest.fixture()
def folder(tmp_path):
    """Two same-size RGB images, a palette and a 16-bit image of odd sizes, a truncated PNG."""
    images = tmp_path / "images"
    images.mkdir()
    Image.fromarray(street_scene(40, 52, seed=0)).save(images / "a.png")
    Image.fromarray(street_scene(40, 52, seed=1)).save(images / "b.jpg", quality=95)
    Image.fromarray(street_scene(31, 45, seed=2)).convert("P").save(images / "c.png")
    gray = (street_scene(29, 37, seed=3)[..., 0].astype(np.uint16) * 257)
    Image.fromarray(gray).save(images / "d.png")  # mode I;16
    Image.fromarray(street_scene(40, 52, seed=4)).save(images / "e.png")
    data = (images / "e.png").read_bytes()
    (images / "e.png").write_bytes(data[: len(data) // 2])  # truncated
    (images / "notes.txt").write_text("not an image")
    return images


def _model(seed=0):
    keras.utils.set_random_seed(seed)
    model = keras_seg.build("fcn8s", num_classes=3, widths=(4, 8, 8, 8, 8, 16))
    rng = np.random.default_rng(seed)
    for layer in model.layers:  # FCN's score layers start at zero: all labels would be 0
        if layer.name.startswith("score_") and hasattr(layer, "kernel"):
            layer.kernel.assign(rng.normal(0, 0.5, layer.kernel.shape))
    return model


def _labels(path):
    with Image.open(path) as image:
        assert image.mode == "P"
        return np.asarray(image)


def test_a_folder_twice_then_resumed(folder, tmp_path, capsys):
    out = tmp_path / "labels"
    argv = ["predict", "fcn8s", str(folder), "--out-dir", str(out), "--random-weights",
            "--batch-size", "2", *NARROW_ARGS]
    assert cli.main(argv) == 1  # done, but one image could not be read
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"keras-seg predict: warning: {folder / 'e.png'}"
                                               ": cannot read the image")
    assert err[0].endswith("; skipped")
    last = captured.out.strip().splitlines()[-1]
    assert last.startswith(f"{out}: wrote 4 label images in ")
    assert "images/s); 0 skipped (output exists); 1 failed" in last
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png", "c.png", "d.png"]
    assert _labels(out / "c.png").shape == (31, 45) and _labels(out / "d.png").shape == (29, 37)
    stamps = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}

    assert cli.main(argv) == 1  # the second run reads only the unreadable image again
    captured = capsys.readouterr()
    assert "wrote 0 label images" in captured.out and "4 skipped (output exists); 1 failed" \
        in captured.out
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == stamps

    (folder / "e.png").unlink()
    assert cli.main(argv) == 0
    assert "4 skipped (output exists); 0 failed" in capsys.readouterr().out


def test_results_equal_predict_and_existing_outputs_are_kept(folder, tmp_path):
    model = _model()
    out = tmp_path / "labels"
    out.mkdir()
    Image.new("P", (3, 2)).save(out / "a.png")  # written before a kill
    kept = (out / "a.png").read_bytes()
    (out / ".b.partial.png").write_bytes(b"half a file")  # being written at the kill
    failures = []
    report = predict_folder(model, folder, out, batch_size=2,
                            on_error=lambda path, reason: failures.append(path))
    assert report.skipped == 1 and failures == [folder / "e.png"]
    assert [p.name for p in report.written] == ["b.png", "c.png", "d.png"]
    assert (out / "a.png").read_bytes() == kept
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png", "c.png", "d.png"]
    for name in ("b.jpg", "c.png", "d.png"):
        with warnings.catch_warnings():  # d.png: 16-bit gray, converted
            warnings.simplefilter("ignore")
            expected = keras_seg.predict(model, read_image(folder / name))
        np.testing.assert_array_equal(_labels(out / f"{name[0]}.png"), expected)
    labels_graphs = [fn for key, fn in model_cache(model).items() if key[4] == "argmax"]
    assert [fn.experimental_get_tracing_count() for fn in labels_graphs] == [1]


def test_a_list_file_with_tiles_and_a_missing_entry(folder, tmp_path, capsys):
    model = _model()
    listing = tmp_path / "list.txt"
    listing.write_text(f"# street images\nimages/a.png\n\n{folder / 'c.png'}\nimages/gone.png\n")
    assert list_images(listing) == [folder / "a.png", folder / "c.png", folder / "gone.png"]
    with pytest.warns(UserWarning, match=r"gone.png: cannot read the image .*; skipped"):
        report = predict_files(model, list_images(listing), tmp_path, tile_size=32)
    assert [p.name for p in report.written] == ["a.png", "c.png"] and len(report.failed) == 1
    image = read_image(folder / "a.png")
    np.testing.assert_array_equal(_labels(tmp_path / "a.png"),
                                  keras_seg.predict(model, image, tile_size=32))
    out = tmp_path / "cli"
    assert cli.main(["predict", "fcn8s", str(listing), "--out-dir", str(out), "--random-weights",
                     "--precision", "bfloat16", *NARROW_ARGS]) == 1
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "c.png"]
    assert "gone.png: cannot read the image" in capsys.readouterr().err


@pytest.mark.parametrize("make,extra,message", [
    (lambda tmp: tmp / "images", [], "is a folder: name the output folder with --out-dir OUT"),
    (lambda tmp: tmp / "nothere", ["--out-dir", "OUT"], "nothere: no such folder or list file"),
    (lambda tmp: tmp / "empty", ["--out-dir", "OUT"], "empty: no images in the folder"),
    (lambda tmp: tmp / "images", ["--out-dir", "OUT", "--overlay", "o.png"],
     "--overlay: one file per run; with --out-dir only the label images are written"),
    (lambda tmp: tmp / "images", ["--out-dir", "images"],
     "the output folder must not be the input folder"),
    (lambda tmp: tmp / "none.txt", ["--out-dir", "OUT"], "none.txt: no such list file"),
])
def test_refusals_before_any_work(folder, tmp_path, capsys, monkeypatch, make, extra, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    before = sorted(os.listdir(tmp_path))
    argv = ["predict", "fcn8s", str(make(tmp_path)), *extra, "--random-weights", *NARROW_ARGS]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err
    assert sorted(os.listdir(tmp_path)) == before  # no output folder made
