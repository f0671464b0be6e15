"""Adversaries for adversarial training of a segmenter (Luc, Couprie, Chintala & Verbeek 2016).

"Semantic Segmentation using Adversarial Networks", https://arxiv.org/abs/1611.08408. An
adversary sees a label map (ground truth or the segmenter's probabilities, possibly combined
with the image) and says whether it came from the ground truth: two logits per image.

Where each layout comes from:

- ``stanford_background_adversary``: the paper's description for the Stanford Background
  experiments: a label branch (5x5 convolution, C -> 64) and an image branch (5x5, 3 -> 16,
  5x5, 16 -> 64), concatenated, then 3x3 convolutions of 128, 256, 512 and 2 channels with
  2x2 max pooling after the first two; ReLU after every convolution but the last; the
  2-channel map averaged over space (our choice: the paper gives one decision per image).
- ``large_fov_light`` and ``small_fov``: the PASCAL VOC adversaries as re-implemented in
  Chainer by oyam/Semantic-Segmentation-using-Adversarial-Networks (its 1x1 convolutions pad
  by one pixel; here they do not pad, which only changes the border of the averaged map).
- ``large_fov`` and ``small_fov_light``: not in that re-implementation; built by analogy
  (LargeFOV: the light layout with SmallFOV's widths 256 and 512; SmallFOV-light: SmallFOV's
  layout with the light widths 128 and 256). The table is a parameter of
  :func:`fov_adversary`, so the paper's exact lists can replace these once known.
"""

import keras

from keras_seg.choices import ADVERSARY_MODELS

#: (kernel, filters) per convolution, "pool" for 2x2 max pooling; the last gives 2 logits.
FOV_LAYOUTS = {
    "large_fov": ((3, 96), (3, 128), (3, 128), "pool", (3, 256), (3, 256), "pool",
                  (3, 512), (3, 2)),
    "large_fov_light": ((3, 96), (3, 128), (3, 128), "pool", (3, 128), (3, 128), "pool",
                        (3, 256), (3, 2)),
    "small_fov": ((3, 96), (1, 128), "pool", (3, 256), (1, 256), "pool", (3, 512), (1, 2)),
    "small_fov_light": ((3, 96), (1, 128), "pool", (3, 128), (1, 128), "pool", (3, 256),
                        (1, 2)),
}


def fov_adversary(input_channels, layout="large_fov_light", name=None):
    """A PASCAL VOC adversary: a stack of convolutions and poolings, averaged to 2 logits.

    Args:
        input_channels: channels of its input (C for Basic and Scaling, 3C for Product).
        layout: a name of :data:`FOV_LAYOUTS`, or such a table.
        name: model name.

    Returns:
        A Functional ``keras.Model`` from an (H, W, input_channels) map to (2,) logits.

    Example:
        >>> adversary = fov_adversary(21 * 3, "small_fov")
        >>> adversary.output_shape
        (None, 2)
    """
    table = FOV_LAYOUTS[layout] if isinstance(layout, str) else layout
    name = name or (layout if isinstance(layout, str) else "fov_adversary")
    maps = keras.Input((None, None, input_channels), name="label_maps")
    x, convs = maps, [item for item in table if item != "pool"]
    index = 0
    for item in table:
        if item == "pool":
            x = keras.layers.MaxPooling2D(2, name=f"pool{index}")(x)
            continue
        kernel, filters = item
        index += 1
        last = index == len(convs)
        x = keras.layers.Conv2D(filters, kernel, padding="same", name=f"conv{index}",
                                activation=None if last else "relu")(x)
    logits = keras.layers.GlobalAveragePooling2D(name="average")(x)
    return keras.Model(maps, logits, name=name)


def stanford_background_adversary(num_classes, name="stanford_background_adversary"):
    """The Stanford Background adversary: label and image branches, then a conv stack.

    Args:
        num_classes: C, channels of the label map.
        name: model name.

    Returns:
        A Functional ``keras.Model`` from ``[label map (H, W, C), image (H, W, 3)]`` to (2,)
        logits.

    Example:
        >>> adversary = stanford_background_adversary(8)
        >>> adversary.output_shape
        (None, 2)
    """
    labels = keras.Input((None, None, num_classes), name="label_maps")
    image = keras.Input((None, None, 3), name="image")
    a = keras.layers.Conv2D(64, 5, padding="same", activation="relu", name="label_conv")(labels)
    b = keras.layers.Conv2D(16, 5, padding="same", activation="relu", name="image_conv1")(image)
    b = keras.layers.Conv2D(64, 5, padding="same", activation="relu", name="image_conv2")(b)
    x = keras.layers.Concatenate(name="concat")([a, b])
    x = keras.layers.Conv2D(128, 3, padding="same", activation="relu", name="conv1")(x)
    x = keras.layers.MaxPooling2D(2, name="pool1")(x)
    x = keras.layers.Conv2D(256, 3, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.MaxPooling2D(2, name="pool2")(x)
    x = keras.layers.Conv2D(512, 3, padding="same", activation="relu", name="conv3")(x)
    x = keras.layers.Conv2D(2, 3, padding="same", name="conv4")(x)
    logits = keras.layers.GlobalAveragePooling2D(name="average")(x)
    return keras.Model([labels, image], logits, name=name)


#: Every adversary: the list is kept in :mod:`keras_seg.choices` (read before
#: Keras loads); a test checks that it names exactly these builders.
ADVERSARIES = ADVERSARY_MODELS


def build_adversary(name, num_classes, input_kind="basic"):
    """An adversary by name for a segmenter of ``num_classes`` and an input kind.

    Args:
        name: ``"stanford_background"`` or a name of :data:`FOV_LAYOUTS`.
        num_classes: the segmenter's classes.
        input_kind: ``"basic"``, ``"product"`` or ``"scaling"`` (Product has 3C channels).

    Example:
        >>> build_adversary("small_fov", 4, "product").input_shape
        (None, None, None, 12)
    """
    from keras_seg.errors import InputError

    if name == "stanford_background":
        return stanford_background_adversary(num_classes)
    if name not in FOV_LAYOUTS:
        raise InputError(f"unknown adversary {name!r}; valid: {', '.join(ADVERSARIES)}")
    channels = 3 * num_classes if input_kind == "product" else num_classes
    return fov_adversary(channels, name)
