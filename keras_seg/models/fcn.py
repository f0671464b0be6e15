"""Fully convolutional networks on VGG16 (Long, Shelhamer & Darrell, CVPR 2015 / PAMI 2016).

"Fully Convolutional Networks for Semantic Segmentation", https://arxiv.org/abs/1411.4038.
The builders mirror ``voc-fcn{32s,16s,8s,8s-atonce}`` of shelhamer/fcn.berkeleyvision.org layer
for layer: conv1_1 padded by 100, ceil-mode pooling, fc6/fc7 as convolutions, fixed bilinear
deconvolutions without bias, and the Caffe crop offsets. Input: BGR, mean-subtracted, 0-255,
any size; output: class scores cropped to the input size.
"""

import keras

from keras_seg import dataset_labels
from keras_seg.input_conventions import caffe_bgr
from keras_seg.layers import CaffeCrop, Scale
from keras_seg.models.base import SegmentationModel
from keras_seg.models.caffe_ops import conv, deconv
from keras_seg.models.vgg import DEFAULT_WIDTHS, vgg16_trunk
from keras_seg.published import PublishedScore
from keras_seg.registry import Geometry, WeightsRecord, register_model

PAPER = ("Long, Shelhamer & Darrell, Fully Convolutional Networks for Semantic Segmentation, "
         "CVPR 2015")
#: Mean pixel (B, G, R) of the ILSVRC images, used by FCN's VGG16 (voc_layers.py).
BGR_MEAN = (104.00699, 116.66877, 122.67892)
#: wkentaro/pytorch-fcn's conversions of the Caffe releases: Google Drive id and MD5.
TORCH_RELEASES = {
    "fcn32s": ("11k2Q0bvRQgQbT6-jYWeh6nmAsWlSCY3f", "d3eb467a80e7da0468a20dfcbc13e6c8"),
    "fcn16s": ("1bctu58B6YH9bu6lBBSBB2rUeGlGhYLoP", "a2d4035f669f09483b39c9a14a0d6670"),
    "fcn8s": ("1ieXWyoG68xqoHJPWdyrDyaIaaWlfmUxI", "de93e540ec79512f8770033849c8ae89"),
    "fcn8s_atonce": ("0B9P1L--7Wd2vblE1VUIxV1o2d2M", "bfed4437e941fef58932891217fe6464"),
}

#: Mean IU on seg11valid as shelhamer/fcn.berkeleyvision.org's README prints it per model.
README_SEG11VALID = {"fcn32s": 63.6, "fcn16s": 65.0, "fcn8s": 65.5, "fcn8s_atonce": 65.4}
#: Mean IU of the Caffe originals as wkentaro/pytorch-fcn's README prints it (Accuracy table,
#: rows "Original", pytorch-fcn 1.7.0).
TORCH_README_ORIGINAL = {"fcn32s": 63.63, "fcn16s": 65.01, "fcn8s": 65.51,
                         "fcn8s_atonce": 65.40}
SEG11VALID_NOTE = ("seg11valid: the 736 VOC 2011 val images not in SBD train (the paper's "
                   "footnote 7; the release's data/pascal/seg11valid.txt: copy it into "
                   "ImageSets/Segmentation/ or pass its path to --split)")

#: Crop offsets of each variant (score_pool4c, score_pool3c, score), from the prototxts.
CROP_OFFSETS = {"fcn32s": {"score": 19},
                "fcn16s": {"score_pool4c": 5, "score": 27},
                "fcn8s": {"score_pool4c": 5, "score_pool3c": 9, "score": 31}}
#: Fixed input scaling of FCN-8s at-once (Scale layers, lr_mult 0).
ATONCE_SCALES = {"scale_pool4": 0.01, "scale_pool3": 0.0001}


def _score(x, num_classes, name):
    # FCN zero-initialises its scoring layers (surgery / weight_filler constant 0).
    return conv(x, num_classes, 1, name=name, kernel_initializer="zeros")


def _fuse(coarse, fine, num_classes, *, pool_name, offset, scale=None):
    """score_poolN (optionally after scale_poolN), crop to the coarse map, sum: fuse_poolN."""
    if scale is not None:
        fine = Scale(scale, trainable=False, name=f"scale_{pool_name}")(fine)
    score = _score(fine, num_classes, f"score_{pool_name}")
    score = CaffeCrop(offset, name=f"score_{pool_name}c")([score, coarse])
    return keras.layers.Add(name=f"fuse_{pool_name}")([coarse, score])


def _fcn(variant, num_classes, widths, input_shape, atonce=False, name=None):
    data = keras.Input(input_shape, name="data")
    taps = vgg16_trunk(data, widths, first_pad=100, pad=1, pooled_blocks=(1, 2, 3, 4, 5))
    x = _score(taps["fc7"], num_classes, "score_fr")
    offsets = CROP_OFFSETS[variant]
    if variant == "fcn32s":
        x = deconv(x, num_classes, 64, stride=32, name="upscore", trainable=False)
    else:
        x = deconv(x, num_classes, 4, stride=2, name="upscore2", trainable=False)
        x = _fuse(x, taps["pool4"], num_classes, pool_name="pool4",
                  offset=offsets["score_pool4c"],
                  scale=ATONCE_SCALES["scale_pool4"] if atonce else None)
        if variant == "fcn16s":
            x = deconv(x, num_classes, 32, stride=16, name="upscore16", trainable=False)
        else:
            x = deconv(x, num_classes, 4, stride=2, name="upscore_pool4", trainable=False)
            x = _fuse(x, taps["pool3"], num_classes, pool_name="pool3",
                      offset=offsets["score_pool3c"],
                      scale=ATONCE_SCALES["scale_pool3"] if atonce else None)
            x = deconv(x, num_classes, 16, stride=8, name="upscore8", trainable=False)
    score = CaffeCrop(offsets["score"], name="score")([x, data])
    return SegmentationModel(data, score, name=name or variant)


#: Fine-tuning as the paper (CVPR 2015, sec. 4.3): SGD, momentum 0.9, fixed rate 1e-4 for
#: a per-pixel mean loss (the release's solvers' 1e-10 to 1e-14 are for a summed one),
#: weight decay 5e-4.
RECIPE = {"optimizer": "sgd", "learning_rate": 1e-4, "schedule": "constant",
          "momentum": 0.9, "weight_decay": 5e-4}


def _readme_scores(name):
    """What the release's README prints for ``name``: seg11valid (and FCN-8s's seg12test)."""
    scores = (PublishedScore("PASCAL VOC 2011", "seg11valid", "mean IoU",
                             README_SEG11VALID[name], "shelhamer/fcn.berkeleyvision.org README",
                             layout="voc", note=SEG11VALID_NOTE),)
    if name == "fcn8s":
        scores += (PublishedScore("PASCAL VOC 2012", "test", "mean IoU", 67.2,
                                  "shelhamer/fcn.berkeleyvision.org README (seg12test)",
                                  layout="voc", held_out=True),)
    return scores


def _register(variant, prototxt, file):
    """Register ``fcn<variant>`` with its PASCAL VOC release (shelhamer/fcn.berkeleyvision.org)."""
    name = f"fcn{variant}"
    record = WeightsRecord(
        name=name, model=name, url=f"http://dl.caffe.berkeleyvision.org/{file}", file=file,
        format="caffemodel", rules="caffe",
        license="Caffe's (BSD-2) and the BVLC model license: unrestricted use "
                "(shelhamer/fcn.berkeleyvision.org README)",
        source=f"shelhamer/fcn.berkeleyvision.org {prototxt.split('/')[0]}/caffemodel-url",
        dataset="PASCAL VOC 2011 train + SBD (21 classes)",
        prototxt=f"shelhamer+fcn.berkeleyvision.org/{prototxt}",
        scores=_readme_scores(name))
    drive_id, md5 = TORCH_RELEASES[name]
    torch_file = f"{name.replace('_', '-')}_from_caffe.pth"
    torch_record = WeightsRecord(
        name=f"{name}_torch", model=name, url=f"http://drive.google.com/uc?id={drive_id}",
        file=torch_file, format="pth", rules="torch_fcn", checksum=md5, hash_algorithm="md5",
        license="not stated (weights converted from the Caffe release; the code is MIT)",
        source=f"wkentaro/pytorch-fcn torchfcn/models/{name.split('_')[0]}.py (download)",
        dataset=record.dataset,
        scores=(PublishedScore(
            "PASCAL VOC 2011", "seg11valid", "mean IoU", TORCH_README_ORIGINAL[name],
            "wkentaro/pytorch-fcn README, Accuracy table, row Original", layout="voc",
            note="the Caffe model this file converts, scored by pytorch-fcn 1.7.0; the "
                 "README names no split: pytorch-fcn's VOC2011ClassSeg reads the release's "
                 "seg11valid.txt. " + SEG11VALID_NOTE),))
    return register_model(
        name, paper=PAPER, num_classes=21, input=caffe_bgr(BGR_MEAN),
        classes=dataset_labels.PASCAL_VOC_CLASSES, geometry=Geometry(0, 1, 32),
        weights=(record, torch_record), rules={"pth": "torch_fcn"}, recipe=RECIPE,
        compiler="hybrid")


@_register("32s", "voc-fcn32s/val.prototxt", "fcn32s-heavy-pascal.caffemodel")
def fcn32s(num_classes=21, widths=DEFAULT_WIDTHS, input_shape=(None, None, 3)):
    """FCN-32s: one 32x bilinear upsampling of ``score_fr``, crop 19.

    Args:
        num_classes: output classes (21 for PASCAL VOC; 60 PASCAL-Context, 40 NYUD, 33
            SIFT Flow use the same trunk).
        widths: VGG16 block widths and fc width; reduce only for tests.
        input_shape: (height, width, 3); any height and width by default.

    Returns:
        A Functional ``keras.Model`` from ``data`` (BGR, mean-subtracted) to ``score``.

    Example:
        >>> model = fcn32s(num_classes=21)
        >>> model.output_shape
        (None, None, None, 21)
    """
    return _fcn("fcn32s", num_classes, widths, input_shape)


@_register("16s", "voc-fcn16s/val.prototxt", "fcn16s-heavy-pascal.caffemodel")
def fcn16s(num_classes=21, widths=DEFAULT_WIDTHS, input_shape=(None, None, 3)):
    """FCN-16s: ``score_fr`` upsampled 2x, fused with ``score_pool4``, upsampled 16x.

    Args and return value as :func:`fcn32s`.

    Example:
        >>> model = fcn16s(num_classes=60)
    """
    return _fcn("fcn16s", num_classes, widths, input_shape)


@_register("8s", "voc-fcn8s/deploy.prototxt", "fcn8s-heavy-pascal.caffemodel")
def fcn8s(num_classes=21, widths=DEFAULT_WIDTHS, input_shape=(None, None, 3)):
    """FCN-8s: fuses pool4 and pool3 scores before an 8x upsampling (the staged model).

    Args and return value as :func:`fcn32s`.

    Example:
        >>> model = fcn8s()
    """
    return _fcn("fcn8s", num_classes, widths, input_shape)


@_register("8s_atonce", "voc-fcn8s-atonce/val.prototxt", "fcn8s-atonce-pascal.caffemodel")
def fcn8s_atonce(num_classes=21, widths=DEFAULT_WIDTHS, input_shape=(None, None, 3)):
    """FCN-8s trained at once: pool4 and pool3 scaled by 0.01 and 0.0001 before scoring.

    Args and return value as :func:`fcn32s`.

    Example:
        >>> model = fcn8s_atonce()
    """
    return _fcn("fcn8s", num_classes, widths, input_shape, atonce=True, name="fcn8s_atonce")
