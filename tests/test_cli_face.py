"""The command line as a face: refusals before TensorFlow loads, choices from the library."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from keras_seg import cli
from keras_seg.samples import street_scene

NARROW_ARGS = ["--num-classes", "3", "--model-arg", "widths=(4, 8, 8, 8, 8, 16)"]

#: Run main() on each argv in a fresh interpreter; report each status, stderr, and whether
#: TensorFlow or Keras had been imported by then.
_PROBE = """
import contextlib, io, json, sys
from keras_seg.cli import main
results = []
for argv in json.loads(sys.argv[1]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            status = main(argv)
        except SystemExit as exit:
            status = exit.code
    heavy = sorted(m for m in ("tensorflow", "keras", "torch", "jax") if m in sys.modules)
    results.append([status, err.getvalue(), heavy])
print(json.dumps(results))
"""


def _probe(argvs, cwd):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(argvs)], cwd=cwd,
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])  # after what the commands print


@pytest.fixture()
def image_file(tmp_path):
    path = tmp_path / "image.png"
    Image.fromarray(street_scene(40, 52)).save(path)
    return path


REFUSALS = [
    (["predict", "fcn8s", "missing.png"], "missing.png: cannot read the image (no such file)"),
    (["predict", "fcn4s", "image.png"], "unknown model 'fcn4s'; valid names: "),
    (["predict", "fcn8s", "image.png", "--precision", "float8"], "invalid choice: 'float8'"),
    (["predict", "fcn8s", "image.png", "--blend", "box"], "invalid choice: 'box'"),
    (["predict", "fcn8s", "image.png", "--overlap", "1.5"], "--overlap must be in [0, 1)"),
    (["predict", "fcn8s", "image.png", "--tile-size", "0"], "--tile-size takes one or two"),
    (["predict", "fcn8s", "image.png", "--overlay", "o.xyz"],
     "--overlay o.xyz: Pillow writes no '.xyz' images"),
    (["predict", "fcn8s", "image.png", "--out", "labels.jpg"], "name it .png"),
    (["predict", "fcn8s", "image.png", "--out", "nowhere/labels.png"], "does not exist"),
    (["predict", "fcn8s", "image.png", "--probabilities", "p.txt"], "ending in .npy"),
    (["predict", "fcn8s", "image.png", "--weights", "w.h5", "--random-weights"],
     "--weights and --random-weights exclude each other"),
    (["export", "fcn8s", "--out", "x.pt"], "--out x.pt: '.pt' is no export format; expected "
                                           ".keras, .tflite, .onnx, or a folder"),
    (["export", "fcn8s", "--out", "x.onnx", "--format", "pb"], "--format must be one of"),
    (["convert", "fcn8s", "w.caffemodel", "--out", "x.h5"], "must end in .weights.h5"),
    (["convert", "fcn4s", "image.png", "--out", "x.weights.h5"], "unknown model 'fcn4s'"),
    (["train", "fcn8s", "nodata", "--num-classes", "2", "--checkpoint-dir", "c"],
     "nodata: no such folder"),
    (["train", "fcn8s", ".", "--num-classes", "2", "--checkpoint-dir", "c", "--epochs", "0"],
     "--epochs must be at least 1, got 0"),
    (["train", "fcn8s", ".", "--num-classes", "2", "--checkpoint-dir", "c",
      "--optimizer", "lbfgs"], "invalid choice: 'lbfgs'"),
    (["train", "fcn8s", ".", "--num-classes", "2", "--checkpoint-dir", "c", "--loss", "bogus"],
     "--loss must be one of ce, dice, focal, lovasz, tversky or a sum of them such as ce+dice, "
     "got 'bogus'"),
    (["train", "fcn8s", ".", "--num-classes", "2", "--checkpoint-dir", "c", "--colors",
      "colours.txt"], "colours.txt: cannot read the colour map (no such file)"),
    (["evaluate", "fcn8s", ".", "--plot", "scores.svg"], "--plot scores.svg: expected"),
    (["evaluate", "fcn8s", ".", "--layout", "coco", "--annotations", "no.json"],
     "no.json: cannot read the annotations file (no such file)"),
    (["evaluate", "--predictions", "nopreds", "."], "--predictions nopreds: no such folder"),
    (["evaluate", "fcn8s", ".", "--predictions", "."], "give DATA alone, not a model too"),
    (["evaluate", "--predictions", ".", ".", "--weights", "w.h5"],
     "--weights belongs to a model; --predictions scores saved label maps"),
    (["evaluate", "fcn8s", ".", "--prediction-ids", "label"],
     "--prediction-ids goes with --predictions"),
    (["evaluate", "fcn8s"], "expected MODEL DATA, or --predictions PRED_DIR DATA"),
    (["verify-data", "nodata"], "nodata: no such folder"),
    (["verify-data", ".", "--layout", "coco"], "annotations.json: no such annotations file"),
    (["weights", "fetch", "fcn8s", "--from", "missing.caffemodel"],
     "--from missing.caffemodel: no such file"),
    (["demo", "--epochs", "0"], "--epochs must be at least 1, got 0"),
]


def test_refusals_come_before_tensorflow_is_imported(image_file, tmp_path):
    results = _probe([argv for argv, _ in REFUSALS], tmp_path)
    for (argv, message), (status, err, heavy) in zip(REFUSALS, results):
        assert status == 2, (argv, err)
        assert message in err, (argv, err)
        assert heavy == [], (argv, heavy)  # the refusal loaded no framework
        if "invalid choice" not in message:  # argparse prints its usage lines too
            assert err.count("\n") == 1, err


def test_verify_data_reads_a_dataset_without_tensorflow(tmp_path):
    from keras_seg.samples import write_shapes_dataset

    write_shapes_dataset(tmp_path / "data", 3, 20, 24, seed=0)
    [(status, err, heavy)] = _probe([["verify-data", "data", "--num-classes", "4"]], tmp_path)
    assert (status, heavy) == (0, []), err


def test_evaluate_scores_saved_label_maps_without_tensorflow(tmp_path):
    from keras_seg.samples import write_shapes_dataset

    write_shapes_dataset(tmp_path / "data", 2, 20, 24, seed=0)
    # the masks as their own predictions; read as label ids, their 255 is no class
    [(status, err, heavy)] = _probe([["evaluate", "--predictions", "data/masks", "data",
                                      "--num-classes", "4", "--prediction-ids", "label",
                                      "--json", "scores.json"]], tmp_path)
    assert (status, heavy) == (0, []), err
    assert json.loads((tmp_path / "scores.json").read_text())["mean_iou"] == 1.0


def test_model_names_known_without_keras_are_the_registry():
    from keras_seg.model_names import BUILT_IN_MODELS
    from keras_seg.registry import list_models

    assert sorted(BUILT_IN_MODELS) == list_models()


def test_predict_defaults_are_the_library():
    from keras_seg.cli.app import build_parser
    from keras_seg.inference.forward import PRECISIONS
    from keras_seg.inference.memory import DEFAULT_BUDGET
    from keras_seg.inference.tiling import BLENDS, TTA_MODES

    parser = build_parser()
    args = parser.parse_args(["predict", "fcn8s", "x.png"])
    assert (args.overlap, args.blend, args.precision, args.batch_size) == (
        0.25, "gaussian", "float32", 1)
    assert args.memory_budget * 2**30 == DEFAULT_BUDGET
    choices = {action.dest: action.choices for action in
               parser._subparsers._group_actions[0].choices["predict"]._actions}
    assert tuple(choices["precision"]) == PRECISIONS and tuple(choices["blend"]) == BLENDS
    assert tuple(choices["tta"]) == TTA_MODES == ("flips", "dihedral")


def test_python_m_runs_the_package(tmp_path):
    done = subprocess.run([sys.executable, "-m", "keras_seg.cli", "predict", "fcn8s",
                           "missing.png"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 2
    assert done.stderr.strip() == ("keras-seg predict: error: missing.png: cannot read the "
                                   "image (no such file)")


def test_convert_help_names_every_format_it_reads(capsys):
    with pytest.raises(SystemExit):
        cli.main(["convert", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for suffix in (".caffemodel", ".pth", ".pt", ".npz", ".weights.h5", ".keras"):
        assert suffix in text


def test_a_tile_smaller_than_the_model_takes_is_a_refusal(image_file, capsys):
    argv = ["predict", "fcn8s", str(image_file), "--random-weights", *NARROW_ARGS,
            "--tile-size", "7"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err == "keras-seg predict: error: --tile-size 7: fcn8s needs tiles of at least 32 pixels"


def test_a_tile_larger_than_the_image_is_shrunk_to_it(image_file, tmp_path, capsys):
    argv = ["predict", "fcn8s", str(image_file), "--random-weights", *NARROW_ARGS,
            "--tile-size", "100000", "--out", str(tmp_path / "tiled.png")]
    assert cli.main(argv) == 0, capsys.readouterr().err  # not 112 GiB of padding
    with Image.open(tmp_path / "tiled.png") as labels:
        assert labels.size == (52, 40)


def test_fit_tile_covers_the_image_with_a_valid_tile():
    from keras_seg.inference.predict import fit_tile, smallest_tile
    from keras_seg.registry import get_spec

    fcn, unet, dilation = get_spec("fcn8s"), get_spec("unet"), get_spec("dilation8_camvid")
    assert fit_tile(100000, (512, 600), fcn) == (512, 608)
    assert fit_tile((256, 2000), (512, 600), fcn) == (256, 608)  # smaller sides stay
    assert fit_tile(2000, (500, 300), fcn, square=True) == (512, 512)
    height, width = fit_tile(5000, (100, 130), unet)
    assert unet.valid_size(height) == height and height >= 100 + 2 * unet.geometry.margin
    assert width == unet.valid_size(width) and width >= 130 + 2 * unet.geometry.margin
    assert fit_tile(5000, (64, 64), dilation) == (64 + 2 * 186, 64 + 2 * 186)
    assert smallest_tile(fcn) == 32 and unet.valid_size(smallest_tile(unet)) == smallest_tile(unet)


def test_tiled_prediction_is_unchanged_by_the_shrinking():
    import keras_seg

    model = keras_seg.build("fcn8s", num_classes=3, widths=(4, 8, 8, 8, 8, 16))
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if layer.name.startswith("score") and hasattr(layer, "kernel"):
            layer.kernel.assign(rng.normal(size=layer.kernel.shape))
    image = street_scene(40, 52)
    fitted = keras_seg.predict(model, image, tile_size=64, return_probabilities=True)[1]
    huge = keras_seg.predict(model, image, tile_size=100000, return_probabilities=True)[1]
    np.testing.assert_array_equal(fitted, huge)


def test_offline_fetch_names_the_reason_without_none(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("KERAS_SEG_WEIGHTS", str(tmp_path / "cache"))
    argv = ["weights", "fetch", "fcn8s", "--url", "http://127.0.0.1:9/fcn8s.caffemodel"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "cannot download http://127.0.0.1:9/fcn8s.caffemodel (" in err
    assert "None" not in err and "\n" not in err


def test_export_to_an_existing_folder_with_a_dot_is_a_saved_model(tmp_path):
    from keras_seg.cli.export import export_format

    (tmp_path / "model.v2").mkdir()
    assert export_format(str(tmp_path / "model.v2"), None) == "savedmodel"
    assert export_format(str(tmp_path / "x.pt"), "savedmodel") == "savedmodel"


def test_an_overlay_is_written_in_the_format_its_suffix_names(image_file, tmp_path):
    argv = ["predict", "fcn8s", str(image_file), "--random-weights", *NARROW_ARGS,
            "--overlay", str(tmp_path / "overlay.jpg")]
    assert cli.main(argv) == 0
    with Image.open(tmp_path / "overlay.jpg") as overlaid:
        assert overlaid.format == "JPEG"
    assert not list(tmp_path.glob(".*partial"))
