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
