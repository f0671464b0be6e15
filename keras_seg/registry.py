"""Model registry: name -> builder and the metadata of the original release."""

import importlib
from dataclasses import dataclass, field

import numpy as np

from keras_seg import datasets


@dataclass(frozen=True)
class ModelSpec:
    """A registered network: its builder and what the original release fixes.

    Attributes:
        name: registry name.
        builder: ``"module:function"`` under ``keras_seg.models``, imported when built.
        paper: citation.
        num_classes: classes of the released weights.
        classes: their names.
        palette: RGB colour per class (the dataset's), or None for the PASCAL colour map.
        bgr_mean: mean subtracted from BGR 0-255 input (Caffe convention).
        input_format: ``"caffe_bgr"`` (BGR, mean-subtracted, 0-255).
        pipeline: ``"whole"`` (one forward of the whole image) or ``"dilation_tiles"``
            (fyu/dilation's margin, tiles of ``tile_size``, stitching and zoom).
        tile_size: (height, width) of the original deploy input, if it has one.
        label_margin: pixels each side that a tile spends on context (DilatedNet: 186).
        zoom: upsampling of the score map after the network (DilatedNet: 8, or 1).
        geometry: (margin, output stride, alignment) of the network for
            :func:`keras_seg.predict_tiled`: input pixels of context each side that a valid
            network consumes, input pixels per output pixel, and the shift (its total pooling
            factor) that the network is equivariant to.
        defaults: builder arguments of the released model.
    """

    name: str
    builder: str
    paper: str
    num_classes: int
    classes: tuple = ()
    palette_rgb: tuple | None = None
    bgr_mean: tuple = (0.0, 0.0, 0.0)
    input_format: str = "caffe_bgr"
    pipeline: str = "whole"
    tile_size: tuple | None = None
    label_margin: int = 0
    zoom: int = 1
    geometry: tuple = (0, 1, 1)
    defaults: dict = field(default_factory=dict)

    def palette(self):
        """RGB palette (at least num_classes rows) uint8 for label images."""
        if self.palette_rgb is not None:
            return np.asarray(self.palette_rgb, np.uint8)
        return datasets.pascal_palette(max(self.num_classes, 1))


_FCN_PAPER = (
    "Long, Shelhamer & Darrell, Fully Convolutional Networks for Semantic Segmentation, "
    "CVPR 2015"
)
_DILATION_PAPER = (
    "Yu & Koltun, Multi-Scale Context Aggregation by Dilated Convolutions, ICLR 2016"
)
_FCN = [
    ModelSpec(f"fcn{variant}", f"fcn:fcn{variant}", _FCN_PAPER, 21,
              datasets.PASCAL_VOC_CLASSES, bgr_mean=datasets.FCN_BGR_MEAN, geometry=(0, 1, 32))
    for variant in ("32s", "16s", "8s", "8s_atonce")
]
_DILATION = [
    ModelSpec(name, f"dilation:{name}", _DILATION_PAPER, len(classes), classes, palette,
              datasets.DILATION_BGR_MEANS[dataset], pipeline="dilation_tiles",
              tile_size=tile, label_margin=186, zoom=zoom, geometry=(186, zoom, 8))
    for name, dataset, classes, palette, tile, zoom in (
        ("dilation8_pascal_voc", "pascal_voc", datasets.PASCAL_VOC_CLASSES, None, (900, 900), 8),
        ("dilation8_camvid", "camvid", datasets.CAMVID_CLASSES, datasets.CAMVID_PALETTE,
         (900, 1100), 8),
        ("dilation7_kitti", "kitti", datasets.CAMVID_CLASSES, datasets.CAMVID_PALETTE,
         (852, 1640), 8),
        ("dilation10_cityscapes", "cityscapes", datasets.CITYSCAPES_CLASSES,
         datasets.CITYSCAPES_PALETTE, (1396, 1396), 1),
    )
]
_REGISTRY = {spec.name: spec for spec in (*_FCN, *_DILATION)}


def list_models():
    """Sorted names of the registered models.

    Example:
        >>> "fcn8s" in list_models()
        True
    """
    return sorted(_REGISTRY)


def get_spec(name):
    """The :class:`ModelSpec` of ``name``.

    Raises:
        ValueError: unknown name (the message lists the valid ones).
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"unknown model {name!r}; valid names: {', '.join(list_models())}"
        ) from None


def build(name, **overrides):
    """Build a registered model: a Functional ``keras.Model`` giving logits in NHWC.

    Args:
        name: a name from :func:`list_models`.
        **overrides: builder arguments (``num_classes``, ``input_shape``...).

    Returns:
        The model, with the original layer names.

    Example:
        >>> model = build("fcn8s", num_classes=21)
        >>> model.get_layer("conv1_1").kernel.shape
        (3, 3, 3, 64)
    """
    spec = get_spec(name)
    module_name, function = spec.builder.split(":")
    module = importlib.import_module(f"keras_seg.models.{module_name}")
    return getattr(module, function)(**{**spec.defaults, **overrides})
