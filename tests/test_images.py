"""Image modes and depths: converted with a warning, or refused with the reason."""

import numpy as np
import pytest
from PIL import Image

from keras_seg.images import as_rgb_uint8, overlay, read_image, write_labels


def test_rgb_passes_through_unchanged():
    image = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    assert as_rgb_uint8(image) is image


@pytest.mark.parametrize("image,warning,pixel", [
    (np.full((4, 6), 9, np.uint8), "grayscale", [9, 9, 9]),
    (np.full((4, 6, 1), 9, np.uint8), "grayscale", [9, 9, 9]),
    (np.dstack([np.full((4, 6, 3), 9, np.uint8), np.zeros((4, 6), np.uint8)]), "alpha", [9, 9, 9]),
    (np.full((4, 6, 3), 0x1234, np.uint16), "16-bit", [0x12] * 3),
])
def test_other_modes_are_converted_with_a_warning(image, warning, pixel):
    with pytest.warns(UserWarning, match=warning):
        rgb = as_rgb_uint8(image)
    assert rgb.shape == (4, 6, 3) and rgb.dtype == np.uint8 and rgb[2, 3].tolist() == pixel


def test_float_images_in_unit_range():
    assert as_rgb_uint8(np.full((2, 2, 3), 0.5)).max() == 128
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        as_rgb_uint8(np.full((2, 2, 3), 3.0))


@pytest.mark.parametrize("image,message", [
    (np.zeros((0, 5, 3), np.uint8), "H, W > 0"),
    (np.zeros((4, 5, 2), np.uint8), "1, 3 or 4 channels"),
    (np.zeros((4, 5, 3), np.int64), "unsupported image dtype"),
    (np.zeros((2, 4, 5, 3), np.uint8), "expected an image"),
])
def test_unusable_images_are_refused(image, message):
    with pytest.raises(ValueError, match=message):
        as_rgb_uint8(image)


def test_files_of_several_modes(tmp_path):
    gray = np.arange(20, dtype=np.uint8).reshape(4, 5)
    Image.fromarray(gray).save(tmp_path / "g.png")
    with pytest.warns(UserWarning, match="grayscale"):
        assert read_image(tmp_path / "g.png")[..., 1].tolist() == gray.tolist()
    Image.fromarray(gray.astype(np.uint16) * 257).save(tmp_path / "g16.png")
    with pytest.warns(UserWarning):
        assert read_image(tmp_path / "g16.png")[..., 0].tolist() == gray.tolist()
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="cannot read the image"):
        read_image(tmp_path / "bad.png")


def test_label_png_keeps_indices_and_palette(tmp_path):
    labels = np.array([[0, 1], [2, 1]])
    palette = np.array([[0, 0, 0], [255, 0, 0], [0, 255, 0]], np.uint8)
    write_labels(tmp_path / "l.png", labels, palette)
    with Image.open(tmp_path / "l.png") as pil:
        assert pil.mode == "P" and np.asarray(pil).tolist() == labels.tolist()
        assert pil.getpalette()[:9] == palette.reshape(-1).tolist()
    blended = overlay(np.full((2, 2, 3), 100, np.uint8), labels, palette, outline=False)
    assert blended[0, 1].tolist() == [178, 50, 50]


def test_overlay_outlines_regions_and_the_legend_names_the_classes_present():
    from keras_seg.images import with_legend

    labels = np.zeros((20, 30), int)
    labels[5:15, 10:20] = 2
    palette = np.array([[0, 0, 0], [255, 0, 0], [0, 200, 0]], np.uint8)
    picture = overlay(np.full((20, 30, 3), 30, np.uint8), labels, palette)
    edge = picture[4, 12]  # the row above the square: a boundary pixel, drawn white
    assert edge.tolist() == [255, 255, 255] and picture[0, 0].tolist() != [255, 255, 255]
    framed = with_legend(picture, labels, palette, ("void", "red", "green"))
    assert framed.shape[0] > 20 and framed.shape[1] == 30
    np.testing.assert_array_equal(framed[:20], picture)
