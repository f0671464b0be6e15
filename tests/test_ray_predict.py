"""Batch prediction on Ray Data: a local 2-CPU cluster, labels equal predict's, resumable."""

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

import keras_seg
from keras_seg import cli
from keras_seg.samples import street_scene

BUILDER_ARGS = {"num_classes": 3, "widths": (4, 8, 8, 8, 8, 16)}
NARROW_ARGS = ["--num-classes", "3", "--model-arg", "widths=(4, 8, 8, 8, 8, 16)"]
TILE = 64  # the 96x128 images are cut into tiles of 64x64; the 40x52 ones fit in one


@pytest.fixture(scope="module")
def ray_cluster():
    """A local cluster of 2 CPUs for the module (the test machine's), shut down after it."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING",
             configure_logging=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def narrow(tmp_path_factory):
    """A narrow FCN-8s with random weights, and the ``.weights.h5`` the workers load.

    The score layers are random too (FCN starts them at zero: every label would be 0).
    """
    import keras

    keras.utils.set_random_seed(0)
    model = keras_seg.build("fcn8s", **BUILDER_ARGS)
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if layer.name.startswith("score_") and hasattr(layer, "kernel"):
            layer.kernel.assign(rng.normal(0, 0.5, layer.kernel.shape))
    path = tmp_path_factory.mktemp("ray-weights") / "narrow.weights.h5"
    model.save_weights(path)
    return model, path


@pytest.fixture()
def folder(tmp_path):
    """16 images 40x52, 3 of 96x128 (tiled), one truncated PNG: 20 files."""
    images = tmp_path / "images"
    images.mkdir()
    for index in range(19):
        size = (96, 128) if index % 7 == 3 else (40, 52)
        Image.fromarray(street_scene(*size, seed=index)).save(images / f"{index:02d}.png")
    data = (images / "00.png").read_bytes()
    (images / "bad.png").write_bytes(data[: len(data) // 2])
    return images


def _labels(path):
    with Image.open(path) as image:
        assert image.mode == "P"
        return np.asarray(image)


def _manifest(out):
    import pyarrow.parquet as pq

    return {row["path"]: row for row in pq.read_table(out / "manifest.parquet").to_pylist()}


def test_a_killed_run_resumed_on_two_workers_equals_predict(ray_cluster, narrow, folder,
                                                            tmp_path, capsys):
    """What a kill halfway leaves (every other label PNG, written whole; their rows as a
    manifest part; a partial file) is resumed on two workers: the rest is predicted as
    ``keras_seg.predict`` does, what was written is not touched, the manifest has every
    image; a rerun without the unreadable image has nothing left to do (no worker starts).
    """
    from keras_seg.images import read_image, write_labels
    from keras_seg.inference.manifest import as_table, run_name, write_part

    model, weights = narrow
    paths = {index: folder / f"{index:02d}.png" for index in range(19)}
    images = {index: read_image(path) for index, path in paths.items()}
    expected = {index: keras_seg.predict(model, image, tile_size=TILE)
                for index, image in images.items()}
    out = tmp_path / "labels"
    out.mkdir()
    kept = range(0, 19, 2)
    left = [{"path": str(paths[i]), "output": str(out / paths[i].name), "status": "ok",
             "height": 1, "width": 1, "histogram": [1, 0, 0], "worker": "killed:1"}
            for i in kept]
    for index in kept:
        write_labels(out / paths[index].name, expected[index], keras_seg.label_palette(model))
    write_part(out, as_table(left), run_name(), 0)
    (out / ".01.partial.png").write_bytes(b"half a label")  # being written at the kill
    stamps = {index: (out / paths[index].name).stat().st_mtime_ns for index in kept}

    started = time.time()
    argv = ["predict", "fcn8s", str(folder), "--out-dir", str(out), "--ray", "--weights",
            str(weights), *NARROW_ARGS, "--tile-size", str(TILE), "--workers", "2",
            "--also", "overlays", "probabilities"]
    assert cli.main(argv) == 1  # done; one image unreadable
    captured = capsys.readouterr()
    bad = str(folder / "bad.png")
    assert f"keras-seg predict: warning: {bad}: cannot read the image" in captured.err
    last = captured.out.strip().splitlines()[-1]
    assert last.startswith(f"{out}: wrote 9 label images in ")
    assert last.endswith("10 skipped (output exists); 1 failed; 2 workers (Ray); manifest "
                         f"{out / 'manifest.parquet'}")
    assert {index: (out / paths[index].name).stat().st_mtime_ns for index in kept} == stamps
    rows = _manifest(out)
    assert list(rows) == sorted(str(p) for p in folder.iterdir())  # the source's order
    assert [rows[row["path"]] for row in left] == [{**row, "bytes": None, "seconds": None,
                                                    "finished": None}
                                                   for row in left]  # kept from the part
    for index in range(19):
        labels = _labels(out / paths[index].name)
        np.testing.assert_array_equal(labels, expected[index])
        if index in kept:
            continue
        row = rows[str(paths[index])]
        assert (row["status"], row["height"], row["width"]) == ("ok", *labels.shape)
        assert row["histogram"] == np.bincount(labels.ravel(), minlength=3).tolist()
        assert row["seconds"] > 0 and row["bytes"] == paths[index].stat().st_size
        assert started < row["finished"] < time.time()
        probabilities = np.load(out / "probabilities" / f"{index:02d}.npy")
        np.testing.assert_array_equal(probabilities.argmax(-1), labels)
        with Image.open(out / "overlays" / paths[index].name) as overlay:
            assert overlay.width == labels.shape[1] and overlay.height > labels.shape[0]
    assert {row["worker"] for row in rows.values()} - {"killed:1"}  # the workers' own
    assert rows[bad]["status"].startswith(f"error: {bad}: cannot read the image")
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []

    (folder / "bad.png").unlink()
    report = keras_seg.predict_dataset("fcn8s", folder, out, weights=weights,
                                       builder_args=BUILDER_ARGS, tile_size=TILE)
    assert (len(report.written), report.skipped, report.failed, report.workers) == (
        0, 19, [], 0)
    assert _manifest(out) == {path: row for path, row in rows.items() if path != bad}


def test_refusals_and_no_ray_without_asking(tmp_path):
    """One line each, before TensorFlow; ``import keras_seg`` and plain predict import no Ray."""
    Image.fromarray(street_scene(40, 52)).save(tmp_path / "a.png")
    code = """
import contextlib, io, json, sys
import keras_seg
from keras_seg.cli import main
keras_seg.predict_dataset  # the public name resolves without Ray
results = []
for argv in json.loads(sys.argv[1]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        status = main(argv)
    loaded = sorted(m for m in ("ray", "pyarrow", "tensorflow") if m in sys.modules)
    results.append([status, err.getvalue(), loaded])
sys.modules["ray"] = None  # as if not installed
err = io.StringIO()
with contextlib.redirect_stderr(err):
    status = main(["predict", "fcn8s", ".", "--out-dir", "o", "--ray", "--weights", "w.h5"])
results.append([status, err.getvalue(), []])
print(json.dumps(results))
"""
    cases = [
        (["predict", "fcn8s", "a.png", "--workers", "2"],
         "--workers: for the Ray batch mode; add --ray [ADDRESS]", []),
        (["predict", "fcn8s", ".", "--ray"], "--ray writes OUT/<image name>.png for every "
         "image: name the output folder with --out-dir OUT", []),
        (["predict", "fcn8s", ".", "--ray", "--out-dir", "o", "--random-weights"],
         "--random-weights: each Ray worker would draw weights of its own", []),
        (["predict", "fcn8s", ".", "--ray", "127.0.0.1:1", "--out-dir", "o", "--weights",
          "w.h5"], "--ray 127.0.0.1:1: no Ray cluster answers there (connection refused)",
         ["ray"]),
    ]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, "-c", code, json.dumps([c[0] for c in cases])],
                          cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout.strip().splitlines()[-1])
    for (argv, message, loaded), (status, err, found) in zip(cases, results):
        assert status == 2 and err.count("\n") == 1, (argv, err)
        assert f"keras-seg predict: error: {message}" in err, (argv, err)
        assert [m for m in found if m != "pyarrow"] == loaded, (argv, found)
    status, err, _ = results[-1]
    assert status == 2
    assert err.strip() == ('keras-seg predict: error: Ray is not installed; pip install '
                           '"keras-seg[ray]"')
