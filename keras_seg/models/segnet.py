"""SegNet and SegNet-Basic, with true pooling-index unpooling (Badrinarayanan et al.).

"SegNet: A Deep Convolutional Encoder-Decoder Architecture for Image Segmentation",
https://arxiv.org/abs/1511.00561, and "Bayesian SegNet" (Kendall, Badrinarayanan & Cipolla),
https://arxiv.org/abs/1511.02680. The builders mirror the inference prototxts of
alexgkendall/SegNet-Tutorial (``Models/*_inference.prototxt``) layer for layer and name for
name: each convolution followed by the fork's ``BN`` layer (``<conv>_bn``, inference mode:
statistics folded into scale and shift), max pooling that keeps its indices
(``pool<i>`` / ``pool<i>_mask``), and ``upsample<i>`` layers that put each value back where
its maximum came from, in a map of the size of the encoder map that was pooled (the
prototxt fixes ``upsample_h``/``upsample_w`` for 360x480 inputs; here they follow the input,
so odd sizes come out right). SegNet-Basic normalises its input with ``LRN`` (``norm``) and
has no ReLU in its decoder. The Bayesian variants add the releases' dropout layers
(``encdrop<i>``, ``decdrop<i>``; rate 0.5), active in training.

Input: BGR, 0-255, no mean subtracted (the releases' ``DenseImageData`` has no transform).
"""

import keras

from keras_seg import dataset_labels
from keras_seg.input_conventions import caffe_bgr
from keras_seg.layers import LRN, CaffeBN, MaxPoolingWithArgmax2D, MaxUnpooling2D
from keras_seg.models.base import SegmentationModel
from keras_seg.models.caffe_ops import conv
from keras_seg.published import NOT_REPORTED, NOT_VERIFIED, PublishedScore
from keras_seg.registry import Geometry, WeightsRecord, register_model

PAPER = ("Badrinarayanan, Kendall & Cipolla, SegNet: A Deep Convolutional Encoder-Decoder "
         "Architecture for Image Segmentation, TPAMI 2017")
BAYESIAN_PAPER = ("Kendall, Badrinarayanan & Cipolla, Bayesian SegNet: Model Uncertainty in "
                  "Deep Convolutional Encoder-Decoder Architectures for Scene Understanding, "
                  "BMVC 2017")
#: VGG16 encoder blocks of SegNet: (width, convolutions).
BLOCKS = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))
#: SegNet-Basic: four 7x7 layers of 64 in the encoder and the decoder.
BASIC_WIDTH, BASIC_DEPTH = 64, 4
#: Blocks after which the Bayesian releases drop out (encoder pools, decoder blocks).
BAYESIAN_ENCODER, BAYESIAN_DECODER = (3, 4, 5), (5, 4, 3)
BAYESIAN_BASIC_ENCODER, BAYESIAN_BASIC_DECODER = (3, 4), (4, 3)
INPUT = caffe_bgr((0.0, 0.0, 0.0), "BGR, 0-255, no mean (SegNet-Tutorial's DenseImageData)")
ZOO = "alexgkendall/SegNet-Tutorial Example_Models/segnet_model_zoo.md"
LICENSE = "CC BY-NC 4.0 (SegNet-Tutorial model zoo): non-commercial use only"


def _conv_bn(x, filters, kernel_size, name, *, relu_name=None):
    """``<name>`` (pad keeps the size), ``<name>_bn``, and the in-place ReLU if named."""
    x = conv(x, filters, kernel_size, pad=kernel_size // 2, name=name)
    x = CaffeBN(name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=relu_name)(x) if relu_name else x


def _dropout(x, name, active):
    return keras.layers.Dropout(0.5, name=name)(x) if active else x


def _pool(x, block):
    pooled, mask = MaxPoolingWithArgmax2D(name=f"pool{block}")(x)
    return pooled, mask


def _segnet(name, num_classes, widths, input_shape, encoder_drop=(), decoder_drop=(),
            variant="inference"):
    data = keras.Input(input_shape, name="data")
    x, pooled = data, []
    for block, ((_, depth), width) in enumerate(zip(BLOCKS, widths), start=1):
        for i in range(1, depth + 1):
            x = _conv_bn(x, width, 3, f"conv{block}_{i}", relu_name=f"relu{block}_{i}")
        x = _dropout(x, f"pool{block}_drop", variant == "pascal")
        encoder_map = x
        x, mask = _pool(x, block)
        pooled.append((encoder_map, mask))
        drop_name = f"pool{block}_drop" if variant == "camvid" else f"encdrop{block}"
        x = _dropout(x, drop_name, block in encoder_drop and variant != "pascal")
    for block in range(len(BLOCKS), 0, -1):
        encoder_map, mask = pooled[block - 1]
        x = _dropout(x, f"upsample{block}_drop", variant == "pascal")
        x = MaxUnpooling2D(name=f"upsample{block}")([x, mask, encoder_map])
        depth = BLOCKS[block - 1][1]
        for i in range(depth, 0, -1):
            conv_name = f"conv{block}_{i}_D"
            if block == 1 and i == 1 and variant != "camvid":
                x = conv(x, num_classes, 3, pad=1, name=conv_name)  # the scores: no BN, ReLU
                break
            width = widths[block - 1] if i > 1 or block == 1 else widths[block - 2]
            x = _conv_bn(x, width, 3, conv_name, relu_name=f"relu{block}_{i}_D")
        drop_name = f"upsample{block - 1}_drop" if variant == "camvid" else f"decdrop{block}"
        x = _dropout(x, drop_name, block in decoder_drop and variant != "pascal")
    if variant == "camvid":  # the published CamVid file: one more 3x3 layer, the scores
        x = conv(x, num_classes, 3, pad=1, name="camvid")
    return SegmentationModel(data, x, name=name)


def _segnet_basic(name, num_classes, width, input_shape, encoder_drop=(), decoder_drop=(),
                  classifier="conv_classifier"):
    data = keras.Input(input_shape, name="data")
    x = LRN(local_size=5, alpha=1e-4, beta=0.75, name="norm")(data)
    pooled = []
    for block in range(1, BASIC_DEPTH + 1):
        x = _conv_bn(x, width, 7, f"conv{block}", relu_name=f"relu{block}")
        encoder_map = x
        x, mask = _pool(x, block)
        pooled.append((encoder_map, mask))
        x = _dropout(x, f"encdrop{block}", block in encoder_drop)
    for block in range(BASIC_DEPTH, 0, -1):
        encoder_map, mask = pooled[block - 1]
        x = MaxUnpooling2D(name=f"upsample{block}")([x, mask, encoder_map])
        x = _conv_bn(x, width, 7, f"conv_decode{block}")  # the decoder has no ReLU
        x = _dropout(x, f"decdrop{block}", block in decoder_drop)
    x = conv(x, num_classes, 1, name=classifier)
    return SegmentationModel(data, x, name=name)


#: SegNet-Tutorial's CamVid training: the void label and the class weighting of the loss
#: (Models/segnet_train.prototxt), in SegNet's class order.
CAMVID_IGNORE_LABEL = 11
CAMVID_CLASS_WEIGHTS = (0.2595, 0.1826, 4.5640, 0.1417, 0.9051, 0.3826, 9.6446, 1.8418,
                        0.6823, 6.2478, 7.3614)

#: Where the Bayesian SegNet figures are printed, and how they were checked here.
BAYESIAN_CITED = "Kendall et al., Bayesian SegNet, BMVC 2017 (arXiv:1511.02680)"
BAYESIAN_CHECKED = ("the paper's table could not be opened here: the figure is the paper's "
                    "as paperswithcode's listing gives it; Monte Carlo dropout (the paper "
                    "averages 50 samples; keras-seg evaluate runs the network once, as dropout "
                    "at inference: pass mc_samples to keras_seg.predict for the paper's); the "
                    "model zoo prints no score and does not say this file is the paper's "
                    "network")
#: SegNet-Basic's CamVid figures exist (SegNet, TPAMI 2017; the SegNet tutorial page) but
#: their tables could not be read here.
BASIC_UNVERIFIED = PublishedScore(
    "CamVid", "test", "mean IoU", None,
    f"{NOT_VERIFIED}: SegNet (TPAMI 2017) and the SegNet tutorial page print SegNet-Basic "
    "CamVid scores; their tables could not be read here", layout="camvid")
SCORES = {
    "bayesian_segnet_camvid": (
        PublishedScore("CamVid", "test", "mean IoU", 63.1, f"{BAYESIAN_CITED}, CamVid results",
                       layout="camvid", note=BAYESIAN_CHECKED),
        PublishedScore("CamVid", "test", "pixel accuracy", 86.9,
                       f"{BAYESIAN_CITED}, CamVid results (global accuracy)", layout="camvid",
                       note=BAYESIAN_CHECKED)),
    "segnet_sun": (
        PublishedScore("SUN RGB-D", "test", "mean IoU", 30.7,
                       f"{BAYESIAN_CITED}, SUN RGB-D results (Bayesian SegNet)",
                       layout="folder", ignore_label=0,
                       note="37 classes scored, label 0 (unlabelled) left out; "
                            + BAYESIAN_CHECKED),),
    "segnet_pascal": (
        PublishedScore("PASCAL VOC 2012", "test", "mean IoU", 60.5,
                       f"{BAYESIAN_CITED}, PASCAL VOC 2012 test (Bayesian SegNet)",
                       layout="voc", held_out=True, note=BAYESIAN_CHECKED),),
    "segnet_driving_webdemo": (
        PublishedScore("road scenes, 12 classes", "none", "mean IoU", None, NOT_REPORTED,
                       note="the model zoo gives the file without a score; it was trained on "
                            "data that is not public (alexgkendall/SegNet-Tutorial issue 1)"),),
    "segnet_basic_camvid": (BASIC_UNVERIFIED,),
    "bayesian_segnet_basic_camvid": (BASIC_UNVERIFIED,),
}


def _record(name, model, *, file=None, prototxt=None, builder_args=None, camvid=True,
            dataset="CamVid, SegNet's 11 classes (367 training images, 360x480)", **facts):
    file = file or f"{name}.caffemodel"
    return WeightsRecord(
        name=name, model=model, url=f"http://mi.eng.cam.ac.uk/~agk34/resources/SegNet/{file}",
        file=file, format="caffemodel", rules="caffe", license=LICENSE, source=ZOO,
        dataset=dataset,
        prototxt=f"alexgkendall+SegNet-Tutorial/Example_Models/{prototxt or name}.prototxt",
        builder_args=builder_args or {"variant": "camvid"},
        ignore_label=CAMVID_IGNORE_LABEL if camvid else facts.pop("ignore_label", None),
        class_weights=CAMVID_CLASS_WEIGHTS if camvid else None, scores=SCORES[name], **facts)


#: The driving web demo (12 road classes, the plain SegNet layout) and SUN RGB-D (38 indoor
#: classes, the Bayesian layout of Models/bayesian_segnet_inference.prototxt).
_WEBDEMO = _record("segnet_driving_webdemo", "segnet",
                   file="segnet_weights_driving_webdemo.caffemodel",
                   prototxt="segnet_model_driving_webdemo", builder_args={"num_classes": 12},
                   camvid=False,
                   dataset="road scenes, 12 classes (SegNet's CamVid classes and road marking)",
                   classes=dataset_labels.SEGNET_DRIVING_CLASSES,
                   palette_rgb=dataset_labels.SEGNET_DRIVING_PALETTE)
_SUN = _record("segnet_sun", "bayesian_segnet", builder_args={"num_classes": 38},
               camvid=False, dataset="SUN RGB-D, 38 indoor classes (360x480)",
               classes=dataset_labels.SUN_RGBD_CLASSES, ignore_label=0)
#: PASCAL VOC: the "dropout enc-dec" layout (dropout before every pooling and unpooling),
#: designed for 224x224 inputs.
_PASCAL = _record("segnet_pascal", "bayesian_segnet", prototxt="segnet_pascal",
                  builder_args={"num_classes": 21, "variant": "pascal"}, camvid=False,
                  dataset="PASCAL VOC 2012, 21 classes (224x224)",
                  classes=dataset_labels.PASCAL_VOC_CLASSES)


_CAMVID = {"num_classes": 11, "classes": dataset_labels.SEGNET_CAMVID_CLASSES,
           "palette_rgb": dataset_labels.SEGNET_CAMVID_PALETTE, "input": INPUT}
_VGG_WIDTHS = tuple(width for width, _ in BLOCKS)


#: Fine-tuning from VGG16 as SegNet-Tutorial's segnet_solver.prototxt: SGD, fixed 1e-3,
#: momentum 0.9, weight decay 5e-4 (SegNet-Basic trains from scratch at 0.1: the generic
#: fine-tuning recipe serves it).
RECIPE = {"optimizer": "sgd", "learning_rate": 1e-3, "schedule": "constant", "momentum": 0.9,
          "weight_decay": 5e-4}


@register_model(paper=PAPER, geometry=Geometry(0, 1, 32), weights=(_WEBDEMO,), recipe=RECIPE,
                compiler="xla", **_CAMVID)
def segnet(num_classes=11, widths=_VGG_WIDTHS, input_shape=(None, None, 3)):
    """SegNet: the VGG16 encoder and its mirrored decoder, unpooling with pooling indices.

    No CamVid weights of this plain model were published (the releases give SegNet-Basic
    and the Bayesian variants); its published file is the driving web demo's (12 classes),
    and it loads any caffemodel of ``segnet_inference.prototxt``.

    Args:
        num_classes: classes of ``conv1_1_D`` (11 for CamVid).
        widths: the five block widths (narrower only for tests).
        input_shape: (height, width, 3); any size.

    Returns:
        A Functional ``keras.Model`` from ``data`` to ``conv1_1_D``, the input's size.

    Example:
        >>> model = segnet()
        >>> model.compute_output_shape((1, 360, 480, 3))
        (1, 360, 480, 11)
    """
    return _segnet("segnet", num_classes, widths, input_shape)


@register_model(paper=BAYESIAN_PAPER, geometry=Geometry(0, 1, 32),
                weights=(_record("bayesian_segnet_camvid", "bayesian_segnet"), _SUN, _PASCAL),
                recipe=RECIPE, compiler="xla", **_CAMVID)
def bayesian_segnet(num_classes=11, widths=_VGG_WIDTHS, input_shape=(None, None, 3),
                    variant="inference"):
    """Bayesian SegNet: SegNet with dropout after pools 3-5 and decoder blocks 5-3.

    Args:
        num_classes: classes of the score layer (11 for CamVid).
        widths: the five block widths (narrower only for tests).
        input_shape: (height, width, 3); any size.
        variant: ``"inference"`` (``Models/bayesian_segnet_inference.prototxt``: scores from
            ``conv1_1_D``, dropout ``encdrop<i>``/``decdrop<i>``) or ``"camvid"`` (the layout
            of the published CamVid file, ``Example_Models/bayesian_segnet_camvid.prototxt``:
            ``conv1_1_D`` 64 wide with BN and ReLU, scores from ``camvid``, dropout
            ``pool<i>_drop``/``upsample<i>_drop``), or ``"pascal"`` (the PASCAL VOC file's
            "dropout enc-dec" layout, ``Example_Models/segnet_pascal.prototxt``: dropout
            before every pooling and every unpooling, scores from ``conv1_1_D``).

    Returns:
        A Functional ``keras.Model``, scores at the input's size.

    Example:
        >>> model = bayesian_segnet(variant="camvid")
        >>> model.get_layer("camvid").filters
        11
    """
    _check_variant(variant, ("inference", "camvid", "pascal"))
    return _segnet("bayesian_segnet", num_classes, widths, input_shape,
                   BAYESIAN_ENCODER, BAYESIAN_DECODER, variant)


@register_model(paper=PAPER, geometry=Geometry(0, 1, 16),
                weights=(_record("segnet_basic_camvid", "segnet_basic"),), **_CAMVID)
def segnet_basic(num_classes=11, width=BASIC_WIDTH, input_shape=(None, None, 3),
                 variant="inference"):
    """SegNet-Basic: LRN, four 7x7 encoder layers with BN, ReLU and pooling; four decoders.

    Args:
        num_classes: classes of ``conv_classifier`` (11 for CamVid).
        width: width of every layer (64; narrower only for tests).
        input_shape: (height, width, 3); any size.
        variant: ``"inference"`` (``Models/segnet_basic_inference.prototxt``: scores
            ``conv_classifier``) or ``"camvid"`` (the published CamVid file's layout,
            ``Example_Models/segnet_basic_camvid.prototxt``: ``dense_softmax_inner_prod``).

    Returns:
        A Functional ``keras.Model`` from ``data`` to the scores.

    Example:
        >>> model = segnet_basic()
        >>> model.compute_output_shape((1, 360, 480, 3))
        (1, 360, 480, 11)
    """
    _check_variant(variant)
    classifier = "dense_softmax_inner_prod" if variant == "camvid" else "conv_classifier"
    return _segnet_basic("segnet_basic", num_classes, width, input_shape,
                         classifier=classifier)


@register_model(paper=BAYESIAN_PAPER, geometry=Geometry(0, 1, 16),
                weights=(_record("bayesian_segnet_basic_camvid", "bayesian_segnet_basic"),),
                **_CAMVID)
def bayesian_segnet_basic(num_classes=11, width=BASIC_WIDTH, input_shape=(None, None, 3),
                          variant="inference"):
    """Bayesian SegNet-Basic: dropout after pools 3-4 and decoders 4-3, its own classifier name.

    Args and return value as :func:`segnet_basic` (both variants have this layout).

    Example:
        >>> model = bayesian_segnet_basic()
    """
    _check_variant(variant)
    return _segnet_basic("bayesian_segnet_basic", num_classes, width, input_shape,
                         BAYESIAN_BASIC_ENCODER, BAYESIAN_BASIC_DECODER,
                         classifier="dense_softmax_inner_prod")


def _check_variant(variant, allowed=("inference", "camvid")):
    if variant not in allowed:
        raise ValueError(f"variant must be one of {', '.join(allowed)}, got {variant!r}")
