"""U-Net as released by its authors (Ronneberger, Fischer & Brox, MICCAI 2015).

"U-Net: Convolutional Networks for Biomedical Image Segmentation",
https://arxiv.org/abs/1505.04597. The builder mirrors the Caffe network of the authors'
release (``phseg_v5`` in ``u-net-release-2015-10-02``), not the padded, batch-normalised
variants most ports use: one input channel; unpadded 3x3 convolutions, each with a ReLU; 2x2
max pooling; 2x2 stride-2 up-convolutions with bias, each with a ReLU; the skip maps
centre-cropped (offsets 4, 16, 40, 88 at every valid size) and concatenated after the
up-convolved maps; dropout 0.5 after the two deepest levels; a 1x1 score layer. Widths
64-128-256-512-1024, the last up-convolution 128 wide (the release's, where the paper's
figure shows 64): 31,100,354 parameters with 2 classes.

Layer names are the release's (``conv_d0a-b`` ... ``conv_u0d-score``; pooling
``pool_d0c-1a``..., crops ``crop_d3c-d3cc``..., concatenations ``concat_d3cc_u3a-b``...,
ReLUs ``relu_d0b``...), as transcribed from the release by its users (the Caffe prototxt
itself ships inside the release archive, which was not available here).

The network sees 92 pixels of context on each side: a valid input has 16k + 60 pixels per
axis (at least 188) and gives 184 pixels less (572 -> 388). Images of any size are segmented
by the overlap-tile strategy of the paper: mirror padding and tiles of a valid size
(:func:`keras_seg.predict` does this; see ``Geometry`` below).
"""

import keras

from keras_seg.input_conventions import InputConvention
from keras_seg.layers import CaffeCrop, PadTo, ValidSize, sizes
from keras_seg.models.base import SegmentationModel
from keras_seg.models.caffe_ops import conv, conv_relu, deconv, pool
from keras_seg.published import PublishedScore
from keras_seg.registry import Geometry, WeightsRecord, register_model

#: Fine-tuning with the paper's momentum 0.99 (sec. 3); its learning rate is not published:
#: 1e-4 gives the generic recipe's step size, 1e-3 / (1 - 0.9) = 1e-4 / (1 - 0.99).
RECIPE = {"optimizer": "sgd", "learning_rate": 1e-4, "schedule": "constant", "momentum": 0.99}
PAPER = ("Ronneberger, Fischer & Brox, U-Net: Convolutional Networks for Biomedical Image "
         "Segmentation, MICCAI 2015")
#: Widths of the five levels; the last up-convolution's width.
WIDTHS = (64, 128, 256, 512, 1024)
LAST_UPCONV = 128
#: Input pixels of context each side, and the size rule of a valid input.
MARGIN, ALIGNMENT, OFFSET, SMALLEST = 92, 16, 60, 188


def valid_sizes_near(size):
    """The valid input sizes just below and above ``size`` (16k + 60, at least 188).

    Example:
        >>> valid_sizes_near(500)
        (492, 508)
    """
    return sizes.valid_sizes_near(size, ALIGNMENT, OFFSET, SMALLEST)


def _level(x, width, level, *, dropout=False):
    """conv_d<l>a-b, conv_d<l>b-c with their ReLUs (and dropout_d<l>c)."""
    x = conv_relu(x, width, 3, name=f"conv_d{level}a-b", relu_name=f"relu_d{level}b")
    x = conv_relu(x, width, 3, name=f"conv_d{level}b-c", relu_name=f"relu_d{level}c")
    if dropout:
        x = keras.layers.Dropout(0.5, name=f"dropout_d{level}c")(x)
    return x


def _up(x, skip, width, upconv_width, *, source, level, offset):
    """upconv_<source>_u<l>a + ReLU, crop of the skip, concat, conv_u<l>b-c, conv_u<l>c-d."""
    x = deconv(x, upconv_width, 2, stride=2, use_bias=True, name=f"upconv_{source}_u{level}a",
               kernel_initializer="glorot_uniform")
    x = keras.layers.ReLU(name=f"relu_u{level}a")(x)
    skip = CaffeCrop(offset, name=f"crop_d{level}c-d{level}cc")([skip, x])
    x = keras.layers.Concatenate(name=f"concat_d{level}cc_u{level}a-b")([x, skip])
    x = conv_relu(x, width, 3, name=f"conv_u{level}b-c", relu_name=f"relu_u{level}c")
    return conv_relu(x, width, 3, name=f"conv_u{level}c-d", relu_name=f"relu_u{level}d")


@register_model(
    paper=PAPER, num_classes=2, classes=("background", "cell"),
    input=InputConvention(channels=1, colour_order="gray", scale=1 / 255, mean=(0.0,),
                          std=(1.0,),
                          description="one channel, scaled to [0, 1]; not checked against "
                                      "the release's Matlab wrapper (unavailable here)"),
    pipeline="overlap_tile", tile_size=(572, 572), recipe=RECIPE, compiler="hybrid",
    geometry=Geometry(MARGIN, 1, ALIGNMENT), size_rule=(ALIGNMENT, OFFSET, SMALLEST),
    weights=(WeightsRecord(
        name="unet", model="unet",
        url="https://lmb.informatik.uni-freiburg.de/people/ronneber/u-net/"
            "u-net-release-2015-10-02.tar.gz",
        file="u-net-release-2015-10-02.tar.gz", format="caffemodel", rules="caffe",
        license="not stated in the release",
        source="the authors' U-Net page (the archive holds phseg_v5.caffemodel)",
        dataset="ISBI cell tracking challenge 2015, PhC-C2DH-U373 (2 classes)",
        member="phseg_v5.caffemodel",
        scores=(PublishedScore(
            "ISBI cell tracking challenge 2015, PhC-U373", "test (challenge)", "foreground IoU",
            92.03, "Ronneberger et al., MICCAI 2015 (arXiv:1505.04597), Table 2",
            layout="folder", ignore_label=None, held_out=True,
            note="IoU 0.9203 of the paper's PhC-U373 entry (DIC-HeLa: 0.7756); the release "
                 "does not say phseg_v5 is that network; the paper's other figures (warping, "
                 "Rand and pixel error) are for the ISBI 2012 EM challenge, not this file"),)),),
)
def unet(num_classes=2, widths=WIDTHS, last_upconv=LAST_UPCONV, input_shape=(None, None, 1)):
    """The original U-Net: valid convolutions, cropped skips, 572 -> 388.

    Args:
        num_classes: classes of ``conv_u0d-score`` (2 in the release).
        widths: the five level widths (narrower only for tests).
        last_upconv: width of ``upconv_u1d_u0a`` (128 in the release).
        input_shape: (height, width, channels); sizes 16k + 60 (at least 188).

    Returns:
        A Functional ``keras.Model`` from ``data`` to ``conv_u0d-score``, 184 pixels smaller.

    Example:
        >>> model = unet()
        >>> model.compute_output_shape((1, 572, 572, 1))
        (1, 388, 388, 2)
    """
    data = keras.Input(input_shape, name="data")
    x = ValidSize(ALIGNMENT, OFFSET, SMALLEST, name="data_size")(data)
    skips = []
    for level, width in enumerate(widths[:4]):
        x = _level(x, width, level, dropout=level == 3)
        skips.append(x)
        x = pool(x, name=f"pool_d{level}c-{level + 1}a")
    x = _level(x, widths[4], 4, dropout=True)
    sources = ("d4c", "u3d", "u2d", "u1d")
    for level, source, offset in zip((3, 2, 1, 0), sources, (4, 16, 40, 88)):
        upconv_width = last_upconv if level == 0 else widths[level]
        x = _up(x, skips[level], widths[level], upconv_width, source=source, level=level,
                offset=offset)
    score = conv(x, num_classes, 1, name="conv_u0d-score")
    return SegmentationModel(data, score, name="unet")


PADDED_SOURCE = "milesial/Pytorch-UNet (unet/unet_model.py, unet_parts.py; bilinear=False)"


def _double_conv(x, width, name):
    """``<name>.double_conv.{0..5}``: (3x3 conv without bias, batch norm, ReLU) twice."""
    for i in (0, 3):
        x = keras.layers.Conv2D(width, 3, padding="same", use_bias=False,
                                name=f"{name}.double_conv.{i}")(x)
        x = keras.layers.BatchNormalization(epsilon=1e-5, momentum=0.9,
                                            name=f"{name}.double_conv.{i + 1}")(x)
        x = keras.layers.ReLU(name=f"{name}.double_conv.{i + 2}")(x)
    return x


@register_model(
    paper=PAPER, num_classes=2, classes=("background", "foreground"),
    input=InputConvention(scale=1 / 255, description="RGB / 255 (milesial/Pytorch-UNet)"),
    geometry=Geometry(0, 1, 16), rules={"pth": "torch_names"},
)
def unet_padded(num_classes=2, widths=WIDTHS, input_shape=(None, None, 3)):
    """The U-Net most PyTorch code uses: padded convolutions with batch norm, any size.

    The layout and module names of milesial/Pytorch-UNet (``bilinear=False``), so its state
    dicts load through the PyTorch-name rules: ``inc``, ``down1``...``down4`` (max pooling,
    then two 3x3 convolutions without bias, each with batch norm and ReLU), ``up1``...``up4``
    (a 2x2 stride-2 transposed convolution halving the channels, zero padding to the skip
    where pooling dropped an odd row or column, concatenation [skip, up-sampled], two
    convolutions), ``outc.conv`` (1x1). The output has the input's size.

    Args:
        num_classes: classes of ``outc.conv``.
        widths: the five level widths, each twice the one before (the up-convolutions
            halve the channels to match the skips); narrower only for tests.
        input_shape: (height, width, channels); any size of at least 16.

    Returns:
        A Functional ``keras.Model`` from ``data`` to ``outc.conv``.

    Example:
        >>> model = unet_padded(num_classes=2)
        >>> model.compute_output_shape((1, 101, 75, 3))
        (1, 101, 75, 2)
    """
    data = keras.Input(input_shape, name="data")
    x = _double_conv(data, widths[0], "inc")
    skips = [x]
    for level in range(1, 5):
        x = keras.layers.MaxPooling2D(2, name=f"down{level}.maxpool_conv.0")(x)
        x = _double_conv(x, widths[level], f"down{level}.maxpool_conv.1")
        skips.append(x)
    for level in range(1, 5):
        skip = skips[4 - level]
        x = keras.layers.Conv2DTranspose(widths[5 - level] // 2, 2, strides=2,
                                         name=f"up{level}.up")(x)
        x = PadTo(name=f"up{level}.pad")([x, skip])
        x = keras.layers.Concatenate(name=f"up{level}.cat")([skip, x])
        x = _double_conv(x, widths[4 - level], f"up{level}.conv")
    scores = keras.layers.Conv2D(num_classes, 1, name="outc.conv")(x)
    return SegmentationModel(data, scores, name="unet_padded")
