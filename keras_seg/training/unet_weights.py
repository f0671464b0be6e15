"""U-Net's pixel-wise loss weights (Ronneberger et al. 2015, eq. 2).

``w(x) = w_c(x) + w0 * exp(-(d1(x) + d2(x))**2 / (2 * sigma**2))``: class-balancing weights
``w_c`` plus a term that makes the network learn the thin background gaps between touching
cells, where ``d1`` and ``d2`` are the distances to the border of the nearest and the second
nearest cell. The paper uses ``w0 = 10`` and ``sigma = 5`` pixels. Distances are Euclidean
(OpenCV's exact distance transform), measured to the nearest pixel of each cell; the border
term is applied to background pixels, as in the paper's Fig. 3d.
"""

import numpy as np


def class_balance_weights(labels, num_classes, ignore_label=255):
    """``w_c``: per-pixel weights that give every class present the same total weight.

    Args:
        labels: (H, W) class indices.
        num_classes: number of classes.
        ignore_label: pixels with this value get weight 0.

    Returns:
        (H, W) float32 weights, averaging 1 over the labelled pixels.

    Example:
        >>> class_balance_weights(np.array([[0, 0, 0, 1]]), 2).astype(float).round(3).tolist()
        [[0.667, 0.667, 0.667, 2.0]]
    """
    labels = np.asarray(labels)
    valid = labels != ignore_label
    counts = np.bincount(labels[valid].ravel(), minlength=num_classes)[:num_classes]
    present = counts > 0
    per_class = np.zeros(num_classes, np.float64)
    per_class[present] = valid.sum() / (present.sum() * counts[present])
    weights = np.zeros(labels.shape, np.float32)
    weights[valid] = per_class[labels[valid]]
    return weights


def border_weights(instances, w0=10.0, sigma=5.0):
    """The separation term ``w0 * exp(-(d1 + d2)^2 / (2 sigma^2))`` on background pixels.

    Args:
        instances: (H, W) integer instance ids, 0 for background.
        w0: weight at a gap of zero width.
        sigma: width scale of the term, in pixels.

    Returns:
        (H, W) float32, zero on cells and wherever fewer than two cells exist.

    Example:
        >>> cells = np.zeros((1, 7), int); cells[0, :2] = 1; cells[0, 5:] = 2
        >>> border_weights(cells).astype(float).round(2).tolist()
        [[0.0, 0.0, 7.26, 7.26, 7.26, 0.0, 0.0]]
    """
    import cv2

    instances = np.asarray(instances)
    ids = [i for i in np.unique(instances) if i != 0]
    result = np.zeros(instances.shape, np.float32)
    if len(ids) < 2:
        return result
    distances = np.stack([
        cv2.distanceTransform((instances != i).astype(np.uint8), cv2.DIST_L2,
                              cv2.DIST_MASK_PRECISE)
        for i in ids
    ])
    nearest = np.partition(distances, 1, axis=0)[:2]
    term = w0 * np.exp(-((nearest[0] + nearest[1]) ** 2) / (2 * sigma**2))
    background = instances == 0
    result[background] = term[background]
    return result


def unet_weight_map(instances, labels=None, num_classes=2, w0=10.0, sigma=5.0,
                    ignore_label=255):
    """The whole U-Net weight map: class balancing plus the border term.

    Args:
        instances: (H, W) instance ids, 0 for background.
        labels: (H, W) class indices (default: 1 on cells, 0 on background).
        num_classes: number of classes.
        w0: border weight (the paper's 10).
        sigma: border width in pixels (the paper's 5).
        ignore_label: label value that gets weight 0.

    Returns:
        (H, W) float32 weights for a pixel-wise weighted cross-entropy.

    Example:
        >>> weights = unet_weight_map(instance_mask)  # doctest: +SKIP
    """
    instances = np.asarray(instances)
    if labels is None:
        labels = (instances != 0).astype(np.int32)
    weights = class_balance_weights(labels, num_classes, ignore_label)
    border = border_weights(instances, w0, sigma)
    return np.where(np.asarray(labels) == ignore_label, 0.0, weights + border).astype(np.float32)


def instance_weight_map(root, num_classes, w0=10.0, sigma=5.0, ignore_label=255):
    """A dataset ``weight_map`` reading instance masks from ``root/instances/<stem>.*``.

    Args:
        root: the dataset folder (with ``images/``, ``masks/`` and ``instances/``).
        num_classes: number of classes (for the class balancing).
        w0: border weight.
        sigma: border width in pixels.
        ignore_label: label value that gets weight 0.

    Returns:
        ``f(image_path, mask_path, mask) -> (H, W) float32`` for
        :func:`~keras_seg.training.data.segmentation_dataset`.

    Raises:
        InputError: ``root/instances`` does not exist.

    Example:
        >>> weight_map = instance_weight_map("data/train", 2)  # doctest: +SKIP
    """
    from pathlib import Path

    from keras_seg.errors import InputError, ParameterError
    from keras_seg.training.data import IMAGE_SUFFIXES, read_mask

    if w0 < 0 or sigma <= 0:
        raise ParameterError("{unet_weights} needs W0 >= 0 and SIGMA > 0, got {w0} {sigma}",
                             w0=w0, sigma=sigma)
    folder = Path(root) / "instances"
    if not folder.is_dir():
        raise InputError(f"{folder}: no such folder; U-Net weight maps need instance masks "
                         "(0 for background, one id per cell) with the masks' names")
    found = {p.stem: p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES}

    def weight_map(image_path, mask_path, mask):
        stem = Path(mask_path).stem
        if stem not in found:
            raise ValueError(f"{folder / stem}.png: no instance mask for {mask_path}")
        instances = read_mask(found[stem])
        if instances.shape != mask.shape:
            raise ValueError(f"{found[stem]}: instance mask is {instances.shape[1]}x"
                             f"{instances.shape[0]}, the mask {mask.shape[1]}x{mask.shape[0]}")
        return unet_weight_map(instances, mask, num_classes, w0, sigma, ignore_label)

    return weight_map
