"""The model registry: family modules register their networks here, with their metadata.

A family module (``keras_seg/models/fcn.py``...) declares each network beside its builder
with :func:`register_model`, as timm's ``@register_model`` with its ``pretrained_cfg`` and
torchvision's ``Weights`` records do: paper, classes, palette, input convention, prediction
pipeline, geometry and the published weights (:class:`WeightsRecord`). Importing
``keras_seg.models`` imports every family, so the registry is complete without string
imports; this module itself imports no Keras until a model is looked up.
"""

import importlib
import inspect
from dataclasses import dataclass, field, replace

import numpy as np

from keras_seg import dataset_labels
from keras_seg.errors import InputError
from keras_seg.input_conventions import InputConvention


@dataclass(frozen=True)
class WeightsRecord:
    """One published weights file and how to convert it.

    Attributes:
        name: the record's own name (``keras-seg weights fetch NAME``).
        model: the registered model it fills.
        url: where the original release publishes it (tried first).
        file: the file name of the download.
        format: source format: ``"caffemodel"``, ``"pth"`` or ``"npz"``.
        rules: the conversion rules (a module of ``keras_seg.convert``) that place it.
        license: as stated by the release (or that it states none).
        source: where the URL was found.
        dataset: what it was trained on.
        checksum: digest of the published file, or None when none was ever recorded.
        hash_algorithm: ``"sha256"``, or ``"md5"`` where that is what the release publishes.
        prototxt: the original definition (Caffe), a path in the tests' reference folder
            (``python tests/references.py fetch``).
        scores: what the paper or release reports for this file
            (:class:`~keras_seg.published.PublishedScore` s, at least one: a release that
            reports nothing says so), with the protocol that reproduces each.
        builder_args: builder arguments the file needs (e.g. batch-statistics BN).
        member: for a download that is an archive (``.tar.gz``), the file inside it that
            holds the weights (matched by its name, in any folder of the archive).
        ignore_label: the label value the release's training left out, if it says.
        class_weights: the release's per-class loss weights, if it used any.
        classes: the class names of the file's score layer, in label order; a record whose
            file has its network's classes may leave them out (registration fills them in).
        palette_rgb: RGB colour per class, or None for its network's palette (or PASCAL's).
        mirrors: further URLs of the same file, tried in turn after ``url`` (each download
            is checked against the same checksum, or the same lock).
        size_bytes: the size of the published file where the release or a mirror states
            it, else None (unknown).
    """

    name: str
    model: str
    url: str
    file: str
    format: str
    rules: str
    license: str
    source: str
    dataset: str
    checksum: str | None = None
    hash_algorithm: str = "sha256"
    prototxt: str | None = None
    scores: tuple = ()
    builder_args: dict = field(default_factory=dict)
    member: str | None = None
    ignore_label: int | None = None
    class_weights: tuple | None = None
    classes: tuple = ()
    palette_rgb: tuple | None = None
    mirrors: tuple = ()
    size_bytes: int | None = None

    def palette(self):
        """RGB palette (one row per class, at least) as uint8, for label images.

        Example:
            >>> get_weights_record("segnet_sun").palette().shape
            (38, 3)
        """
        return _palette(self.palette_rgb, len(self.classes))


@dataclass(frozen=True)
class Geometry:
    """Where a network's output pixels sit in its input (for tiling and cropping).

    Attributes:
        margin: input pixels of context each side that the network consumes (valid
            convolutions: DilatedNet 186, U-Net 92; 0 for "same"-sized outputs).
        stride: input pixels per output pixel.
        alignment: the shift (total pooling factor) the network is equivariant to.
    """

    margin: int = 0
    stride: int = 1
    alignment: int = 1

    def as_tuple(self):
        """(margin, stride, alignment), as :func:`keras_seg.predict_tiled` takes it."""
        return self.margin, self.stride, self.alignment


@dataclass(frozen=True)
class ModelSpec:
    """A registered network: its builder and what the original release fixes.

    Attributes:
        name: registry name.
        builder: the function that builds it (keyword arguments only).
        paper: citation.
        num_classes: classes of the released weights.
        input: the :class:`~keras_seg.input_conventions.InputConvention` of its input blob.
        classes: class names.
        palette_rgb: RGB colour per class, or None for the PASCAL colour map.
        pipeline: ``"whole"`` (one forward of the whole image), ``"dilation_tiles"``
            (fyu/dilation's margin, deploy tiles, stitching and zoom) or ``"overlap_tile"``
            (U-Net: mirrored borders and blended tiles of a valid size).
        tile_size: (height, width) of the original deploy input, if it has one.
        zoom: upsampling of the score map after the network (DilatedNet: 8, or 1).
        geometry: the network's :class:`Geometry`.
        size_rule: (multiple, offset, smallest) when only some input sizes are valid
            (offset + k * multiple, at least smallest: U-Net's 16k + 60 from 188), else None.
        weights: the published :class:`WeightsRecord` s; the first is the default.
        rules: conversion rules (modules of ``keras_seg.convert``) by source format, for
            files of the family's layouts that no record describes (``{"npz": ...}``).
        defaults: builder arguments of the released model.
        recipe: how the original was fine-tuned from trained weights, as
            :class:`~keras_seg.training.recipes.Recipe` fields (``{"optimizer": "sgd",
            "learning_rate": 1e-4, ...}``; the paper's solver); what it leaves out keeps
            the generic fine-tuning recipe (SGD, momentum 0.9, poly, 1e-3).
        compiler: how float32 inference is compiled (one of
            :data:`keras_seg.inference.forward.COMPILERS`): ``"graph"``, TensorFlow's graph
            with oneDNN's kernels (FC-DenseNet, slower under XLA); ``"xla"``, the
            whole network by XLA (SegNet, whose batch normalisations XLA fuses); ``"hybrid"``,
            the graph with each convolution of 256 or more input channels compiled by XLA
            (3x3 ones by Winograd's algorithm) and the 7x7 ``fc6`` as a matrix product
            (FCN, DilatedNet, U-Net: oneDNN wins on the early, few-channel layers and the
            upsampling, XLA on the wide ones; :func:`keras_seg.inference.forward.hybrid_call`).
            Measured on a CPU: where TensorFlow sees a GPU every family runs in the graph.
            ``benchmarks/xla_choice.py`` prints the figures behind each choice.
    """

    name: str
    builder: object
    paper: str
    num_classes: int
    input: InputConvention
    classes: tuple = ()
    palette_rgb: tuple | None = None
    pipeline: str = "whole"
    tile_size: tuple | None = None
    zoom: int = 1
    geometry: Geometry = Geometry()
    size_rule: tuple | None = None
    weights: tuple = ()
    rules: dict = field(default_factory=dict)
    defaults: dict = field(default_factory=dict)
    recipe: dict = field(default_factory=dict)
    compiler: str = "graph"

    def palette(self):
        """RGB palette (at least num_classes rows) uint8 for label images."""
        return _palette(self.palette_rgb, self.num_classes)

    def valid_size(self, size):
        """The smallest valid input size of at least ``size`` (``size`` without a rule)."""
        if self.size_rule is None:
            return size
        multiple, offset, smallest = self.size_rule
        return max(smallest, offset + -(-(size - offset) // multiple) * multiple)

    @property
    def default_weights(self):
        """The name of the original release's weights record, or None."""
        return self.weights[0].name if self.weights else None


def _palette(palette_rgb, num_classes):
    if palette_rgb is not None:
        return np.asarray(palette_rgb, np.uint8)
    return dataset_labels.pascal_palette(max(num_classes, 1))


_MODELS = {}
_WEIGHTS = {}


def register_model(name=None, **metadata):
    """Register a builder under ``name`` (default: the function's name) with its metadata.

    Args:
        name: registry name.
        **metadata: the other :class:`ModelSpec` fields.

    Returns:
        A decorator that registers the builder and returns it unchanged.

    Example:
        >>> @register_model(paper="...", num_classes=2, input=InputConvention())
        ... def tiny_net(num_classes=2): ...  # doctest: +SKIP
    """
    def register(builder):
        spec = ModelSpec(name or builder.__name__, builder, **metadata)
        if spec.name in _MODELS:
            raise ValueError(f"model {spec.name!r} is registered twice")
        records = tuple(_with_classes(record, spec) for record in spec.weights)
        spec = replace(spec, weights=records)
        for record in records:
            if record.name in _WEIGHTS:
                raise ValueError(f"weights {record.name!r} are registered twice")
            _WEIGHTS[record.name] = record
        _MODELS[spec.name] = spec
        return builder

    return register


def _with_classes(record, spec):
    """``record`` with its classes and palette: its own, else its network's."""
    if record.model != spec.name:
        raise ValueError(f"weights {record.name!r} are for {record.model!r}, registered with "
                         f"{spec.name!r}")
    num_classes = record.builder_args.get("num_classes", spec.num_classes)
    if not record.classes:
        if num_classes != len(spec.classes):
            raise ValueError(f"weights {record.name!r} have {num_classes} classes, "
                             f"{spec.name} names {len(spec.classes)}: give the record its "
                             "classes")
        record = replace(record, classes=spec.classes,
                         palette_rgb=record.palette_rgb or spec.palette_rgb)
    if len(record.classes) != num_classes:
        raise ValueError(f"weights {record.name!r} name {len(record.classes)} classes for a "
                         f"score layer of {num_classes}")
    if not record.scores:
        raise ValueError(f"weights {record.name!r} carry no published score: give one, or "
                         "one with value=None and where=NOT_REPORTED")
    return record


def _registered():
    importlib.import_module("keras_seg.models")  # each family registers itself on import
    return _MODELS


def list_models():
    """Sorted names of the registered models.

    Example:
        >>> "fcn8s" in list_models()
        True
    """
    return sorted(_registered())


def get_spec(name):
    """The :class:`ModelSpec` of ``name``.

    Raises:
        InputError: unknown name (the message lists the valid ones).

    Example:
        >>> get_spec("dilation8_camvid").geometry.margin
        186
    """
    models = _registered()
    if name not in models:
        raise InputError(f"unknown model {name!r}; valid names: {', '.join(sorted(models))}")
    return models[name]


def list_weights():
    """Every published weights record, by name.

    Example:
        >>> list_weights()["dilation8_camvid"].format
        'caffemodel'
    """
    _registered()
    return dict(sorted(_WEIGHTS.items()))


def get_weights_record(name):
    """The :class:`WeightsRecord` called ``name``, or the default record of model ``name``.

    Raises:
        InputError: neither a record nor a model with published weights (lists the records).

    Example:
        >>> get_weights_record("fcn8s").file
        'fcn8s-heavy-pascal.caffemodel'
    """
    records = list_weights()
    if name in records:
        return records[name]
    if name in _MODELS and _MODELS[name].default_weights:
        return records[_MODELS[name].default_weights]
    raise InputError(f"no published weights called {name!r}; known: {', '.join(records)}")


def unwrap(model):
    """The segmentation network inside ``model``: an adversarial trainer's segmenter, else itself.

    Example:
        >>> unwrap(model) is model  # doctest: +SKIP
        True
    """
    return getattr(model, "segmenter", model)


def spec_of(model):
    """The :class:`ModelSpec` of the registered network a built model was made as, or None.

    Built, renamed and reloaded models carry their registered name in ``model.metadata``;
    any other Keras model has none.

    Example:
        >>> spec_of(keras_seg.build("fcn8s")).name  # doctest: +SKIP
        'fcn8s'
    """
    registered = (getattr(unwrap(model), "metadata", None) or {}).get("model")
    return get_spec(registered) if registered else None


def class_names(model):
    """The class names of ``model``'s outputs in label order, or None where nothing names them.

    From the model's metadata (the weights record it was built with, or names given when it
    was trained), else its network's classes when the number of outputs is theirs.

    Example:
        >>> class_names(keras_seg.build("fcn8s"))[15]  # doctest: +SKIP
        'person'
    """
    model = unwrap(model)
    metadata = getattr(model, "metadata", None) or {}
    names = metadata.get("classes")
    if names is None and spec_of(model) is not None:
        names = spec_of(model).classes
    return tuple(names) if names is not None and len(names) == _outputs(model) else None


def label_palette(model):
    """RGB colours (uint8, a row per class at least) for ``model``'s label images.

    The weights record's palette where the model was built with one, else its network's
    where the number of classes is the network's, else the PASCAL VOC colour map.

    Example:
        >>> label_palette(keras_seg.build("fcn8s"))[1].tolist()  # doctest: +SKIP
        [128, 0, 0]
    """
    model = unwrap(model)
    metadata = getattr(model, "metadata", None) or {}
    num_classes = _outputs(model) or 1
    palette = None
    if metadata.get("palette") is not None:
        palette = np.asarray(metadata["palette"], np.uint8)
    elif metadata.get("weights") in list_weights():
        palette = get_weights_record(metadata["weights"]).palette()
    elif spec_of(model) is not None and spec_of(model).num_classes == num_classes:
        palette = spec_of(model).palette()
    if palette is None or len(palette) < num_classes:
        palette = dataset_labels.pascal_palette(num_classes)
    return palette


def _outputs(model):
    """Channels of the model's (first) output: its number of classes, or None if unknown."""
    shape = model.output_shape
    if isinstance(shape, list):
        shape = shape[0]
    return int(shape[-1]) if shape and shape[-1] is not None else None


def build_model(name, **overrides):
    """Build a registered model with random weights: a Functional model giving logits, NHWC.

    The model carries its registered name, builder arguments and input convention
    (``model.metadata``, kept in ``.keras`` files), which inference and training read.

    Args:
        name: a name from :func:`list_models`.
        **overrides: builder arguments (``num_classes``, ``widths``...).

    Returns:
        A :class:`~keras_seg.models.base.SegmentationModel` with the original layer names.

    Raises:
        InputError: an argument the builder does not take, or a value it cannot build.

    Example:
        >>> model = build_model("fcn8s", num_classes=21)
        >>> model.get_layer("conv1_1").kernel.shape
        (3, 3, 3, 64)
    """
    spec = get_spec(name)
    accepted = inspect.signature(spec.builder).parameters
    unknown = sorted(set(overrides) - set(accepted))
    if unknown:
        raise InputError(f"{name} takes no argument {', '.join(map(repr, unknown))}; its "
                         f"arguments: {', '.join(accepted)}")
    if "num_classes" in overrides and not (isinstance(overrides["num_classes"], int)
                                           and overrides["num_classes"] >= 1):
        raise InputError(f"num_classes must be a positive integer, got "
                         f"{overrides['num_classes']!r}")
    arguments = {**spec.defaults, **overrides}
    try:
        model = spec.builder(**arguments)
    except (TypeError, ValueError) as error:  # a value the builder cannot take
        raise InputError(f"{name}: cannot build with {_jsonable(overrides)}: {error}") from None
    num_classes = int(model.output_shape[-1])
    model.metadata = {"model": name, "builder_args": _jsonable(overrides),
                      "num_classes": num_classes, "input": spec.input.to_config()}
    if len(spec.classes) == num_classes:
        model.metadata["classes"] = list(spec.classes)
    return model


def describe_weights(model, record):
    """Record in ``model.metadata`` that it holds the weights of ``record``, with their classes.

    Example:
        >>> describe_weights(model, get_weights_record("segnet_sun"))  # doctest: +SKIP
    """
    model.metadata = {**model.metadata, "weights": record.name, "classes": list(record.classes)}


def _jsonable(arguments):
    """Builder arguments as JSON values (tuples become lists), for saved models."""
    def convert(value):
        if isinstance(value, tuple | list):
            return [convert(v) for v in value]
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        return value.item() if isinstance(value, np.generic) else value

    return {key: convert(value) for key, value in arguments.items()}
