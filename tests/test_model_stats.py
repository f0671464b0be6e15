"""Zoo numbers against hand counts and against the receptive field measured by gradients."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_seg
from keras_seg import model_stats
from keras_seg.layers import CaffePooling2D

VGG_NARROW = (4, 8, 8, 8, 8, 16)


def tiny_model():
    data = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", name="conv1")(data)
    x = keras.layers.AveragePooling2D(2, name="pool1")(x)
    x = keras.layers.Conv2D(16, 3, dilation_rate=2, name="conv2")(x)
    x = keras.layers.Conv2DTranspose(4, 4, strides=2, name="up")(x)
    x = keras.layers.Dense(5, name="classes")(x)
    return keras.Model(data, x)


def test_tiny_model_by_hand():
    stats = model_stats.model_stats(tiny_model(), 32)
    # conv1 32x32 out, pool 16x16, conv2 (dilated 3x3 = 5 wide, valid) 12x12, the transposed
    # 4x4/2 scatters from 12x12 inputs to 26x26, the dense layer on 26x26 positions
    macs = 32 * 32 * (3 * 3 * 3 * 8) + 12 * 12 * (3 * 3 * 8 * 16) + 12 * 12 * (4 * 4 * 16 * 4)
    macs += 26 * 26 * 4 * 5
    assert stats.macs == macs and stats.flops == 2 * macs
    assert stats.output_size == (26, 26)
    assert stats.total_params == stats.trainable_params == (
        3 * 3 * 3 * 8 + 8 + 3 * 3 * 8 * 16 + 16 + 4 * 4 * 16 * 4 + 4 + 4 * 5 + 5)
    # field: 3, pool +1 (stride 2), dilated conv +4 steps of 2, the 4x4/2 transposed conv
    # mixes 2 inputs per output (+1 step of 2, stride back to 1)
    assert stats.receptive_field == 3 + 1 + 4 * 2 + 1 * 2
    assert (stats.output_stride, stats.coarsest_stride) == (1, 2)
    fields = _measured_fields(tiny_model(), (32, 32), [(12, 12), (13, 13)])
    assert max(fields) == (14, 14)
    assert stats.size_rule == ""
    with pytest.raises(ValueError, match="input_size"):
        model_stats.model_stats(tiny_model())


def _fcn8s_macs_by_hand(size, classes=21):
    """FCN-8s (voc-fcn8s/deploy.prototxt) multiply-accumulates with Caffe's size formulas."""
    def conv_out(n, k, pad=0):
        return n + 2 * pad - k + 1

    def pool_out(n):
        return math.ceil((n - 2) / 2) + 1

    macs, n, channels, taps = 0, size, 3, {}
    for block, (width, count) in enumerate([(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)]):
        for i in range(count):
            n = conv_out(n, 3, pad=100 if block == 0 and i == 0 else 1)
            macs += n * n * 9 * channels * width
            channels = width
        n = pool_out(n)
        taps[block + 1] = n
    n = conv_out(n, 7)                       # fc6
    macs += n * n * 49 * 512 * 4096 + n * n * 4096 * 4096 + n * n * 4096 * classes
    macs += n * n * 16 * classes * classes   # upscore2, 4x4 deconv from n x n
    n = 2 * (n - 1) + 4
    macs += taps[4] ** 2 * 512 * classes     # score_pool4
    macs += n * n * 16 * classes * classes   # upscore_pool4 from the fused n x n
    n = 2 * (n - 1) + 4
    macs += taps[3] ** 2 * 256 * classes     # score_pool3
    macs += n * n * 256 * classes * classes  # upscore8: 16x16 deconv from n x n
    return macs


def test_fcn8s_flops_at_500_by_hand():
    stats = model_stats.model_stats("fcn8s")  # full width: shapes only, nothing runs
    assert stats.input_size == (500, 500) and stats.output_size == (500, 500)
    assert stats.macs == _fcn8s_macs_by_hand(500)
    assert round(stats.gflops) == 363
    assert stats.trainable_params == 134_362_751  # upscore layers are frozen (bilinear)
    assert (stats.coarsest_stride, stats.output_stride) == (32, 1)


def test_vgg16_pool5_field_is_212_at_stride_32():
    model = keras_seg.build("fcn8s", widths=VGG_NARROW)
    rows = {row.name: row for row in model_stats.layer_stats(model, 500)}
    assert rows["pool5"].receptive_field == (212, 212) and rows["pool5"].stride == (32, 32)
    assert rows["pool5"].output_shape == (22, 22, 8)
    assert rows["conv1_1"].receptive_field == (3, 3) and rows["pool1"].stride == (2, 2)


def _measured_fields(model, size, pixels):
    """(rows, cols) extent of the input that influences each output pixel, by gradient.

    Max pooling passes gradient to one input of each window only, so a copy with average
    pooling (same windows) is measured; all kernels are 1 and biases 1, so every ReLU is
    active and no contribution cancels: the gradient is non-zero exactly on the field. One
    batch element per pixel.
    """
    def average(layer):
        if isinstance(layer, CaffePooling2D):
            return CaffePooling2D.from_config({**layer.get_config(), "pool": "ave"})
        if isinstance(layer, keras.layers.MaxPooling2D):
            return keras.layers.AveragePooling2D.from_config(layer.get_config())
        return layer.__class__.from_config(layer.get_config())

    copy = keras.models.clone_model(model, clone_function=average)
    for variable in copy.weights:
        variable.assign(np.ones(variable.shape, variable.dtype))
    channels = model.inputs[0].shape[-1]
    x = tf.Variable(np.ones((len(pixels), *size, channels), np.float32))
    with tf.GradientTape() as tape:
        y = copy(x, training=False)
        target = tf.add_n([tf.reduce_sum(y[b, r, c]) for b, (r, c) in enumerate(pixels)])
    grads = np.abs(tape.gradient(target, x).numpy()).sum(-1)
    assert np.isfinite(grads).all()
    extents = []
    for grad in grads:
        rows, cols = np.flatnonzero(grad.any(1)), np.flatnonzero(grad.any(0))
        assert rows.size and rows[0] > 0 and rows[-1] < size[0] - 1, "field not inside"
        assert cols[0] > 0 and cols[-1] < size[1] - 1, "field not inside the input"
        extents.append((rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1))
    return extents


@pytest.mark.parametrize("context", [False, True], ids=["frontend", "with_context"])
def test_dilatednet_field_matches_gradients(context):
    model = keras_seg.build("dilation8_camvid", widths=VGG_NARROW, num_classes=3,
                            context=context)
    size = (1000, 1000) if context else (412, 412)
    stats = model_stats.model_stats(model, size)
    out = stats.output_size
    assert out == tuple(math.ceil((n - 372) / 8) for n in size)
    measured = _measured_fields(model, size, [(out[0] // 2, out[1] // 2)])
    assert measured == [(stats.receptive_field,) * 2]
    assert stats.receptive_field == (908 if context else 380)  # context: (67 - 1) x 8 more
    assert stats.output_stride == stats.coarsest_stride == 8


def test_fcn_pool5_and_unet_fields_match_gradients():
    fcn = keras_seg.build("fcn32s", widths=VGG_NARROW, num_classes=3)
    pool5 = keras.Model(fcn.inputs, fcn.get_layer("pool5").output)
    # conv1_1 pads 100: the field of pool5 pixel 8 lies inside the 300-pixel input
    assert _measured_fields(pool5, (300, 300), [(8, 8)]) == [(212, 212)]
    # U-Net's fields depend on the output pixel's position (up-convolutions): 188 or 204
    unet = keras_seg.build("unet", widths=(4, 8, 8, 16, 16), last_upconv=8, num_classes=3)
    stats = model_stats.model_stats(unet, 252)
    assert stats.output_size == (68, 68)
    fields = _measured_fields(unet, (252, 252), [(i, i) for i in range(26, 42)])
    assert max(fields) == (stats.receptive_field,) * 2 == (204, 204)
    assert min(fields) == (188, 188)


def test_size_rules_follow_the_registry():
    assert model_stats.size_rule_text("unet") == "60 + 16k, >= 188; out = in - 184"
    assert (model_stats.size_rule_text("dilation8_camvid")
            == "any >= 373; out = ceil((in - 372) / 8)")
    assert model_stats.size_rule_text("fcn8s") == "any; out = in"
    assert model_stats.reference_size("dilation7_kitti") == (852, 1640)
    assert model_stats.reference_size("fcn16s") == (500, 500)
    # the Cityscapes model upsamples by 8 inside: its rule against the shapes at two sizes
    model = keras_seg.build("dilation10_cityscapes", widths=VGG_NARROW, num_classes=3)
    for size in (400, 397):
        out = model_stats.model_stats(model, size).output_size[0]
        assert out == 8 * math.ceil((size - 372) / 8)
    assert model_stats.size_rule_text("dilation10_cityscapes").endswith("8 x ceil((in - 372) / 8)")


def test_every_registered_model_has_numbers():
    stats = model_stats.zoo_stats(["segnet_basic", "fc_densenet56"])
    assert [s.name for s in stats] == ["segnet_basic", "fc_densenet56"]
    assert all(s.macs > 0 and s.receptive_field > 1 for s in stats)
    assert stats[0].output_size == stats[0].input_size == (360, 480)
    table = model_stats.format_table(stats).splitlines()
    assert len(table) == 4 and table[2].startswith("| segnet_basic | 360x480 |")
    assert set(model_stats.REFERENCE_SIZES) and all(
        model_stats.reference_size(name) for name in keras_seg.list_models())
