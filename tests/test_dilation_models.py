"""DilatedNet builders: released layouts, metadata, context initialisation, serialization."""

import json

import keras
import numpy as np
import pytest

import keras_seg
from keras_seg.convert.caffe import check_prototxt
from keras_seg.convert.prototxt import load_prototxt
from keras_seg.layers import GroupedConv2DTranspose
from keras_seg.registry import get_spec

from caffe_files import DILATION, reference_or_skip

NAMES = ["dilation8_pascal_voc", "dilation8_camvid", "dilation7_kitti", "dilation10_cityscapes"]
DATASETS = {"dilation8_pascal_voc": "pascal_voc", "dilation8_camvid": "camvid",
            "dilation7_kitti": "kitti", "dilation10_cityscapes": "cityscapes"}
NARROW = (4, 8, 16, 32, 32, 64)


@pytest.mark.parametrize("name", NAMES)
def test_full_model_matches_the_released_prototxt(name):
    net = load_prototxt(reference_or_skip(DILATION / "models" / f"{name}_deploy.prototxt"))
    check_prototxt(keras_seg.build(name), net)
    shape = net["input_shape"][0]["dim"]
    assert get_spec(name).tile_size == (shape[2], shape[3])


@pytest.mark.parametrize("name", NAMES)
def test_metadata_equals_the_dataset_files(name):
    path = reference_or_skip(DILATION / "datasets" / f"{DATASETS[name]}.json")
    info = json.loads(path.read_text())
    spec = get_spec(name)
    np.testing.assert_allclose(spec.input.mean, info["mean"])
    np.testing.assert_array_equal(spec.palette()[: spec.num_classes], info["palette"])
    assert spec.zoom == info["zoom"] and str(info["dilation"]) in name
    assert len(spec.classes) == spec.num_classes == len(info["palette"])
    assert spec.geometry.margin == 186 and spec.input.colour_order == "BGR"


@pytest.mark.parametrize("name", NAMES)
def test_fresh_context_module_is_the_identity(name):
    model = keras_seg.build(name, num_classes=6, widths=NARROW)
    first = "ct_conv1_1" if name == "dilation8_pascal_voc" else "ctx_conv1_1"
    layer = model.get_layer(f"{first}_pad") if name == "dilation8_pascal_voc" else \
        model.get_layer(first)
    last = "ctx_final" if name == "dilation10_cityscapes" else first.replace("conv1_1", "final")
    module = keras.Model(layer.input, model.get_layer(last).output)
    # scores after a ReLU are what survive the first layer's ReLU unchanged
    x = np.random.default_rng(0).uniform(0, 3, (2, 23, 31, 6)).astype("float32")
    np.testing.assert_allclose(np.asarray(module(x)), x, rtol=1e-6, atol=1e-6)


def test_context_noise_breaks_the_exact_identity():
    model = keras_seg.build("dilation8_pascal_voc", num_classes=4, widths=NARROW,
                            context_noise=1e-3, seed=1)
    kernel = model.get_layer("ct_conv2_1").kernel.numpy()
    assert 0 < np.std(kernel[0, 0]) < 1e-2
    assert np.isclose(kernel[1, 1].max(), 4 / 16, atol=5e-3)  # C / c_out


def test_frontend_alone():
    model = keras_seg.build("dilation8_camvid", context=False, widths=NARROW)
    assert model.layers[-1].name == "final" and model.name == "dilation8_camvid_frontend"
    assert model.compute_output_shape((1, 900, 1100, 3)) == (1, 66, 91, 11)


def test_grouped_deconvolution_against_numpy():
    layer = GroupedConv2DTranspose(6, 4, strides=2, groups=3, use_bias=True)
    x = np.random.default_rng(0).normal(size=(1, 5, 4, 3)).astype("float32")
    y = np.asarray(layer(x))
    kernel, bias = layer.kernel.numpy(), layer.bias.numpy()  # (4, 4, 2, 3)
    expected = np.zeros((1, 12, 10, 6), "float32") + bias
    for c in range(3):  # group c: input channel c -> outputs 2c, 2c+1
        for o in range(2):
            for i in range(5):
                for j in range(4):
                    expected[0, 2 * i : 2 * i + 4, 2 * j : 2 * j + 4, 2 * c + o] += \
                        x[0, i, j, c] * kernel[:, :, o, c]
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)


