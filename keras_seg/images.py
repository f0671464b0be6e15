"""Images in and out: ``keras_seg.images``, reading, writing and drawing label maps.

Example:
    >>> from keras_seg.images import overlay, read_image  # doctest: +SKIP
    >>> picture = overlay(read_image("street.jpg"), labels, keras_seg.label_palette(model))
    ... # doctest: +SKIP
"""

from keras_seg.inference.images import (
    as_rgb_uint8,
    overlay,
    read_image,
    with_legend,
    write_image,
    write_labels,
)

__all__ = ["as_rgb_uint8", "overlay", "read_image", "with_legend", "write_image",
           "write_labels"]
