"""Model registry: name -> builder and the metadata of the original release."""

from dataclasses import dataclass, field

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
        bgr_mean: mean subtracted from BGR 0-255 input (Caffe convention), or None.
        input_format: ``"caffe_bgr"`` (BGR, mean-subtracted, 0-255).
        output_stride: input pixels per output pixel of the score map.
        context_margin: pixels each side an output pixel depends on beyond the input crop.
        defaults: builder arguments of the released model.
    """

    name: str
    builder: str
    paper: str
    num_classes: int
    classes: tuple = ()
    bgr_mean: tuple | None = None
    input_format: str = "caffe_bgr"
    output_stride: int = 1
    context_margin: int = 0
    defaults: dict = field(default_factory=dict)

    def palette(self):
        """RGB palette (num_classes, 3) uint8 for label images."""
        return datasets.pascal_palette(max(self.num_classes, 1))


_FCN_PAPER = (
    "Long, Shelhamer & Darrell, Fully Convolutional Networks for Semantic Segmentation, "
    "CVPR 2015"
)
_REGISTRY = {
    spec.name: spec
    for spec in (
        ModelSpec(f"fcn{variant}", f"fcn:fcn{variant}", _FCN_PAPER, 21,
                  datasets.PASCAL_VOC_CLASSES, datasets.FCN_BGR_MEAN)
        for variant in ("32s", "16s", "8s", "8s_atonce")
    )
}


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
    import importlib

    spec = get_spec(name)
    module_name, function = spec.builder.split(":")
    module = importlib.import_module(f"keras_seg.models.{module_name}")
    return getattr(module, function)(**{**spec.defaults, **overrides})
