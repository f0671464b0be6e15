"""Builders: original layouts, serialization, registry behaviour."""

import keras
import numpy as np
import pytest

import keras_seg
from keras_seg.convert.caffe import check_prototxt
from keras_seg.convert.prototxt import load_prototxt

from caffe_files import FCN, reference_or_skip

SMALL = {"fcn32s": {"widths": (4, 8, 16, 32, 32, 64), "num_classes": 3},
         "fcn16s": {"widths": (4, 8, 16, 32, 32, 64), "num_classes": 3},
         "fcn8s": {"widths": (4, 8, 16, 32, 32, 64), "num_classes": 3},
         "fcn8s_atonce": {"widths": (4, 8, 16, 32, 32, 64), "num_classes": 3}}
ORIGINALS = {"fcn32s": "voc-fcn32s/val.prototxt", "fcn16s": "voc-fcn16s/val.prototxt",
             "fcn8s": "voc-fcn8s/val.prototxt", "fcn8s_atonce": "voc-fcn8s-atonce/val.prototxt"}


def test_list_models_and_unknown_name():
    assert set(SMALL) <= set(keras_seg.list_models())
    assert keras_seg.list_models() == sorted(keras_seg.list_models())
    with pytest.raises(ValueError, match="unknown model 'fcn4s'; valid names: .*fcn8s"):
        keras_seg.build("fcn4s")


@pytest.mark.parametrize("name", sorted(ORIGINALS))
def test_full_model_matches_the_original_prototxt(name):
    # layer names, kernels, strides, pads, dilations, crops, pooling of the released layout
    net = load_prototxt(reference_or_skip(FCN / ORIGINALS[name]))
    model = keras_seg.build(name)
    check_prototxt(model, net)
    assert model.count_params() > 130_000_000


def test_deploy_prototxt_matches_fcn8s():
    net = load_prototxt(reference_or_skip(FCN / "voc-fcn8s" / "deploy.prototxt"))
    check_prototxt(keras_seg.build("fcn8s"), net)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_config_round_trip_and_keras_file(tmp_path, name):
    model = keras_seg.build(name, **SMALL[name])
    assert isinstance(model, keras.Model) and model.input_shape == (None, None, None, 3)
    x = np.random.default_rng(0).normal(size=(1, 45, 38, 3)).astype("float32") * 50
    for layer in model.layers:  # non-zero score layers, so the check below can fail
        if layer.name.startswith("score_") and isinstance(layer, keras.layers.Conv2D):
            layer.kernel.assign(np.random.default_rng(1).normal(size=layer.kernel.shape))
    expected = np.asarray(model(x))
    clone = keras.Model.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(np.asarray(clone(x)), expected, rtol=1e-5, atol=1e-5)
    model.save(tmp_path / f"{name}.keras")
    restored = keras.saving.load_model(tmp_path / f"{name}.keras")
    np.testing.assert_allclose(np.asarray(restored(x)), expected, rtol=1e-5, atol=1e-5)
    assert [layer.name for layer in restored.layers] == [layer.name for layer in model.layers]


def test_num_classes_override_and_frozen_layers():
    model = keras_seg.build("fcn8s_atonce", num_classes=60, widths=(4, 8, 16, 32, 32, 64))
    assert model.output_shape[-1] == 60
    frozen = {layer.name for layer in model.layers if layer.weights and not layer.trainable}
    assert frozen == {"upscore2", "upscore_pool4", "upscore8", "scale_pool4", "scale_pool3"}
    assert np.allclose(model.get_layer("scale_pool3").gamma.numpy(), 1e-4)
