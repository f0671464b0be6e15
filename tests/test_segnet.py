"""SegNet and SegNet-Basic against a NumPy transcription of the Caffe fork's layers.

OpenCV cannot run the SegNet fork's ``BN`` and ``Upsample`` layers, so the reference here is
a plain NumPy interpreter of the original inference prototxts (the reference files of
``tests/references.py``), following the fork's C++ loops: Caffe's ceil-mode max pooling
with its first-maximum mask, ``Upsample`` writing each value at its mask index, the ``BN``
layer's inference affine map, and cross-channel ``LRN``.
"""

import math

import keras
import numpy as np
import pytest

import keras_seg
from keras_seg.convert.prototxt import first, load_prototxt
from keras_seg.layers import MaxPoolingWithArgmax2D, MaxUnpooling2D

from caffe_files import REFERENCE, deploy_net, random_blobs, reference_or_skip, write_caffemodel

SEGNET = REFERENCE / "alexgkendall+SegNet-Tutorial"
PROTOTXTS = {"segnet": "segnet_inference", "bayesian_segnet": "bayesian_segnet_inference",
             "segnet_basic": "segnet_basic_inference",
             "bayesian_segnet_basic": "bayesian_segnet_basic_inference"}
VGG_WIDTHS = {64: 4, 128: 8, 256: 8, 512: 16}


# --- NumPy transcriptions of the fork's layers (C, H, W) ---------------------------------

def caffe_max_pool(x):
    """Caffe's MAX pooling 2x2/2, ceil mode, with the mask of first maxima (y * W + x)."""
    channels, height, width = x.shape
    out_h, out_w = math.ceil((height - 2) / 2) + 1, math.ceil((width - 2) / 2) + 1
    top = np.full((channels, out_h, out_w), -np.finfo("f4").max, "f4")
    mask = np.full((channels, out_h, out_w), -1, np.int64)
    for c in range(channels):
        for ph in range(out_h):
            for pw in range(out_w):
                for h in range(ph * 2, min(ph * 2 + 2, height)):
                    for w in range(pw * 2, min(pw * 2 + 2, width)):
                        if x[c, h, w] > top[c, ph, pw]:
                            top[c, ph, pw], mask[c, ph, pw] = x[c, h, w], h * width + w
    return top, mask


def caffe_upsample(x, mask, height, width):
    top = np.zeros((x.shape[0], height * width), "f4")
    for c in range(x.shape[0]):
        top[c, mask[c].ravel()] = x[c].ravel()
    return top.reshape(x.shape[0], height, width)


def caffe_conv(x, weight, bias, pad):
    padded = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    k = weight.shape[-1]
    height, width = padded.shape[1] - k + 1, padded.shape[2] - k + 1
    out = np.zeros((weight.shape[0], height, width), "f8")
    for dy in range(k):
        for dx in range(k):
            out += np.einsum("oc,chw->ohw", weight[:, :, dy, dx],
                             padded[:, dy : dy + height, dx : dx + width])
    return (out + bias[:, None, None]).astype("f4")


def caffe_lrn(x, size, alpha, beta, k=1.0):
    squares = np.pad(x.astype("f8") ** 2, ((size // 2, size // 2), (0, 0), (0, 0)))
    total = sum(squares[i : i + x.shape[0]] for i in range(size))
    return (x / (k + alpha / size * total) ** beta).astype("f4")


def run_prototxt(layers, blobs, data):
    """Interpret an inference prototxt in NumPy; returns the last score blob (C, H, W)."""
    values, masks = {"data": data}, {}
    for layer in layers:
        kind, name = first(layer, "type"), first(layer, "name")
        bottoms, tops = layer.get("bottom", []), layer.get("top", [])
        x = values[bottoms[0]] if bottoms else None
        if kind == "Convolution":
            param = first(layer, "convolution_param")
            out = caffe_conv(x, blobs[name][0], blobs[name][1], first(param, "pad", 0))
        elif kind == "BN":
            scale, shift = blobs[name]
            out = x * scale.reshape(-1, 1, 1) + shift.reshape(-1, 1, 1)
        elif kind == "ReLU":
            out = np.maximum(x, 0)
        elif kind == "LRN":
            param = first(layer, "lrn_param")
            out = caffe_lrn(x, first(param, "local_size"), first(param, "alpha"),
                            first(param, "beta"))
        elif kind == "Pooling":
            out, mask = caffe_max_pool(x)
            masks[tops[1]] = (mask, x.shape[1:])  # the upsample goes back to this size
        elif kind == "Upsample":
            mask, size = masks[bottoms[1]]
            out = caffe_upsample(x, mask, *size)
        elif kind in ("Dropout", "Softmax"):
            continue  # dropout is the identity at test time; the scores are the output
        else:
            raise AssertionError(f"no transcription of {kind}")
        values[tops[0]] = out
        last = tops[0]
    return values[last]


def _network(name, num_classes=3):
    source = reference_or_skip(SEGNET / "Models" / f"{PROTOTXTS[name]}.prototxt")
    widths = VGG_WIDTHS if "basic" not in name else {64: 6}
    return source, deploy_net(source, widths=widths, num_classes=num_classes, scores=11)


# --- tests ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(PROTOTXTS))
def test_full_model_matches_the_original_prototxt(name):
    from keras_seg.convert.caffe import check_prototxt

    source = reference_or_skip(SEGNET / "Models" / f"{PROTOTXTS[name]}.prototxt")
    check_prototxt(keras_seg.build(name), load_prototxt(source))


@pytest.mark.parametrize("name", ["segnet_basic_camvid", "bayesian_segnet_camvid",
                                  "bayesian_segnet_basic_camvid", "segnet_driving_webdemo",
                                  "segnet_sun", "segnet_pascal"])
def test_the_published_files_layout_matches_its_prototxt(name):
    from keras_seg.convert.caffe import check_prototxt

    record = keras_seg.registry.get_weights_record(name)
    source = reference_or_skip(REFERENCE / record.prototxt)
    check_prototxt(keras_seg.build(record.model, **record.builder_args), load_prototxt(source))


@pytest.mark.parametrize("name,size", [("segnet_basic", (27, 35)), ("segnet", (45, 61)),
                                       ("bayesian_segnet_basic", (30, 33)),
                                       ("bayesian_segnet", (33, 40))])
def test_equals_the_numpy_transcription_at_odd_sizes(tmp_path, name, size):
    _, layers = _network(name)
    weighted = random_blobs(layers, seed=1)
    caffemodel = write_caffemodel(tmp_path / "net.caffemodel", weighted)
    blobs = {name: arrays for name, _, arrays in weighted}
    arguments = {"num_classes": 3}
    if "basic" in name:
        arguments["width"] = 6
    else:
        arguments["widths"] = (4, 8, 8, 16, 16)
    model = keras_seg.build(name, **arguments)
    report = keras_seg.load_weights(model, caffemodel)
    assert report.complete
    image = np.random.default_rng(2).uniform(0, 255, (*size, 3)).astype("f4")
    expected = run_prototxt(layers, blobs, image.transpose(2, 0, 1))
    actual = np.asarray(model(image[None]))[0].transpose(2, 0, 1)
    assert actual.shape == expected.shape == (3, *size)
    np.testing.assert_allclose(actual, expected, rtol=1e-4,
                               atol=1e-4 * np.abs(expected).max())


def test_pooling_mask_and_unpooling_follow_caffe_with_ties_and_odd_sizes():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 3, (2, 7, 9, 3)).astype("f4")  # many ties
    pooled, mask = MaxPoolingWithArgmax2D()(x)
    up = MaxUnpooling2D()([pooled, mask, x])
    for n in range(2):
        top, expected_mask = caffe_max_pool(x[n].transpose(2, 0, 1))
        np.testing.assert_array_equal(np.asarray(pooled[n]).transpose(2, 0, 1), top)
        np.testing.assert_array_equal(np.asarray(mask[n]).transpose(2, 0, 1), expected_mask)
        np.testing.assert_array_equal(np.asarray(up[n]).transpose(2, 0, 1),
                                      caffe_upsample(top, expected_mask, 7, 9))


def test_unpooling_is_not_plain_upsampling():
    x = np.zeros((1, 4, 4, 1), "f4")
    x[0, 1, 0, 0] = x[0, 2, 3, 0] = 5.0  # maxima at the bottom-left and top-right of windows
    pooled, mask = MaxPoolingWithArgmax2D()(x)
    np.testing.assert_array_equal(np.asarray(MaxUnpooling2D()([pooled, mask, x])), x)


def test_bayesian_dropout_layers_and_names():
    model = keras_seg.build("bayesian_segnet")
    dropouts = {layer.name for layer in model.layers
                if isinstance(layer, keras.layers.Dropout)}
    assert dropouts == {"encdrop3", "encdrop4", "encdrop5", "decdrop5", "decdrop4", "decdrop3"}
    pascal = keras_seg.build("bayesian_segnet", variant="pascal", widths=(4, 8, 8, 8, 8))
    assert {layer.name for layer in pascal.layers
            if isinstance(layer, keras.layers.Dropout)} == (
        {f"pool{i}_drop" for i in range(1, 6)} | {f"upsample{i}_drop" for i in range(1, 6)})
    basic = keras_seg.build("bayesian_segnet_basic")
    assert basic.get_layer("dense_softmax_inner_prod").filters == 11
    assert keras_seg.get_spec("segnet_basic").default_weights == "segnet_basic_camvid"
    # no plain SegNet CamVid file was published: its release is the 12-class driving demo
    assert keras_seg.get_spec("segnet").default_weights == "segnet_driving_webdemo"
    assert keras_seg.get_spec("segnet").classes[0] == "sky"  # SegNet's CamVid order
    camvid = keras_seg.registry.get_weights_record("segnet_basic_camvid")
    assert camvid.ignore_label == 11 and len(camvid.class_weights) == 11


def test_monte_carlo_dropout_gives_mean_probabilities_and_uncertainty():
    model = keras_seg.build("bayesian_segnet_basic", num_classes=3, width=4)
    rng = np.random.default_rng(0)
    for variable in model.weights:
        variable.assign(rng.normal(0, 0.5, variable.shape))
    image = rng.integers(0, 256, (20, 28, 3), dtype=np.uint8)
    _, plain = keras_seg.predict(model, image, return_probabilities=True)
    labels, mean, uncertainty = keras_seg.predict(model, image, return_probabilities=True,
                                                  mc_samples=8, return_uncertainty=True)
    assert labels.shape == uncertainty.shape == (20, 28) and mean.shape == (20, 28, 3)
    np.testing.assert_allclose(mean.sum(-1), 1, rtol=1e-5)
    assert uncertainty.max() > 1e-4 and (uncertainty >= 0).all()  # dropout really sampled
    assert not np.allclose(mean, plain)
    again = keras_seg.predict(model, image, return_probabilities=True)[1]
    np.testing.assert_array_equal(again, plain)  # the model itself is unchanged
    silent = keras_seg.build("bayesian_segnet_basic", num_classes=3, width=4)
    silent.set_weights(model.get_weights())
    for layer in silent.layers:
        if isinstance(layer, keras.layers.Dropout):
            layer.rate = 0.0
    _, still, zero = keras_seg.predict(silent, image, return_probabilities=True, mc_samples=3,
                                       return_uncertainty=True)
    assert not zero.any()  # dropout rate 0: the samples agree
    np.testing.assert_allclose(still, plain, atol=1e-6)
    keras.utils.set_random_seed(1)
    many = keras_seg.predict(model, image, return_probabilities=True, mc_samples=64)[1]
    keras.utils.set_random_seed(2)
    more = keras_seg.predict(model, image, return_probabilities=True, mc_samples=64)[1]
    assert np.abs(many - more).mean() < np.abs(mean - many).mean()  # the mean converges
    with pytest.raises(ValueError, match="no dropout layer to sample"):
        keras_seg.predict(keras_seg.build("segnet_basic", num_classes=3, width=4), image,
                          mc_samples=2)


def test_the_command_line_writes_the_uncertainty(tmp_path, capsys):
    from PIL import Image

    from keras_seg import cli

    image = tmp_path / "street.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (30, 40, 3), np.uint8)).save(image)
    argv = ["predict", "bayesian_segnet_basic", str(image), "--random-weights",
            "--num-classes", "3", "--model-arg", "width=4", "--out", str(tmp_path / "l.png")]
    assert cli.main([*argv, "--uncertainty", str(tmp_path / "u.npy")]) == 2
    assert "--uncertainty needs --mc-samples N" in capsys.readouterr().err
    assert cli.main([*argv, "--mc-samples", "3", "--uncertainty", str(tmp_path / "u.npy")]) == 0
    assert np.load(tmp_path / "u.npy").shape == (30, 40)
    assert cli.main([*argv, "--mc-samples", "3", "--uncertainty", str(tmp_path / "u.png")]) == 0
    assert Image.open(tmp_path / "u.png").mode == "L"
