"""predict_tiled against analytic answers and whole-image forwards."""

import itertools

import keras
import numpy as np
import pytest

import keras_seg
from keras_seg.inference.tiling import Tiling, measure_geometry, predict_tiled

RNG = np.random.default_rng(0)
IMAGE = RNG.uniform(-1, 1, (511, 237, 3)).astype("float32")


def identity(x):
    return x


def plus_one(x):
    return x + 1


@pytest.mark.parametrize("blend", ["constant", "gaussian", "cosine"])
@pytest.mark.parametrize("overlap", [0.0, 0.25, 0.5])
@pytest.mark.parametrize("tile,batch_size", [(64, 1), ((96, 50), 3), (600, 2)])
def test_analytic_models_are_reproduced(blend, overlap, tile, batch_size):
    for model, expected in ((identity, IMAGE), (plus_one, IMAGE + 1)):
        y = predict_tiled(model, IMAGE, tile_size=tile, overlap=overlap, blend=blend,
                          batch_size=batch_size, geometry=(0, 1))
        assert y.shape == IMAGE.shape and y.dtype == np.float32
        np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)


def test_constant_model_gives_a_seamless_constant():
    y = predict_tiled(lambda x: np.full((*x.shape[:3], 2), 7.0), IMAGE, tile_size=80,
                      overlap=0.3, blend="gaussian")
    np.testing.assert_allclose(y, 7.0, rtol=1e-6)


def _conv_model(channels=3, depth=3, seed=0):
    """'same'-padded 3x3 convolutions: receptive field radius = depth.

    Without biases, zero stays zero through every layer, so each layer's own zero padding
    equals zero padding of the input: the tiled and the whole-image forward can agree.
    """
    inputs = keras.Input((None, None, channels))
    x = inputs
    for i in range(depth):
        x = keras.layers.Conv2D(4 if i < depth - 1 else 2, 3, padding="same",
                                activation="relu" if i < depth - 1 else None,
                                use_bias=False,
                                kernel_initializer=keras.initializers.GlorotNormal(seed + i))(x)
    return keras.Model(inputs, x)


@pytest.mark.parametrize("blend,overlap,batch", [("gaussian", 0.25, 4), ("constant", 0.0, 1),
                                                 ("cosine", 0.5, 7)])
def test_translation_equivariant_model_with_margin_equals_whole_image(blend, overlap, batch):
    model = _conv_model(depth=3)
    image = IMAGE[:150, :133]
    whole = np.asarray(model(image[None]))[0]
    # zero padding outside the image is what the whole-image forward sees too
    tiled = predict_tiled(model, image, tile_size=(40, 52), overlap=overlap, blend=blend,
                          batch_size=batch, margin=3, pad_mode="constant")
    np.testing.assert_allclose(tiled, whole, rtol=1e-4, atol=1e-5)
    without = predict_tiled(model, image, tile_size=(40, 52), overlap=0.0, pad_mode="constant")
    assert np.abs(without - whole).max() > 1e-3  # the margin is what makes them agree


def _valid_unet(seed=0):
    """A small U-Net with unpadded convolutions, 2x2 pooling and up-convolutions, centre crops."""
    init = keras.initializers.GlorotNormal(seed)
    inputs = keras.Input((None, None, 3))
    a = keras.layers.Conv2D(4, 3, activation="relu", kernel_initializer=init)(inputs)
    a = keras.layers.Conv2D(4, 3, activation="relu", kernel_initializer=init)(a)
    b = keras.layers.MaxPooling2D(2)(a)
    b = keras.layers.Conv2D(8, 3, activation="relu", kernel_initializer=init)(b)
    b = keras.layers.Conv2D(8, 3, activation="relu", kernel_initializer=init)(b)
    up = keras.layers.Conv2DTranspose(4, 2, strides=2, kernel_initializer=init)(b)
    a = keras.layers.Cropping2D(4)(a)
    x = keras.layers.Concatenate()([a, up])
    x = keras.layers.Conv2D(4, 3, activation="relu", kernel_initializer=init)(x)
    x = keras.layers.Conv2D(2, 3, kernel_initializer=init)(x)
    return keras.Model(inputs, x)  # input 4k + 12 -> 4k - 4 (margin 8)


def test_valid_unet_overlap_tile_equals_whole_mirrored_forward():
    model = _valid_unet()
    assert measure_geometry(model, (60, 60), 3) == (8, 1)
    image = IMAGE[:101, :77]
    padded = np.pad(image, ((8, 8 + 3), (8, 8 + 3), (0, 0)), mode="reflect")  # to 4k + 12
    whole = np.asarray(model(padded[None]))[0][:101, :77]
    tiled = predict_tiled(model, image, tile_size=(44, 60), overlap=0.25, blend="gaussian",
                          geometry=(8, 1, 2))  # one 2x2 pooling: shifts by 2 only
    assert tiled.shape == (101, 77, 2)
    np.testing.assert_allclose(tiled, whole, rtol=1e-4, atol=1e-5)


def test_strided_model_with_margin():
    # stride-4 'model': mean of each 4x4 block after dropping a 6-pixel border
    def blocks(x):
        inner = x[:, 6:-6, 6:-6]
        n, h, w, c = inner.shape
        return inner.reshape(n, h // 4, 4, w // 4, 4, c).mean(axis=(2, 4))

    image = IMAGE[:100, :60]
    assert measure_geometry(blocks, (44, 44), 3) == (6, 4)
    tiled = predict_tiled(blocks, image, tile_size=44, overlap=0.5)
    expected = image.reshape(25, 4, 15, 4, 3).mean(axis=(1, 3))
    np.testing.assert_allclose(tiled, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("tta", ["flips", "dihedral"])
def test_tta_averages_transformed_predictions(tta):
    model = _conv_model(depth=2, seed=3)
    image = IMAGE[:64, :64]
    y = predict_tiled(model, image, tile_size=64, tta=tta, activation="softmax",
                      pad_mode="constant")
    flips = [(), (0,), (1,), (0, 1)]
    transforms = [(f, False) for f in flips]
    if tta == "dihedral":
        transforms += [(f, True) for f in flips]
    expected = 0
    for axes, transpose in transforms:
        x = np.swapaxes(image, 0, 1) if transpose else image
        x = np.flip(x, axes) if axes else x
        p = keras.ops.softmax(model(x[None].copy()))[0].numpy()
        p = np.flip(p, axes) if axes else p
        expected = expected + (np.swapaxes(p, 0, 1) if transpose else p)
    np.testing.assert_allclose(y, expected / len(transforms), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(y.sum(-1), 1, rtol=1e-5)


def test_multi_scale_of_a_scale_invariant_model():
    constant = np.full((90, 70, 3), 0.5, np.float32)
    y = predict_tiled(identity, constant, tile_size=32, scales=(0.5, 1.0, 1.5), geometry=(0, 1))
    np.testing.assert_allclose(y, 0.5, rtol=1e-5)


def test_memory_mapped_input_and_output(tmp_path):
    source = np.lib.format.open_memmap(tmp_path / "in.npy", "w+", np.float32, (300, 200, 3))
    source[:] = IMAGE[:300, :200]
    out = np.lib.format.open_memmap(tmp_path / "out.npy", "w+", np.float32, (300, 200, 3))
    result = predict_tiled(plus_one, source, tile_size=64, geometry=(0, 1), out=out)
    assert result is out
    out.flush()
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), IMAGE[:300, :200] + 1, atol=1e-5)


@pytest.mark.parametrize("kwargs,message", [
    ({"overlap": 1.0}, r"overlap must be in \[0, 1\)"),
    ({"overlap": -0.1}, "overlap"),
    ({"blend": "median"}, "blend"),
    ({"pad_mode": "wrap"}, "pad_mode"),
    ({"tta": "rot90"}, "tta"),
    ({"tile_size": 10, "geometry": (6, 1)}, "too small"),
    ({"tile_size": (32, 48), "tta": "dihedral"}, "square"),
])
def test_bad_arguments_are_refused(kwargs, message):
    args = {"tile_size": 32, "geometry": (0, 1), **kwargs}
    with pytest.raises(ValueError, match=message):
        predict_tiled(identity, IMAGE, **args)


def test_empty_image_is_refused():
    with pytest.raises(ValueError, match="non-empty"):
        predict_tiled(identity, np.zeros((0, 5, 3), np.float32), tile_size=8)


def test_reflect_padding_matches_numpy_for_any_offset():
    from keras_seg.inference.tiling import _read

    image = np.arange(5 * 4, dtype=np.float32).reshape(5, 4, 1)
    big = np.pad(image, ((20, 20), (20, 20), (0, 0)), mode="reflect")
    for top, left in itertools.product((-20, -7, 0, 3), (-20, -5, 2)):
        np.testing.assert_array_equal(_read(image, top, left, (9, 11), "reflect"),
                                      big[top + 20 : top + 29, left + 20 : left + 31])


def test_public_name():
    assert keras_seg.predict_tiled is predict_tiled


def test_reader_callback_reads_bounded_blocks():
    reads = []

    def reader(top, bottom, left, right):
        reads.append((bottom - top, right - left))
        return IMAGE[top:bottom, left:right]

    y = predict_tiled(plus_one, reader, image_shape=IMAGE.shape, tile_size=64, overlap=0.25,
                      geometry=(0, 1))
    np.testing.assert_allclose(y, IMAGE + 1, atol=1e-5)
    assert reads and max(h for h, _ in reads) <= 64 and max(w for _, w in reads) <= 64
    with pytest.raises(ValueError, match="image_shape"):
        predict_tiled(plus_one, reader, tile_size=64, geometry=(0, 1))
    with pytest.raises(ValueError, match="the reader returned"):
        predict_tiled(plus_one, lambda *a: np.zeros((1, 1, 3)), image_shape=IMAGE.shape,
                      tile_size=64, geometry=(0, 1))


def test_one_tiling_object_equals_its_fields_as_keywords():
    tiling = Tiling((96, 50), overlap=0.5, batch_size=3, blend="cosine", tta="flips",
                    margin=2, geometry=(0, 1))
    np.testing.assert_array_equal(
        predict_tiled(plus_one, IMAGE, tiling),
        predict_tiled(plus_one, IMAGE, tile_size=(96, 50), overlap=0.5, batch_size=3,
                      blend="cosine", tta="flips", margin=2, geometry=(0, 1)))
    assert Tiling(64).tile == (64, 64)
    with pytest.raises(TypeError, match="not both: overlap"):
        predict_tiled(identity, IMAGE, tiling, overlap=0.1)


@pytest.mark.parametrize("settings,message", [
    ({"tile_size": 0}, "tile_size must be positive"),
    ({"tile_size": 64, "overlap": 1.0}, r"overlap must be in \[0, 1\)"),
    ({"tile_size": 64, "batch_size": 0}, "batch_size must be at least 1"),
    ({"tile_size": 64, "blend": "box"}, "blend must be one of"),
    ({"tile_size": 64, "pad_mode": "wrap"}, "pad_mode must be one of"),
    ({"tile_size": 64, "tta": "rotate"}, "tta must be None"),
    ({"tile_size": (64, 32), "tta": "dihedral"}, "dihedral TTA needs square tiles"),
])
def test_tiling_settings_are_checked_when_made(settings, message):
    with pytest.raises(ValueError, match=message):
        Tiling(**settings)
