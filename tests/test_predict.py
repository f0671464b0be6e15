"""keras_seg.predict with blended tiling, against the original pipelines."""

import numpy as np
import pytest

import keras_seg

NARROW = (4, 8, 16, 32, 32, 64)


def test_tiled_dilation_equals_the_original_where_the_layouts_coincide():
    # 528 = 900 - 2 * 186 pixels per tile: the blended layout with no overlap is the original's
    model = keras_seg.build("dilation8_pascal_voc", num_classes=4, widths=NARROW,
                            context_noise=0.3, seed=0)
    image = np.random.default_rng(0).integers(0, 256, (528, 1056, 3), dtype=np.uint8)
    labels, probs = keras_seg.predict(model, image, return_probabilities=True)
    tiled_labels, tiled = keras_seg.predict(model, image, return_probabilities=True,
                                            tile_size=900, overlap=0.0, blend="constant")
    np.testing.assert_allclose(tiled, probs, atol=1e-5)
    np.testing.assert_array_equal(tiled_labels, labels)


def test_tiled_fcn_gives_probabilities_of_the_image_size():
    model = keras_seg.build("fcn8s", num_classes=3, widths=NARROW)
    image = np.random.default_rng(0).integers(0, 256, (75, 130, 3), dtype=np.uint8)
    labels, probs = keras_seg.predict(model, image, return_probabilities=True, tile_size=64,
                                      overlap=0.5, tta="flips", batch_size=3)
    assert labels.shape == (75, 130) and probs.shape == (75, 130, 3)
    np.testing.assert_allclose(probs.sum(-1), 1, rtol=1e-5)


def test_tile_too_small_for_dilation_context():
    model = keras_seg.build("dilation7_kitti", num_classes=3, widths=NARROW)
    with pytest.raises(ValueError, match="too small"):
        keras_seg.predict(model, np.zeros((50, 50, 3), np.uint8), tile_size=372)
