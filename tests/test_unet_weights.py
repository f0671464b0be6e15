"""U-Net's weight map against a brute-force reading of the paper's equation."""

import numpy as np

from keras_seg.training.unet_weights import (
    border_weights,
    class_balance_weights,
    unet_weight_map,
)


def _brute_force_border(instances, w0, sigma):
    """Distances from every pixel to every pixel of every cell, by enumeration."""
    height, width = instances.shape
    ys, xs = np.mgrid[:height, :width]
    ids = [i for i in np.unique(instances) if i != 0]
    distances = []
    for i in ids:
        cy, cx = np.nonzero(instances == i)
        d = np.sqrt((ys[..., None] - cy) ** 2 + (xs[..., None] - cx) ** 2).min(-1)
        distances.append(d)
    d1, d2 = np.sort(np.stack(distances), axis=0)[:2]
    term = w0 * np.exp(-((d1 + d2) ** 2) / (2 * sigma**2))
    return np.where(instances == 0, term, 0.0)


def test_border_term_equals_the_equation():
    rng = np.random.default_rng(0)
    instances = np.zeros((40, 50), int)
    for cell in range(1, 5):  # four blobs, two of them touching closely
        cy, cx = rng.integers(8, 32), rng.integers(8, 42)
        ys, xs = np.mgrid[:40, :50]
        instances[(ys - cy) ** 2 + (xs - cx) ** 2 < rng.integers(9, 40)] = cell
    expected = _brute_force_border(instances, 10.0, 5.0)
    np.testing.assert_allclose(border_weights(instances, 10.0, 5.0), expected, atol=2e-3)


def test_a_gap_between_two_cells_weighs_most_and_one_cell_has_no_border_term():
    instances = np.zeros((9, 30), int)
    instances[:, :10], instances[:, 13:] = 1, 2  # a 3-pixel gap
    weights = unet_weight_map(instances)
    assert weights[4, 11] > 5 and weights[4, 11] > weights[4, 5]
    assert not border_weights(np.where(instances == 2, 0, instances)).any()


def test_class_balance_gives_each_class_the_same_total():
    labels = np.array([[0, 0, 0, 1], [0, 0, 255, 1]])
    weights = class_balance_weights(labels, 2)
    assert weights[labels == 255] == 0
    np.testing.assert_allclose(weights[labels == 0].sum(), weights[labels == 1].sum())
    np.testing.assert_allclose(weights[labels != 255].mean(), 1.0)


def _cells_dataset(root, count=4, size=40):
    from PIL import Image

    rng = np.random.default_rng(0)
    for folder in ("images", "masks", "instances"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for n in range(count):
        instances = np.zeros((size, size), np.uint8)
        top, left = rng.integers(4, 10, 2)
        instances[top : top + 12, left : left + 12] = 1
        instances[top : top + 12, left + 14 : left + 26] = 2  # a 2-pixel gap
        labels = (instances > 0).astype(np.uint8)
        image = np.repeat((labels * 150 + 40)[..., None], 3, -1).astype(np.uint8)
        Image.fromarray(image).save(root / "images" / f"{n}.png")
        Image.fromarray(labels, mode="L").save(root / "masks" / f"{n}.png")
        Image.fromarray(instances, mode="L").save(root / "instances" / f"{n}.png")
    return root


def test_weights_follow_the_mask_through_augmentation(tmp_path):
    from keras_seg.training.data import Augment, folder_pairs, read_mask, segmentation_dataset
    from keras_seg.training.unet_weights import instance_weight_map

    root = _cells_dataset(tmp_path)
    pairs = folder_pairs(root)[0]
    weight_map = instance_weight_map(root, 2)
    plain = segmentation_dataset(pairs, num_classes=2, preprocess=lambda x: x, batch_size=1,
                                 shuffle=False, weight_map=weight_map)
    _, mask, weights = next(iter(plain))
    expected = unet_weight_map(read_mask(root / "instances" / "0.png"), read_mask(pairs[0][1]))
    np.testing.assert_allclose(weights.numpy()[0], expected)
    augment = Augment((32, 32), scale=(0.8, 1.25), flip=True, rotation=10)
    ds = segmentation_dataset(pairs * 2, num_classes=2, preprocess=lambda x: x, batch_size=8,
                              augment=augment, seed=1, weight_map=weight_map)
    _, masks, weights = (t.numpy() for t in next(iter(ds)))
    for mask, weight in zip(masks, weights):
        cells, background = weight[mask == 1], weight[mask == 0]
        assert len(cells) and np.ptp(cells) < 1e-6  # one class weight on every cell pixel
        assert background.min() > 0  # the class weight everywhere...
        assert background.max() > background.min() + 1  # ...plus the border term in gaps


def test_train_with_the_unet_weight_map(tmp_path, capsys):
    from keras_seg import cli

    root = _cells_dataset(tmp_path / "data")
    argv = ["train", "unet_padded", str(root), "--num-classes", "2", "--checkpoint-dir",
            str(tmp_path / "ckpt"), "--epochs", "1", "--batch-size", "2", "--crop-size", "32",
            "--model-arg", "widths=(4, 8, 16, 32, 64)", "--unet-weights", "10", "5"]
    assert cli.main(argv) == 0
    log = (tmp_path / "ckpt" / "log.csv").read_text().splitlines()
    loss = float(log[1].split(",")[log[0].split(",").index("loss")])
    assert np.isfinite(loss) and loss > 0
    import shutil

    shutil.rmtree(root / "instances")
    assert cli.main([*argv[:6], str(tmp_path / "ckpt2"), *argv[7:]]) == 2
    assert "instances: no such folder" in capsys.readouterr().err
