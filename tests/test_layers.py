"""Caffe-faithful layers against NumPy references of Caffe's documented arithmetic."""

import math

import keras
import numpy as np
import pytest

from keras_seg.layers import BilinearUpsampling, CaffeCrop, CaffePooling2D, Scale, caffe_pool_size


def caffe_pool_reference(x, pool, k, s, p):
    """Caffe's PoolingLayer::Forward_cpu, transcribed loop for loop (NHWC, one image)."""
    h, w, c = x.shape
    out_h = math.ceil((h + 2 * p - k) / s) + 1
    out_w = math.ceil((w + 2 * p - k) / s) + 1
    if p:
        out_h -= (out_h - 1) * s >= h + p
        out_w -= (out_w - 1) * s >= w + p
    y = np.zeros((out_h, out_w, c), np.float64)
    for ph in range(out_h):
        for pw in range(out_w):
            hstart, wstart = ph * s - p, pw * s - p
            hend, wend = min(hstart + k, h + p), min(wstart + k, w + p)
            area = (hend - hstart) * (wend - wstart)
            hstart, wstart = max(hstart, 0), max(wstart, 0)
            hend, wend = min(hend, h), min(wend, w)
            window = x[hstart:hend, wstart:wend].reshape(-1, c)
            y[ph, pw] = window.max(0) if pool == "max" else window.sum(0) / area
    return y


CASES = [  # (H, W, kernel, stride, pad)
    (7, 9, 2, 2, 0), (13, 6, 3, 2, 0), (11, 10, 3, 2, 1), (5, 8, 3, 3, 1), (9, 9, 3, 1, 1),
    (17, 23, 4, 3, 2), (1, 1, 2, 2, 0), (6, 5, 5, 2, 2),
]


@pytest.mark.parametrize("pool", ["max", "ave"])
@pytest.mark.parametrize("h,w,k,s,p", CASES)
def test_pooling_matches_caffe(pool, h, w, k, s, p):
    x = np.random.default_rng(h * w + k).normal(size=(2, h, w, 3)).astype("float32")
    layer = CaffePooling2D(pool, k, s, p)
    y = np.asarray(layer(x))
    for i in range(2):
        np.testing.assert_allclose(y[i], caffe_pool_reference(x[i], pool, k, s, p), rtol=1e-5,
                                   atol=1e-6)
    assert layer.compute_output_shape((2, h, w, 3)) == y.shape


def test_pooling_with_unknown_spatial_size_in_a_model():
    inputs = keras.Input((None, None, 2))
    model = keras.Model(inputs, CaffePooling2D("ave", 3, 2, 1)(inputs))
    x = np.random.default_rng(0).normal(size=(1, 11, 8, 2)).astype("float32")
    np.testing.assert_allclose(np.asarray(model(x))[0], caffe_pool_reference(x[0], "ave", 3, 2, 1),
                               rtol=1e-5, atol=1e-6)


def test_pool_size_rounds_up_unlike_keras():
    assert caffe_pool_size(7, 2, 2, 0) == 4
    assert keras.layers.MaxPooling2D(2).compute_output_shape((1, 7, 7, 1))[1] == 3
    assert caffe_pool_size(5, 3, 3, 1) == 2  # third window would start in the padding


def test_pooling_rejects_bad_arguments():
    with pytest.raises(ValueError, match="pool"):
        CaffePooling2D("min")
    with pytest.raises(ValueError, match="pad"):
        CaffePooling2D("max", 2, 2, 2)


def test_crop_takes_reference_size_at_offset():
    x = np.arange(2 * 40 * 50 * 3, dtype="float32").reshape(2, 40, 50, 3)
    ref = np.zeros((2, 17, 23, 5), "float32")
    y = np.asarray(CaffeCrop((5, 9))([x, ref]))
    np.testing.assert_array_equal(y, x[:, 5:22, 9:32, :])


def test_crop_that_does_not_fit_is_refused():
    with pytest.raises(ValueError, match="does not fit"):
        CaffeCrop(31).compute_output_shape(((1, 40, 40, 3), (1, 20, 20, 3)))


def caffe_bilinear_filler(k):
    """Caffe's BilinearFiller (filler.hpp), written from its formula."""
    f = math.ceil(k / 2)
    c = (2 * f - 1 - f % 2) / (2.0 * f)
    w = np.zeros((k, k))
    for i in range(k * k):
        x, y = i % k, (i // k) % k
        w[y, x] = (1 - abs(x / f - c)) * (1 - abs(y / f - c))
    return w


@pytest.mark.parametrize("k", [4, 5, 16, 64])  # sizes 2f - f % 2 of factor f
def test_bilinear_kernel_equals_caffe_filler(k):
    kernel = np.asarray(BilinearUpsampling()((k, k, 3, 3)))
    np.testing.assert_allclose(kernel[:, :, 1, 1], caffe_bilinear_filler(k), rtol=1e-6)
    assert not kernel[:, :, 0, 1].any()  # each channel upsampled on its own
    grouped = np.asarray(BilinearUpsampling()((k, k, 1, 4)))
    np.testing.assert_allclose(grouped[:, :, 0, 3], caffe_bilinear_filler(k), rtol=1e-6)


def test_bilinear_deconvolution_interpolates_a_ramp():
    layer = keras.layers.Conv2DTranspose(1, 4, strides=2, use_bias=False,
                                         kernel_initializer=BilinearUpsampling())
    ramp = np.tile(np.arange(6, dtype="float32"), (6, 1))[None, ..., None]
    y = np.asarray(layer(ramp))[0, 2:-2, 2:-2, 0]  # away from the borders
    np.testing.assert_allclose(np.diff(y, axis=1), 0.5, atol=1e-6)


def test_scale_multiplies_channels_and_adds_bias():
    layer = Scale(2.0, use_bias=True)
    x = np.ones((1, 2, 2, 3), "float32")
    layer.build(x.shape)
    layer.beta.assign([1.0, 2.0, 3.0])
    np.testing.assert_allclose(np.asarray(layer(x))[0, 0, 0], [3.0, 4.0, 5.0])


@pytest.mark.parametrize("layer", [
    CaffePooling2D("ave", 3, 2, 1, name="p"), CaffeCrop((5, 9), name="c"),
    Scale(0.01, use_bias=True, name="s"),
])
def test_layers_round_trip_through_config(layer):
    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(restored) is type(layer) and restored.get_config() == layer.get_config()
