"""Folder datasets: pairing, palette masks, bad data named, aligned augmentation, determinism."""

import numpy as np
import pytest
from PIL import Image

from keras_seg.samples import write_shapes_dataset
from keras_seg.training.data import (
    Augment,
    BadFiles,
    folder_pairs,
    read_mask,
    segmentation_dataset,
)


def _write(root, stem, image, mask, palette=True):
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(root / "images" / f"{stem}.png")
    pil = Image.fromarray(mask.astype(np.uint8), mode="P" if palette else "L")
    if palette:
        pil.putpalette([200, 10, 10] * 256)  # colours unrelated to the indices
    pil.save(root / "masks" / f"{stem}.png")


def test_palette_masks_are_read_as_indices(tmp_path):
    mask = np.array([[0, 1], [2, 255]], np.uint8)
    _write(tmp_path, "a", np.zeros((2, 2, 3), np.uint8), mask)
    assert read_mask(tmp_path / "masks" / "a.png").tolist() == mask.tolist()
    Image.fromarray(np.zeros((2, 2, 3), np.uint8)).save(tmp_path / "rgb.png")
    with pytest.raises(ValueError, match="colour mask"):
        read_mask(tmp_path / "rgb.png")


def test_pairs_and_unmatched_files(tmp_path):
    _write(tmp_path, "a", np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4)))
    _write(tmp_path, "b", np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4)))
    (tmp_path / "masks" / "b.png").rename(tmp_path / "masks" / "c.png")
    pairs, unmatched = folder_pairs(tmp_path)
    assert [p[0].name for p in pairs] == ["a.png"]
    assert [p.rsplit("/", 1)[1] for p in unmatched] == ["b.png", "c.png"]
    with pytest.raises(ValueError, match="no such folder"):
        folder_pairs(tmp_path / "missing")


@pytest.mark.parametrize("mask,message", [
    (np.zeros((5, 4)), "mask is 4x5 but the image is 4x4"),
    (np.full((4, 4), 7), r"label values \[7\]"),
])
def test_bad_masks_are_named(tmp_path, mask, message):
    _write(tmp_path, "bad", np.zeros((4, 4, 3), np.uint8), mask)
    ds = segmentation_dataset(folder_pairs(tmp_path)[0], num_classes=3, batch_size=1,
                              preprocess=lambda x: x)
    _, masks = next(iter(ds))  # the pipeline itself never raises: it records the file
    assert (masks.numpy() == 255).all()  # and gives a stand-in that trains on nothing
    with pytest.raises(ValueError, match=f"bad.png.*{message}"):
        ds.bad_files.check()


@pytest.mark.parametrize("augment", [
    Augment(crop_size=(40, 40), scale=(0.7, 1.5), flip=True, rotation=10),
    Augment(crop_size=(40, 40), scale=(1.0, 1.0), flip=True, elastic=(3, 6.0)),
], ids=["scale-flip-rotation", "elastic"])
def test_augmentation_keeps_image_and_mask_aligned(tmp_path, augment):
    rng = np.random.default_rng(0)
    mask = np.kron(rng.integers(0, 4, (6, 8)), np.ones((8, 8), int))  # 48 x 64 blocks
    image = np.repeat((mask * 60)[..., None], 3, axis=-1).astype(np.uint8)
    _write(tmp_path, "m", image, mask)
    ds = segmentation_dataset(folder_pairs(tmp_path)[0] * 8, num_classes=4, batch_size=8,
                              preprocess=lambda x: x, augment=augment, seed=3)
    images, masks = next(iter(ds))
    images, masks = images.numpy(), masks.numpy()
    assert images.shape == (8, 40, 40, 3) and masks.shape == (8, 40, 40)
    # away from label edges (where the image, resampled bilinearly twice, and the labels,
    # sampled nearest, legitimately differ) the image value is the one its label was drawn with
    padded = np.pad(masks, ((0, 0), (2, 2), (2, 2)), mode="edge")
    uniform = np.ones(masks.shape, bool)
    for dy in range(5):
        for dx in range(5):
            uniform &= padded[:, dy : dy + 40, dx : dx + 40] == masks
    interior = uniform & (masks != 255)
    agree = np.abs(images[..., 0] - masks * 60) < 1
    assert interior.mean() > 0.15 and agree[interior].mean() > 0.98


def test_same_seed_same_batches(tmp_path):
    pairs = folder_pairs(write_shapes_dataset(tmp_path, 6))[0]

    def first_batch(seed):
        ds = segmentation_dataset(pairs, num_classes=4, batch_size=3, preprocess=lambda x: x,
                                  augment=Augment((32, 32)), seed=seed)
        return next(iter(ds))[1].numpy()

    np.testing.assert_array_equal(first_batch(1), first_batch(1))
    assert not np.array_equal(first_batch(1), first_batch(2))


def test_unreadable_image_is_named(tmp_path):
    _write(tmp_path, "broken", np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4)))
    (tmp_path / "images" / "broken.png").write_bytes(b"\x89PNG truncated")
    ds = segmentation_dataset(folder_pairs(tmp_path)[0], num_classes=3, batch_size=1,
                              preprocess=lambda x: x)
    next(iter(ds))
    with pytest.raises(ValueError, match="broken.png: cannot read the image"):
        ds.bad_files.check()


def test_bad_pairs_are_skipped_and_counted(tmp_path):
    for name in ("a", "b", "c"):
        _write(tmp_path, name, np.full((4, 4, 3), 9, np.uint8), np.ones((4, 4)))
    (tmp_path / "images" / "b.png").write_bytes(b"\x89PNG truncated")
    ds = segmentation_dataset(folder_pairs(tmp_path)[0], num_classes=3, batch_size=1,
                              preprocess=lambda x: x, shuffle=False,
                              bad_files=BadFiles(skip=True, total=3))
    masks = [m.numpy() for _, m in ds]
    assert len(masks) == 2 and all((m == 1).all() for m in masks)
    ds.bad_files.check()  # skipping: no error
    assert list(ds.bad_files.failures) == [str(tmp_path / "images" / "b.png")]
    assert ds.bad_files.summary().startswith("skipped 1 bad file(s)")


def test_skipping_stops_when_every_pair_is_bad(tmp_path):
    _write(tmp_path, "a", np.zeros((4, 4, 3), np.uint8), np.full((4, 4), 7))
    ds = segmentation_dataset(folder_pairs(tmp_path)[0], num_classes=3, batch_size=1,
                              preprocess=lambda x: x, repeat=True,
                              bad_files=BadFiles(skip=True, total=1))
    next(iter(ds))  # a stand-in comes through rather than an endless search for a good pair
    with pytest.raises(ValueError, match="every training pair is bad"):
        ds.bad_files.check()
