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


def _scored_fcn(seed=0):
    """A narrow FCN-8s whose score layers are not FCN's zeros (outputs would be uniform)."""
    import keras

    keras.utils.set_random_seed(seed)
    model = keras_seg.build("fcn8s", num_classes=3, widths=NARROW)
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if layer.name.startswith("score_") and hasattr(layer, "kernel"):
            layer.kernel.assign(rng.normal(0, 0.5, layer.kernel.shape))
    return model


def _image(height, width, seed=0):
    import cv2

    image = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return cv2.GaussianBlur(image, (0, 0), 2)


def test_tiled_fcn_gives_probabilities_of_the_image_size():
    model = _scored_fcn()
    image = _image(75, 130)
    labels, probs = keras_seg.predict(model, image, return_probabilities=True, tile_size=64,
                                      overlap=0.5, tta="flips", batch_size=3)
    assert labels.shape == (75, 130) and probs.shape == (75, 130, 3)
    np.testing.assert_allclose(probs.sum(-1), 1, rtol=1e-5)
    whole_labels, whole = keras_seg.predict(model, image, return_probabilities=True)
    # tiles see less context than the whole frame, yet stay far closer to it than to uniform
    assert np.abs(probs - whole).mean() < 0.5 * np.abs(whole - 1 / 3).mean()
    assert np.mean(labels == whole_labels) > 0.7


def test_a_large_frame_is_tiled_within_the_memory_budget():
    model = _scored_fcn()
    image = _image(200, 400)
    with pytest.warns(UserWarning, match=r"would need about 38 MB \(memory budget 20 MB\): "
                                         r"predicting in blended 128-pixel tiles instead"):
        labels = keras_seg.predict(model, image, memory_budget=20 * 2**20)
    assert labels.shape == (200, 400)
    with pytest.raises(ValueError, match="even 128-pixel tiles need more than"):
        keras_seg.predict(model, image, memory_budget=2**20)


def test_front_ends_renamed_and_reloaded_models_keep_their_pipeline(tmp_path):
    import keras

    frontend = keras_seg.build("dilation8_camvid", context=False, widths=NARROW)
    image = _image(40, 60)
    labels, probs = keras_seg.predict(frontend, image, return_probabilities=True)
    assert labels.shape == (40, 60) and probs.shape == (40, 60, 11)
    frontend.save(tmp_path / "frontend.keras")
    reloaded = keras.saving.load_model(tmp_path / "frontend.keras")
    assert reloaded.metadata["builder_args"]["context"] is False
    np.testing.assert_allclose(keras_seg.predict(reloaded, image, return_probabilities=True)[1],
                               probs, atol=1e-6)
    model = _scored_fcn()
    expected = keras_seg.predict(model, image, return_probabilities=True)[1]
    model._name = "my_segmenter"  # Keras 3 has no name setter
    np.testing.assert_allclose(keras_seg.predict(model, image, return_probabilities=True)[1],
                               expected, atol=1e-6)


def test_any_keras_model_with_explicit_preprocessing():
    import keras

    from keras_seg.input_conventions import InputConvention

    x = keras.Input((None, None, 1))
    model = keras.Model(x, keras.layers.Conv2D(2, 3, padding="same")(x))
    image = _image(20, 24)
    with pytest.raises(ValueError, match="pass preprocess="):
        keras_seg.predict(model, image)
    gray = InputConvention(channels=1, colour_order="gray", scale=1 / 255, mean=(0.5,),
                           std=(0.25,))
    labels = keras_seg.predict(model, image, preprocess=gray, num_classes=2)
    assert labels.shape == (20, 24)
    luma = image.astype("f4") @ np.array([0.299, 0.587, 0.114], "f4")
    expected = np.asarray(model(((luma / 255 - 0.5) / 0.25)[None, ..., None]))[0].argmax(-1)
    np.testing.assert_array_equal(labels, expected)
    with pytest.raises(ValueError, match="gives 2 classes, not 5"):
        keras_seg.predict(model, image, preprocess=gray, num_classes=5)


def test_a_name_without_converted_weights_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_SEG_WEIGHTS", str(tmp_path))
    with pytest.raises(keras_seg.InputError, match="keras-seg weights fetch fcn8s"):
        keras_seg.predict("fcn8s", _image(8, 8))


def test_tile_too_small_for_dilation_context():
    model = keras_seg.build("dilation7_kitti", num_classes=3, widths=NARROW)
    with pytest.raises(ValueError, match="too small"):
        keras_seg.predict(model, np.zeros((50, 50, 3), np.uint8), tile_size=372)


def test_more_than_labels_comes_as_a_prediction_that_unpacks_as_before():
    model = keras_seg.build("segnet_basic", num_classes=3, width=4)
    image = np.random.default_rng(1).integers(0, 256, (27, 35, 3), np.uint8)
    labels = keras_seg.predict(model, image)
    result = keras_seg.predict(model, image, return_probabilities=True)
    assert isinstance(result, keras_seg.Prediction) and result.uncertainty is None
    np.testing.assert_array_equal(result.labels, labels)
    np.testing.assert_array_equal(result.labels, result.probabilities.argmax(-1))
    unpacked_labels, probabilities = result  # the tuple the earlier versions returned
    assert unpacked_labels is result.labels and probabilities is result.probabilities
    assert result[1] is result.probabilities
