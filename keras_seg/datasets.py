"""Class names and colour palettes of the datasets the released models were trained on."""

import numpy as np

PASCAL_VOC_CLASSES = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat",
    "chair", "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant",
    "sheep", "sofa", "train", "tvmonitor",
)

#: Mean pixel (B, G, R) of the ILSVRC images, used by FCN's VGG16 (voc_layers.py).
FCN_BGR_MEAN = (104.00699, 116.66877, 122.67892)


def pascal_palette(num_classes=256):
    """The PASCAL VOC colour map: class bits spread over the high bits of R, G and B.

    Args:
        num_classes: how many colours.

    Returns:
        A (num_classes, 3) uint8 RGB array.

    Example:
        >>> pascal_palette(3).tolist()
        [[0, 0, 0], [128, 0, 0], [0, 128, 0]]
    """
    labels = np.arange(num_classes)
    palette = np.zeros((num_classes, 3), np.uint8)
    for shift in range(8):
        for channel in range(3):
            bit = (labels >> (3 * shift + channel)) & 1
            palette[:, channel] |= (bit << (7 - shift)).astype(np.uint8)
    return palette
