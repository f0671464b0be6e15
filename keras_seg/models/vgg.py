"""The VGG16 trunk (Simonyan & Zisserman 2015) as the Caffe segmentation networks use it.

FCN and DilatedNet both start from VGG16 with fc6/fc7 turned into convolutions; they differ
in padding, in which blocks end with pooling and in dilation. Layer names are VGG's.
"""

import keras

from keras_seg.models.caffe_ops import conv_relu, pool

#: VGG16 convolution blocks: (width, number of 3x3 convolutions).
VGG16_BLOCKS = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))
FC_WIDTH = 4096
#: The five block widths and the fc width; tests pass narrower ones.
DEFAULT_WIDTHS = (*(width for width, _ in VGG16_BLOCKS), FC_WIDTH)


def vgg16_trunk(data, widths=DEFAULT_WIDTHS, *, first_pad, pad, pooled_blocks,
                block_dilations=(1, 1, 1, 1, 1), fc6_dilation=1, dropout=0.5):
    """conv1_1 ... conv5_3 (with ReLUs and pooling), fc6/relu6/drop6, fc7/relu7/drop7.

    Args:
        data: input tensor.
        widths: five block widths and the fc width.
        first_pad: padding of conv1_1 (FCN: 100).
        pad: padding of the other 3x3 convolutions (FCN: 1, DilatedNet: 0).
        pooled_blocks: blocks followed by ``pool<i>`` (2x2, stride 2, ceil rounding).
        block_dilations: dilation of each block's convolutions.
        fc6_dilation: dilation of the 7x7 fc6.
        dropout: rate of drop6 and drop7.

    Returns:
        A dict of named tensors: ``pool<i>`` for the pooled blocks and ``fc7``.

    Example:
        >>> taps = vgg16_trunk(keras.Input((None, None, 3)), first_pad=100, pad=1,
        ...                    pooled_blocks=(1, 2, 3, 4, 5))
    """
    if len(widths) != 6:
        raise ValueError(f"widths needs 5 block widths and the fc width, got {widths}")
    taps, x = {}, data
    for block, (depth, width, dilation) in enumerate(
        zip((d for _, d in VGG16_BLOCKS), widths, block_dilations), start=1
    ):
        for i in range(1, depth + 1):
            x = conv_relu(x, width, 3, pad=first_pad if (block, i) == (1, 1) else pad * dilation,
                          dilation=dilation, name=f"conv{block}_{i}", relu_name=f"relu{block}_{i}")
        if block in pooled_blocks:
            x = taps[f"pool{block}"] = pool(x, name=f"pool{block}")
    x = conv_relu(x, widths[5], 7, dilation=fc6_dilation, name="fc6", relu_name="relu6")
    x = keras.layers.Dropout(dropout, name="drop6")(x)
    x = conv_relu(x, widths[5], 1, name="fc7", relu_name="relu7")
    taps["fc7"] = keras.layers.Dropout(dropout, name="drop7")(x)
    return taps
