"""Builders: original layouts, serialization, registry behaviour."""

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


def test_num_classes_override_and_frozen_layers():
    model = keras_seg.build("fcn8s_atonce", num_classes=60, widths=(4, 8, 16, 32, 32, 64))
    assert model.output_shape[-1] == 60
    frozen = {layer.name for layer in model.layers if layer.weights and not layer.trainable}
    assert frozen == {"upscore2", "upscore_pool4", "upscore8", "scale_pool4", "scale_pool3"}
    assert np.allclose(model.get_layer("scale_pool3").gamma.numpy(), 1e-4)
