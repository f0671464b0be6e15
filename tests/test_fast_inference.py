"""The compiled forward: no retracing, fused preprocessing, bfloat16 on every network."""

import functools

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_seg
from keras_seg.inference import forward as forward_module
from keras_seg.inference.common import softmax
from keras_seg.inference.forward import compute_precision, model_cache
from keras_seg.inference.preprocess import input_convention
from keras_seg.inference.tiling import predict_tiled
from keras_seg.samples import street_scene

from family_checks import CASES, random_network

#: bfloat16 labels agreeing with float32 on random narrow networks at their CASES size
#: (measured 2026-11-30, TF 2.21 without oneDNN): FCNs 99.5-99.7%, DilatedNets 99.5-100%,
#: U-Nets 98.6-99.9%, FC-DenseNets 98.7-99.7%, SegNet 98.3%, SegNet-Basic 95.3% (both
#: Bayesian variants alike). Random weights leave small margins between the classes;
#: SegNet's pooling indices also move where bfloat16 makes two values of a window equal.
MIN_AGREEMENT = 0.95


def _forwards(model):
    """The compiled graphs cached on a model, by input shape."""
    return {key[1]: fn for key, fn in model_cache(model).items() if key[0] == "forward"}


def _random_network(name, seed=0):
    """A narrow network whose every kernel is He-normal (FCN's zero score layers included)."""
    return random_network(name, seed, kernels_only=True)


def test_tiles_and_new_images_of_the_same_tile_shape_never_retrace():
    model, _ = _random_network("fcn8s")
    first, second = street_scene(70, 90, seed=1), street_scene(100, 61, seed=2)
    for image in (first, second, first):
        keras_seg.predict(model, image, tile_size=32, overlap=0.5, batch_size=2)
    forwards = _forwards(model)
    assert list(forwards) == [(2, 32, 32, 3)]  # one tile batch shape, raw RGB in
    assert forwards[(2, 32, 32, 3)].experimental_get_tracing_count() == 1
    for image in (first, second):  # whole frames of any size: one graph
        keras_seg.predict(model, image)
    whole = _forwards(model)[(None, None, None, 3)]
    assert whole.experimental_get_tracing_count() == 1
    assert len(model.weights) == len(keras_seg.build("fcn8s", **CASES["fcn8s"][0]).weights)


def test_deploy_tiles_of_two_images_share_one_graph():
    model, _ = _random_network("dilation8_camvid")
    for seed, (height, width) in enumerate([(40, 60), (30, 45)]):
        keras_seg.predict(model, street_scene(height, width, seed=seed), batch_size=1)
    (shape, forward), = _forwards(model).items()
    assert shape == (1, 900, 1100, 3)
    assert forward.experimental_get_tracing_count() == 1


def test_fused_preprocessing_gives_the_unfused_numbers():
    model, _ = _random_network("fcn8s")
    convention = input_convention(model)
    image = street_scene(45, 38)
    x = convention(image)
    expected = softmax(model(x[None], training=False))[0]
    _, probabilities = keras_seg.predict(model, image, return_probabilities=True)
    np.testing.assert_allclose(probabilities, expected, atol=1e-5)  # XLA's fused rounding
    for pad_mode in ("reflect", "constant", "edge"):  # padding raw pixels or network input
        unfused = predict_tiled(model, x, tile_size=24, overlap=0.5, activation="softmax",
                                pad_mode=pad_mode, geometry=(0, 1, 1))
        fused = predict_tiled(model, image, tile_size=24, overlap=0.5, activation="softmax",
                              pad_mode=pad_mode, geometry=(0, 1, 1), preprocess=convention)
        np.testing.assert_allclose(fused, unfused, atol=1e-5)


@pytest.mark.parametrize("name", sorted(CASES))
def test_bfloat16_agrees_with_float32_on_every_network(name):
    model, size = _random_network(name)
    x = input_convention(model)(street_scene(*size)[None])
    expected = np.asarray(model(x, training=False))
    with compute_precision(model, "bfloat16"):  # what the compiled bfloat16 graph traces
        scores = model(x, training=False)
    assert scores.dtype == "bfloat16"
    agreement = np.mean(expected.argmax(-1) == np.asarray(scores, np.float32).argmax(-1))
    # SegNet-Basic measured 95.3% here: a margin for other kernels' rounding
    minimum = 0.93 if name.endswith("segnet_basic") else MIN_AGREEMENT
    assert agreement >= minimum, f"{name}: {agreement:.2%} of labels agree"
    assert {layer.dtype_policy.name for layer in model.layers} == {"float32"}  # restored
    assert {w.dtype for w in model.weights} <= {"float32", "int64", "int32"}


def test_bfloat16_leaves_lrn_and_large_stride_upsampling_in_float32():
    fcn, _ = _random_network("fcn32s")
    segnet, _ = _random_network("segnet_basic")
    with compute_precision(fcn, "bfloat16"), compute_precision(segnet, "bfloat16"):
        kept = {layer.name for model in (fcn, segnet) for layer in model.layers
                if layer.compute_dtype == "float32"}
        assert fcn.get_layer("fc6").compute_dtype == "bfloat16"
    assert kept == {"upscore", "norm"}, kept  # a 64x64 stride-32 deconvolution; Caffe's LRN


def test_predict_in_bfloat16_through_every_pipeline():
    fcn, _ = _random_network("fcn8s")
    dilation, _ = _random_network("dilation7_kitti")
    image = street_scene(40, 52)
    for model, options in ((fcn, {}), (fcn, {"tile_size": 32, "tta": "flips"}),
                           (dilation, {})):
        labels = keras_seg.predict(model, image, **options)
        fast, fast_probabilities = keras_seg.predict(model, image, return_probabilities=True,
                                                     precision="bfloat16", **options)
        assert fast_probabilities.dtype == np.float32 and fast.shape == labels.shape
        # DilatedNet's 5x7 scores of this small image are zoomed by 8: one score, 64 labels
        assert np.mean(fast == labels) >= 0.9
        np.testing.assert_allclose(fast_probabilities.sum(-1), 1, atol=1e-3)
    with pytest.raises(ValueError, match="precision must be one of float32, bfloat16"):
        keras_seg.predict(fcn, image, precision="float16")


def test_a_model_built_in_mixed_precision_gives_float32_probabilities():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = keras_seg.build("fcn32s", **CASES["fcn32s"][0])
    finally:
        keras.mixed_precision.set_global_policy("float32")
    _, probabilities = keras_seg.predict(model, street_scene(45, 38), return_probabilities=True)
    assert probabilities.dtype == np.float32


def test_bfloat16_needs_a_keras_model():
    with pytest.raises(ValueError, match="needs a Keras model"):
        predict_tiled(lambda x: x, np.zeros((8, 8, 3), np.float32), tile_size=8,
                      geometry=(0, 1), precision="bfloat16")


def test_the_command_line_predicts_in_bfloat16(tmp_path, capsys):
    from PIL import Image

    from keras_seg import cli

    Image.fromarray(street_scene(40, 52)).save(tmp_path / "street.png")
    argv = ["predict", "fcn8s", str(tmp_path / "street.png"), "--random-weights",
            "--num-classes", "3", "--model-arg", "widths=(4, 8, 8, 8, 8, 16)"]
    assert cli.main([*argv, "--precision", "bfloat16"]) == 0
    assert (tmp_path / "street_labels.png").exists()
    with pytest.raises(SystemExit):
        cli.main([*argv, "--precision", "float16"])
    assert "invalid choice: 'float16'" in capsys.readouterr().err


def _wide_network(name):
    """A narrow network of ``CASES`` whose deepest convolutions are wide enough for XLA in
    :func:`~keras_seg.inference.forward.hybrid_call` (FCN and DilatedNet: fc6 too)."""
    arguments, size = CASES[name]
    widths = {"unet": (4, 8, 8, 256, 256),  # DilatedNet's block 5 is dilated: no Winograd
              "dilation8_pascal_voc": (4, 8, 8, 256, 256, 16)}.get(name, (4, 8, 8, 256, 256, 16))
    keras.utils.set_random_seed(0)
    return keras_seg.build(name, **{**arguments, "widths": widths}), size


def _xla_convolutions(forward):
    """Direct convolutions in the functions a compiled forward calls (XLA's, in hybrid)."""
    library = forward.get_concrete_function().graph.as_graph_def().library
    return sum(node.op == "Conv2D" for function in library.function
               for node in function.node_def)


@pytest.mark.parametrize("name", ["fcn8s", "dilation8_pascal_voc", "unet"])
def test_hybrid_float32_equals_the_model_with_xla_and_matrix_product_layers(name):
    model, size = _wide_network(name)
    assert forward_module.family_compiler(model) == "hybrid"
    x = input_convention(model)(street_scene(*size)[None])
    expected = np.asarray(model(x, training=False))
    forward = forward_module.compiled_forward(model, input_shape=x.shape, activation=None)
    np.testing.assert_allclose(np.asarray(forward(x)), expected, rtol=1e-4,
                               atol=1e-4 * np.abs(expected).max())
    graph = forward.get_concrete_function().graph
    compiled = [op for op in graph.get_operations() if op.type == "StatefulPartitionedCall"
                and op.get_attr("_XlaMustCompile")]
    operations = {op.type for op in graph.get_operations()}
    wide = {layer.name for layer in model.layers if isinstance(layer, keras.layers.Conv2D)
            and layer.kernel.shape[-2] >= forward_module.XLA_MIN_CHANNELS}
    whole = forward_module.compiled_forward(model, input_shape=(None, None, None, x.shape[-1]),
                                            activation=None)  # any size: XLA per shape
    larger = input_convention(model)(street_scene(size[0] + 16, size[1] + 32)[None])
    for image in (x, larger):  # U-Net: sizes 16 k + 60
        expected = np.asarray(model(image, training=False))
        np.testing.assert_allclose(np.asarray(whole(image)), expected, rtol=1e-4,
                                   atol=1e-4 * np.abs(expected).max())
    winograd = {layer.name for layer in model.layers if forward_module._by_winograd(layer)}
    assert winograd and winograd <= wide  # the undilated 3x3 ones
    direct = len(wide) - len(winograd) - ("fc6" in wide)
    # Winograd's compile pays off for fixed shapes only: whole frames keep XLA's convolution
    assert _xla_convolutions(forward) == direct
    assert _xla_convolutions(whole) == len(wide) - ("fc6" in wide)
    if name == "unet":  # every wide convolution is 3x3: all by Winograd under XLA
        assert len(compiled) == len(wide) == len(winograd)
        assert "ExtractImagePatches" not in operations
    else:  # fc6 (7x7, valid) as patches times a matrix, the other wide ones under XLA
        assert "fc6" in wide and "fc6" not in winograd and len(compiled) == len(wide) - 1 > 0
        assert {"ExtractImagePatches", "MatMul"} <= operations


@pytest.mark.parametrize("padding", ["same", "valid"])
def test_winograd_convolution_equals_the_direct_one_at_odd_sizes(padding):
    keras.utils.set_random_seed(1)
    layer = keras.layers.Conv2D(5, 3, padding=padding, activation="relu")
    rng = np.random.default_rng(0)
    for height, width in ((7, 9), (8, 8), (3, 4), (13, 6)):
        x = rng.normal(size=(2, height, width, 6)).astype("f4")
        expected = np.asarray(layer(x))
        layer.bias.assign(rng.normal(size=5).astype("f4"))
        expected = np.asarray(layer(x))
        run = tf.function(functools.partial(forward_module._winograd_convolution, layer),
                          input_signature=[tf.TensorSpec((None, None, None, 6))])
        y = np.asarray(run(x))
        assert y.shape == expected.shape
        np.testing.assert_allclose(y, expected, atol=1e-5 * np.abs(expected).max())


def test_other_models_and_precisions_keep_their_compiler(monkeypatch):
    assert forward_module.family_compiler(keras_seg.build("segnet", num_classes=3,
                                                         widths=(4,) * 5)) == "xla"
    basic = keras_seg.build("segnet_basic", **CASES["segnet_basic"][0])
    assert forward_module.family_compiler(basic) == "graph"
    inputs = keras.Input((None, None, 3))
    plain = keras.Model(inputs, keras.layers.Conv2D(2, 1)(inputs))
    assert forward_module.family_compiler(plain) == "graph"
    fcn, size = _wide_network("fcn8s")
    bf16 = forward_module.compiled_forward(fcn, input_shape=(1, *size, 3), activation=None,
                                           precision="bfloat16")
    operations = bf16.get_concrete_function().graph.get_operations()
    assert not any(op.type == "ExtractImagePatches" or op.get_attr("_XlaMustCompile")
                   for op in operations if op.type in ("ExtractImagePatches",
                                                       "StatefulPartitionedCall"))
    assert forward_module.family_compiler(fcn) == "hybrid"
    # measured on a CPU: where TensorFlow sees a GPU, cuDNN's own choices
    monkeypatch.setattr(tf.config, "list_logical_devices",
                        lambda kind=None: ["GPU:0"] if kind == "GPU" else [])
    assert forward_module.family_compiler(fcn) == "graph"
