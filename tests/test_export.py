"""Exports (ONNX, TFLite, SavedModel) give Keras's outputs, for every registered network.

ONNX Runtime and the LiteRT interpreter are the independent references: each exported file
runs in its own runtime on random non-zero weights and is compared with the Keras model
(relative error: max |difference| / max |Keras output|), at the contract's awkward size and,
through the same file, at a second size (free height and width).
"""

import json

import keras
import numpy as np
import onnx
import onnxruntime
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

import keras_seg
from keras_seg import cli
from keras_seg.export import export_model
from keras_seg.export.onnx_graph import UnsupportedLayerError
from keras_seg.layers import (
    CaffeCrop,
    CaffePooling2D,
    GroupedConv2DTranspose,
    SamplingDropout,
    Scale,
)

from family_checks import CASES, SAME_LAYERS_AS, random_network, randomise

TOLERANCE = 1e-4
#: The exports through TensorFlow: between them every custom layer (Caffe pooling, crops,
#: Scale; LRN, CaffeBN, index unpooling; batch statistics; U-Net's size layers, PadTo).
#: SavedModel is Keras's own export; its preprocessing wrapper is tested below.
TF_CASES = (("fcn8s_atonce", "tflite"), ("fcn8s_atonce", "savedmodel"),
            ("bayesian_segnet_basic", "tflite"), ("fc_densenet56", "tflite"),
            ("unet", "tflite"), ("unet_padded", "tflite"))
TF_OVERRIDES = {"fc_densenet56": {"batch_norm": "batch"}}


def _model(name, **overrides):
    return random_network(name, **overrides)[0]


def _sizes(name):
    """The contract's size and a second one the network accepts."""
    (height, width) = CASES[name][1]
    second = (height + 16, width - 16) if name == "unet" else (height + 3, width + 5)
    return (height, width), second


def _inputs(model, size, seed):
    channels = model.inputs[0].shape[-1]
    return np.random.default_rng(seed).normal(0, 50, (1, *size, channels)).astype("float32")


def _relative_error(expected, got):
    assert got.shape == expected.shape
    return float(np.abs(got - expected).max() / np.abs(expected).max())


def _check_sensitive(model, x, expected):
    """The Keras output depends on the input: a comparison that can fail."""
    other = np.asarray(model(_inputs(model, x.shape[1:3], seed=99)))
    assert _relative_error(expected, other) > 0.01


def _run_onnx(path, x):
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def _run_tflite(path, x):
    interpreter = Interpreter(model_path=str(path))
    index = interpreter.get_input_details()[0]["index"]
    interpreter.resize_tensor_input(index, x.shape, strict=False)
    interpreter.allocate_tensors()
    interpreter.set_tensor(index, x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def _run_saved_model(path, x):
    loaded = tf.saved_model.load(str(path))  # kept alive while it runs
    return np.asarray(loaded.serve(x))


@pytest.mark.parametrize("name", sorted(set(CASES) - set(SAME_LAYERS_AS)))
def test_onnx_equals_keras_at_two_sizes(name, tmp_path):
    model = _model(name)
    path = tmp_path / f"{name}.onnx"
    assert export_model(model, path) == [path, tmp_path / f"{name}.onnx.json"]
    dims = onnx.load(str(path)).graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["batch", "height", "width",
                                                          model.inputs[0].shape[-1]]
    shapes = set()
    for seed, size in enumerate(_sizes(name)):
        x = _inputs(model, size, seed)
        expected = np.asarray(model(x))
        _check_sensitive(model, x, expected)
        assert _relative_error(expected, _run_onnx(path, x)) < TOLERANCE
        shapes.add(expected.shape)
    assert len(shapes) == 2


@pytest.mark.parametrize(("name", "format"), TF_CASES)
def test_tflite_and_saved_model_equal_keras(name, format, tmp_path):
    model = _model(name, **TF_OVERRIDES.get(name, {}))
    path = tmp_path / ("model.tflite" if format == "tflite" else "saved")
    export_model(model, path)
    run = _run_tflite if format == "tflite" else _run_saved_model
    for seed, size in enumerate(_sizes(name)):
        x = _inputs(model, size, seed)
        expected = np.asarray(model(x))
        _check_sensitive(model, x, expected)
        assert _relative_error(expected, run(path, x)) < TOLERANCE


@pytest.mark.parametrize(("name", "format"), [
    ("fcn8s", "onnx"),  # BGR minus the mean pixel
    ("unet", "onnx"),  # one gray channel, / 255
    ("unet_padded", "onnx"),  # RGB / 255
    ("segnet_basic", "savedmodel"),  # BGR, no mean
])
def test_with_preprocessing_takes_uint8_rgb(name, format, tmp_path):
    model = _model(name)
    path = tmp_path / {"onnx": "model.onnx", "tflite": "model.tflite"}.get(format, "saved")
    export_model(model, path, with_preprocessing=True)
    image = np.random.default_rng(3).integers(0, 256, (1, *CASES[name][1], 3), np.uint8)
    expected = np.asarray(model(keras_seg.preprocess(model, image)))
    run = {"onnx": _run_onnx, "tflite": _run_tflite, "savedmodel": _run_saved_model}[format]
    assert _relative_error(expected, run(path, image)) < TOLERANCE
    metadata = json.loads((path / "keras_seg.json" if format == "savedmodel" else
                           tmp_path / f"{path.name}.json").read_text())
    assert metadata["input"]["dtype"] == "uint8"


def test_metadata_describes_the_contract(tmp_path):
    model = keras_seg.build("fcn8s", widths=CASES["fcn8s"][0]["widths"])
    [path, beside] = export_model(model, tmp_path / "fcn8s.onnx")
    metadata = json.loads(beside.read_text())
    assert metadata["model"] == "fcn8s" and metadata["num_classes"] == 21
    assert metadata["input"] == {
        "layout": "NHWC", "preprocessing": "apply input_convention first", "dtype": "float32",
        "shape": [None, None, None, 3], "channels": "the input blob", "name": "data"}
    assert metadata["input_convention"]["colour_order"] == "BGR"
    assert metadata["input_convention"]["mean"] == pytest.approx([104.00699, 116.66877,
                                                                  122.67892])
    assert metadata["classes"][15] == "person" and len(metadata["palette_rgb"]) == 21
    assert metadata["geometry"] == {"margin": 0, "stride": 1, "alignment": 32}
    stored = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert json.loads(stored["keras_seg"]) == metadata
    narrow = export_model(_model("fcn8s"), tmp_path / "narrow.onnx")[1]
    assert "classes" not in json.loads(narrow.read_text())  # 3 classes are not VOC's


def _layer_zoo():
    """Converters no registered network uses: Caffe average pooling with padding, "same"
    pooling and strided convolutions, groups, ReLU options, merges."""
    data = keras.Input((None, None, 4), name="data")
    x = keras.layers.ZeroPadding2D(((2, 1), (3, 0)))(data)
    x = keras.layers.Conv2D(6, 3, strides=2, padding="same", groups=2, activation="relu")(x)
    a = CaffePooling2D("ave", 3, 2, pad=1)(x)
    b = CaffePooling2D("max", 2, 2, pad=1)(x)
    c = keras.layers.AveragePooling2D(3, 2, padding="same")(x)
    d = keras.layers.MaxPooling2D(2, padding="same")(x)
    caffe = keras.layers.Concatenate()([a, b])  # an output: Caffe's sizes (ceil, overhang)
    a, b = (CaffeCrop(0)([t, d]) for t in (a, b))  # ceil: a row more than "same", or not
    x = keras.layers.Concatenate()([a, b, c, d])
    x = keras.layers.Conv2DTranspose(6, 3, strides=2, padding="same",
                                     activation="sigmoid")(x)
    y = GroupedConv2DTranspose(6, 4, strides=2, groups=3)(x)
    y = keras.layers.Cropping2D(((1, 2), (3, 0)))(y)
    y = keras.layers.Conv2D(6, 3, dilation_rate=2, padding="same")(y)
    y = keras.layers.ReLU(max_value=0.5, negative_slope=0.1)(y)
    z = keras.layers.Activation("tanh")(Scale(0.5, use_bias=True)(y))
    merged = keras.layers.Multiply()([y, z])
    merged = keras.layers.Subtract()([merged, keras.layers.Maximum()([y, z])])
    return keras.Model(data, [keras.layers.Average()([merged, y]), caffe], name="zoo")


def test_onnx_writes_the_other_converters(tmp_path):
    model = randomise(_layer_zoo())
    export_model(model, tmp_path / "zoo.onnx")
    session = onnxruntime.InferenceSession(str(tmp_path / "zoo.onnx"),
                                           providers=["CPUExecutionProvider"])
    for seed, size in enumerate([(21, 18), (24, 31)]):  # pooled: 12 and 11 rows, 6 and 6
        x = _inputs(model, size, seed)
        others = model(_inputs(model, size, seed=99))
        for expected, other, got in zip(model(x), others, session.run(None, {"data": x}),
                                        strict=True):
            assert _relative_error(np.asarray(expected), np.asarray(other)) > 0.01
            assert _relative_error(np.asarray(expected), got) < TOLERANCE


def test_large_weights_go_to_an_external_file(tmp_path, monkeypatch):
    from keras_seg.export import onnx_graph

    monkeypatch.setattr(onnx_graph, "SINGLE_FILE_LIMIT", 0)
    model = _model("segnet_basic")
    export_model(model, tmp_path / "model.onnx")
    assert (tmp_path / "model.onnx.data").stat().st_size > 2 * model.count_params()
    assert (tmp_path / "model.onnx").stat().st_size < (tmp_path / "model.onnx.data").stat().st_size
    x = _inputs(model, CASES["segnet_basic"][1], 0)
    assert _relative_error(np.asarray(model(x)), _run_onnx(tmp_path / "model.onnx", x)) \
        < TOLERANCE


@pytest.mark.parametrize(("layer", "reason"), [
    (keras.layers.UpSampling2D(2, name="up"), "no converter for this layer type"),
    (SamplingDropout(0.5, name="up"), "Monte Carlo dropout"),
])
def test_onnx_refuses_a_layer_it_cannot_write(layer, reason, tmp_path):
    data = keras.Input((None, None, 3))
    model = keras.Model(data, layer(keras.layers.Conv2D(2, 1)(data)))
    kind = type(layer)
    with pytest.raises(UnsupportedLayerError,
                       match=rf"layer 'up' \({kind.__module__}\.{kind.__name__}\).*{reason}"):
        export_model(model, tmp_path / "model.onnx")
    assert not list(tmp_path.iterdir())


def test_tflite_refuses_operators_outside_the_builtins(tmp_path):
    data = keras.Input((None, None, 3))
    model = keras.Model(data, SamplingDropout(0.5)(keras.layers.Conv2D(2, 1)(data)))
    with pytest.raises(ValueError, match=r"TFLite conversion of .* failed: TF Select ops: "
                                         r".*StatelessRandomUniformV2"):
        export_model(model, tmp_path / "model.tflite")
    assert not list(tmp_path.iterdir())


NARROW_FCN = ["fcn8s", "--random-weights", "--num-classes", "3",
              "--model-arg", "widths=(4, 8, 8, 8, 8, 16)"]


def test_cli_exports_onnx(tmp_path, capsys):
    out = tmp_path / "fcn8s.onnx"
    assert cli.main(["export", *NARROW_FCN, "--out", str(out)]) == 0
    assert f"wrote {out}, {out}.json" in capsys.readouterr().out
    x = np.random.default_rng(0).normal(0, 50, (2, 37, 29, 3)).astype("float32")
    assert _run_onnx(out, x).shape == (2, 37, 29, 3)
    metadata = json.loads((tmp_path / "fcn8s.onnx.json").read_text())
    assert metadata["builder_args"] == {"num_classes": 3, "widths": [4, 8, 8, 8, 8, 16]}


def test_cli_exports_tflite_with_preprocessing(tmp_path):
    model = _model("fcn8s")
    model.save_weights(tmp_path / "fcn8s.weights.h5")
    out = tmp_path / "fcn8s.bin"
    arguments = [a for a in NARROW_FCN if a != "--random-weights"]
    assert cli.main(["export", *arguments, "--weights", str(tmp_path / "fcn8s.weights.h5"),
                     "--format", "tflite", "--with-preprocessing", "--out", str(out)]) == 0
    image = np.random.default_rng(0).integers(0, 256, (1, 37, 29, 3), np.uint8)
    expected = np.asarray(model(keras_seg.preprocess("fcn8s", image)))
    assert _relative_error(expected, _run_tflite(out, image)) < TOLERANCE


@pytest.mark.parametrize(("arguments", "message"), [
    (["--format", "pb", "--out", "{tmp}/x.pb"],
     "--format must be one of keras, savedmodel, tflite, onnx, got 'pb'"),
    (["--format", "onnx", "--out", "{tmp}/x.tflite"],
     "names a tflite file but --format is onnx"),
    (["--format", "keras", "--out", "{tmp}/x.h5"], "--format keras needs --out ending in .keras"),
    (["--out", "{tmp}/missing/x.onnx"], "cannot write there ({tmp}/missing does not exist)"),
    (["--out", "{tmp}/file/saved"], "cannot write there ({tmp}/file does not exist)"),
    (["--out", "{tmp}/file"], "{tmp}/file: is a file, expected a folder for the SavedModel"),
    (["--with-preprocessing", "--out", "{tmp}/x.keras"],
     "--with-preprocessing needs --format savedmodel, tflite or onnx"),
])
def test_cli_refuses_before_any_work(arguments, message, tmp_path, capsys):
    (tmp_path / "file").write_text("")
    arguments = [a.replace("{tmp}", str(tmp_path)) for a in arguments]
    assert cli.main(["export", *NARROW_FCN, *arguments]) == 2
    error = capsys.readouterr().err.strip()
    assert error == f"keras-seg export: error: {error.split(': error: ')[1]}"
    assert message.replace("{tmp}", str(tmp_path)) in error
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_cli_refuses_missing_weights_and_packages(tmp_path, capsys, monkeypatch):
    from keras_seg import export

    out = str(tmp_path / "x.onnx")
    missing = str(tmp_path / "none.weights.h5")
    assert cli.main(["export", "fcn8s", "--weights", missing, "--out", out]) == 2
    assert f"{missing}: no such weights file" in capsys.readouterr().err
    monkeypatch.setitem(export.REQUIREMENTS, "onnx", ("onnx_not_installed",))
    assert cli.main(["export", *NARROW_FCN, "--out", out]) == 2
    assert "pip install keras-seg[export]" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())
