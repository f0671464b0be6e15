"""What a training run is asked to do: a frozen, checked configuration, light to import.

:class:`TrainConfig` holds the settings exactly as asked (the trainer keeps what it derives
from them apart) and refuses, in ``__post_init__``, every value or combination that is
wrong whatever the files say. Each field carries its command-line form in its metadata,
so the ``keras-seg train`` parser is built from it (:meth:`TrainConfig.command_line_options`)
and its values turned back into a configuration (:meth:`TrainConfig.from_options`) before
TensorFlow loads: this module imports neither Keras, TensorFlow nor NumPy.

Example:
    >>> config = TrainConfig("fcn8s", "data/train", num_classes=5, checkpoint_dir="ckpt")
    >>> config.crop_size, config.epochs
    ((320, 320), 10)
"""

import ast
import math
import numbers
from dataclasses import KW_ONLY, MISSING, dataclass, field, fields

from keras_seg.choices import (
    ADVERSARIAL_MODES,
    ADVERSARY_MODELS,
    CLASS_WEIGHT_MODES,
    DISTRIBUTIONS,
    IGNORE_LABEL,
    LAYOUTS,
    LOSS_PARAMETERS,
    LOSSES,
    LOSSES_WITHOUT_CLASS_WEIGHTS,
    OPTIMIZERS,
    PIXEL_WEIGHTED_LOSSES,
    SCHEDULES,
    STRATEGIES,
    TRAIN_SPLIT,
    VAL_SPLIT,
)
from keras_seg.errors import ParameterError

#: What the adversarial settings mean when left out (None).
ADV_WEIGHT, ADV_MODEL, ADVERSARY_STEPS = 0.1, "large_fov_light", 1
#: Side of the default training crops.
CROP_SIZE = 320


@dataclass(frozen=True)
class Augment:
    """Augmentations applied to image and mask together (labels use nearest neighbour).

    Attributes:
        crop_size: (h, w) of the training crops; smaller images are padded (labels with the
            ignore value).
        scale: range of random rescaling; None: none here, and the trainer's recipe
            decides (0.5-2 when fine-tuning, none from scratch).
        flip: random horizontal flips.
        rotation: maximum rotation in degrees (0: none).
        brightness: maximum brightness change (0-255 scale), image only.
        contrast: maximum relative contrast change, image only.
        elastic: U-Net's elastic deformation, ``(grid, sigma)``: random displacements of
            standard deviation ``sigma`` pixels on a ``grid`` x ``grid`` lattice, smoothly
            interpolated over the image (Ronneberger et al. 2015 use (3, 10)); None: off.
        custom: the user's own augmentation, run on each crop after the others: an
            albumentations transform or a function ``(image, mask) -> (image, mask)`` on
            NumPy arrays (see :mod:`keras_seg.training.custom_augment`); None: none.

    Example:
        >>> Augment((64, 64), scale=(0.5, 2.0)).flip
        True
    """

    crop_size: tuple = (CROP_SIZE, CROP_SIZE)
    scale: tuple | None = None
    flip: bool = True
    rotation: float = 0.0
    brightness: float = 0.0
    contrast: float = 0.0
    elastic: tuple | None = None
    custom: object = None


def _option(*flags, convert=None, **argparse_keywords):
    """Field metadata: the field's command-line option, and how its value becomes the field's."""
    metadata = {"options": ({"flags": flags, **argparse_keywords},)}
    return {**metadata, "convert": convert} if convert else metadata


def _augment_from(options):
    """The :class:`Augment` of the command line's crop, scale, rotation, elastic and flip."""
    elastic = options.get("elastic")
    scale = options.get("scale")
    custom = options.get("augment")
    if custom:
        from keras_seg.training.custom_augment import load_augment

        custom = load_augment(custom)
    return Augment(crop_pair(options.get("crop_size", CROP_SIZE)),
                   tuple(scale) if scale else None, not options.get("no_flip", False),
                   options.get("rotation", 0.0),
                   elastic=(int(elastic[0]), elastic[1]) if elastic else None,
                   custom=custom or None)


def _pair_from(name):
    def convert(options):
        value = options.get(name)
        return tuple(value) if value else None

    return convert


def _model_args_from(options):
    value = options.get("model_args") or {}
    return value if isinstance(value, dict) else parse_model_args(value)


_AUGMENT_OPTIONS = (
    {"flags": ("--scale",), "dest": "scale", "type": float, "nargs": 2,
     "metavar": ("MIN", "MAX"),
     "help": "random rescaling range (default: 0.5 2 when fine-tuning from --weights, none "
             "from random weights)"},
    {"flags": ("--rotation",), "dest": "rotation", "type": float, "default": 0.0,
     "help": "max rotation, degrees"},
    {"flags": ("--elastic",), "dest": "elastic", "type": float, "nargs": 2,
     "metavar": ("GRID", "SIGMA"), "help": "U-Net elastic deformation (e.g. 3 10)"},
    {"flags": ("--no-flip",), "dest": "no_flip", "action": "store_true",
     "help": "no horizontal flips"},
    {"flags": ("--augment",), "dest": "augment", "metavar": "MODULE:FUNCTION",
     "help": "your own augmentation after the built-in ones: a function (image, mask) -> "
             "(image, mask) on NumPy arrays, or an albumentations Compose, named as "
             "module:name or file.py:name"},
)


@dataclass(frozen=True)
class TrainConfig:
    """What a fine-tuning run is asked to do, checked before any work (no files read).

    Attributes:
        model_name: registered model.
        train_dir: dataset root: a folder with ``images/`` and ``masks/``, or the root of
            a ``layout``.
        val_dir: optional validation folder (scored on whole images).
        layout: ``"folder"``, ``"voc"``, ``"camvid"``, ``"cityscapes"``, ``"labelme"``
            (images with their labelme ``.json`` beside them) or ``"coco"`` (``images/``
            and ``annotations.json``).
        colors: the colour map of colour masks (CamVid's ``label_colors.txt`` or JSON
            ``{"name": [r, g, b], ...}`` in class order; ``__ignore__`` names ignored
            colours).
        annotations: the COCO annotations file (default ``train_dir/annotations.json``).
        classes: class names (``"a,b,c"``, a file with one a line, or a sequence) kept in
            the checkpoint (default: the colour map's, labels.txt's or COCO's, if any).
        split: training split of the layout (``train``, ``trainaug``...).
        val_split: validation split of the layout (read from ``val_dir``).
        num_classes: classes of the new head; None: as many as the dataset names (its
            colour map, labels.txt, COCO categories or ``classes``), refused where it names
            none.
        checkpoint_dir: where checkpoints and logs go.
        weights: weights to start from: a record name, a preset, or a file of any format
            of ``load_weights`` (a checkpoint of one's own too); the score layers are
            re-initialised when its number of classes differs from ``num_classes``.
        resume: continue from the last checkpoint in ``checkpoint_dir``.
        overwrite: start afresh in a ``checkpoint_dir`` that holds another run's files
            (they are removed); without it such a folder is refused.
        skip_bad_files: leave out pairs that cannot be read (truncated image, wrong mask
            size, unknown label) and count them, rather than stop at the first.
        allow_unmatched: train although some images have no mask (or masks no image).
        allow_mostly_ignored: train although more than half of the labelled-or-ignored
            pixels are the ignore label (refused otherwise: there is little to learn).
        epochs: total epochs (a resumed run continues up to this number).
        batch_size: crops per step (global, over all devices).
        crop_size: (h, w) training crops (one number: a square).
        augment: an :class:`Augment` (default: ``crop_size``, flips, and the recipe's
            rescaling: 0.5-2 when fine-tuning, none from scratch); it replaces ``crop_size``.
            A function or an albumentations transform here means the default
            augmentation followed by it (``Augment(crop_size, custom=augment)``).
        adversarial, adv_weight, adv_model, adversary_steps: train against an adversary
            (see :class:`~keras_seg.training.trainer.AdversarialTraining`); the last three
            need ``adversarial`` (None: 0.1, ``"large_fov_light"``, 1).
        unet_weights: ``(w0, sigma)`` to weight every pixel's loss by U-Net's map (class
            balancing plus the border term), computed from instance masks in
            ``train_dir/instances/`` (the paper: ``(10, 5)``); None: plain loss. The map
            weights the ``ce`` term of ``loss`` (a loss without one is refused).
        optimizer, schedule, learning_rate, warmup_epochs, cooldown, weight_decay,
            momentum: change the recipe (None keeps its value). Optimizers ``"sgd"``,
            ``"adam"``, ``"adamw"``, ``"rmsprop"``; schedules ``"poly"``, ``"cosine"``,
            ``"constant"``; ``cooldown`` a fraction of the run; weight decay never
            touches biases or norms.
        new_layer_rate: from trained weights, the factor on the rate of the layers that
            start afresh for a new class count (None: the recipe's, 10).
        steps_per_epoch: default: one pass over the training images.
        patience: stop when the validation score (the training score without ``val_dir``)
            has not improved for this many epochs, counting across a resumption; None:
            run every epoch.
        freeze_until: freeze the layers up to and including this one.
        loss: ``"ce"`` (cross-entropy), ``"dice"``, ``"focal"``, ``"lovasz"``,
            ``"tversky"`` or a sum such as ``"ce+dice"`` (see
            :func:`~keras_seg.training.losses.make_loss`); None: ``"ce"`` for a new run,
            the checkpoint's loss for a resumed one (which refuses another).
        class_weights: None, ``"median"`` (median-frequency weights from the masks) or a
            list of ``num_classes`` weights; they weight every term of ``loss`` (a loss
            with a ``lovasz`` term is refused).
        ignore_label: label value skipped by loss and metrics.
        seed: seed of the initial weights, shuffling and augmentation.
        mixed_precision: train with the ``mixed_float16`` policy.
        strategy: None, ``"mirrored"`` (over the local devices) or ``"multiworker"``
            (cluster from ``TF_CONFIG``; every worker runs this same call; Keras 3's
            ``fit`` does not run there, keras-team/keras#20585, still so with TensorFlow
            2.21 and Keras 3.15.1, so a loop of its own calls the model's ``train_step``;
            non-chief workers checkpoint into ``checkpoint_dir/worker-<i>``).
        distribution: None or ``"data-parallel"``: Keras's distribution API under the JAX
            backend (:mod:`~keras_seg.training.data_parallel`): the model replicated on every
            device of every process, each process reading its share of every batch; the
            cluster from Keras's variables ``KERAS_DISTRIBUTION_JOB_ADDRESSES`` (the
            coordinator first), ``KERAS_DISTRIBUTION_NUM_PROCESSES`` and
            ``KERAS_DISTRIBUTION_PROCESS_ID`` (none: this process alone); every process runs
            this same call and process 0 alone writes the checkpoints. Excludes ``strategy``.
        model_args: extra builder arguments (``{"widths": ...}``).
        tensorboard: write TensorBoard logs.
        verbose: Keras progress output.

    Raises:
        ParameterError: a value out of range or a setting that needs another.

    Example:
        >>> TrainConfig("fcn8s", "data", num_classes=4, checkpoint_dir="ckpt", epochs=0)
        Traceback (most recent call last):
        ...
        keras_seg.errors.ParameterError: epochs must be at least 1, got 0
    """

    model_name: str = field(metadata=_option("model", help="registered model name"))
    train_dir: str = field(metadata=_option(
        "data", help="folder with images/ and masks/ (same file stems)"))
    _: KW_ONLY
    val_dir: str | None = field(default=None, metadata=_option(
        "--val", help="validation folder with images/ and masks/"))
    layout: str = field(default="folder", metadata=_option("--layout", choices=list(LAYOUTS)))
    colors: str | None = field(default=None, metadata=_option(
        "--colors", metavar="FILE",
        help="the masks are colour images: their colour map (CamVid's label_colors.txt or "
             "JSON {\"name\": [r, g, b]}; __ignore__ names ignored colours)"))
    annotations: str | None = field(default=None, metadata=_option(
        "--annotations", metavar="FILE",
        help="COCO annotations file of --layout coco (default DATA/annotations.json)"))
    classes: object = field(default=None, metadata=_option(
        "--classes", metavar="NAMES",
        help="class names, a,b,c or a file with one a line (default: the colour map's, "
             "labels.txt's or the COCO categories)"))
    split: str = field(default=TRAIN_SPLIT, metadata=_option(
        "--split", help="training split of the layout"))
    val_split: str = field(default=VAL_SPLIT, metadata=_option(
        "--val-split", help="validation split of the layout"))
    num_classes: int | None = field(default=None, metadata=_option(
        "--num-classes", type=int,
        help="classes of the new head (the ignore label excluded); default: as many as the "
             "data names (colour map, labels.txt, COCO categories or --classes)"))
    checkpoint_dir: str = field(metadata=_option(
        "--checkpoint-dir", required=True, help="checkpoints and logs"))
    weights: str | None = field(default=None, metadata=_option(
        "--weights", help="weights to start from: a published record (e.g. fcn8s) or a file; "
                          "the head is re-initialised when --num-classes differs"))
    resume: bool = field(default=False, metadata=_option(
        "--resume", action="store_true", help="continue the last checkpoint"))
    overwrite: bool = field(default=False, metadata=_option(
        "--overwrite", action="store_true",
        help="start afresh in a checkpoint folder that holds another run"))
    skip_bad_files: bool = field(default=False, metadata=_option(
        "--skip-bad-files", action="store_true",
        help="leave out unreadable images and bad masks (counted) instead of stopping at the "
             "first"))
    allow_unmatched: bool = field(default=False, metadata=_option(
        "--allow-unmatched", action="store_true",
        help="train although some images have no mask (or masks no image)"))
    allow_mostly_ignored: bool = field(default=False, metadata=_option(
        "--allow-mostly-ignored", action="store_true",
        help="train although most labelled pixels are the ignore label"))
    epochs: int = field(default=10, metadata=_option(
        "--epochs", type=int, help="total epochs (default %(default)s)"))
    batch_size: int = field(default=8, metadata=_option(
        "--batch-size", type=int, help="crops per step (default %(default)s)"))
    crop_size: tuple = field(default=(CROP_SIZE, CROP_SIZE), metadata=_option(
        "--crop-size", type=int, nargs="+", default=[CROP_SIZE], metavar="N",
        help=f"training crops, one size or height width (default {CROP_SIZE})"))
    augment: Augment | None = field(default=None, metadata={
        "options": _AUGMENT_OPTIONS, "convert": _augment_from})
    adversarial: str | None = field(default=None, metadata=_option(
        "--adversarial", choices=list(ADVERSARIAL_MODES),
        help="train against an adversary (Luc et al. 2016) with this input"))
    adv_weight: float | None = field(default=None, metadata=_option(
        "--adv-weight", type=float,
        help=f"lambda, the weight of the adversarial term (default {ADV_WEIGHT})"))
    adv_model: str | None = field(default=None, metadata=_option(
        "--adv-model", choices=list(ADVERSARY_MODELS),
        help=f"the adversary (default {ADV_MODEL})"))
    adversary_steps: int | None = field(default=None, metadata=_option(
        "--adversary-steps", type=int,
        help=f"adversary updates per segmenter update (default {ADVERSARY_STEPS})"))
    unet_weights: tuple | None = field(default=None, metadata=_option(
        "--unet-weights", type=float, nargs=2, metavar=("W0", "SIGMA"),
        convert=_pair_from("unet_weights"),
        help="weight the loss by U-Net's map from DATA/instances/ (instance masks with the "
             "masks' names); the paper: 10 5"))
    optimizer: str | None = field(default=None, metadata=_option(
        "--optimizer", choices=list(OPTIMIZERS),
        help="default: the family's paper's from published --weights, adam from random ones"))
    schedule: str | None = field(default=None, metadata=_option(
        "--schedule", choices=list(SCHEDULES),
        help="learning-rate schedule (default: the family's when fine-tuning from --weights, "
             "constant from random weights)"))
    learning_rate: float | None = field(default=None, metadata=_option(
        "--lr", type=float, help="peak learning rate (default: the recipe's)"))
    warmup_epochs: float | None = field(default=None, metadata=_option(
        "--warmup-epochs", type=float, help="linear warm-up (default 0)"))
    cooldown: float | None = field(default=None, metadata=_option(
        "--cooldown", type=float, metavar="FRACTION",
        help="fall linearly to zero over this last fraction of the run (default 0.2 from "
             "random weights, 0 when fine-tuning)"))
    weight_decay: float | None = field(default=None, metadata=_option(
        "--weight-decay", type=float,
        help="decoupled weight decay, not on biases and norms (default 0)"))
    momentum: float | None = field(default=None, metadata=_option(
        "--momentum", type=float, help="SGD momentum (default 0.9)"))
    new_layer_rate: float | None = field(default=None, metadata=_option(
        "--new-layer-rate", type=float, metavar="FACTOR",
        help="fine-tuning: the rate of the layers that start afresh for a new class count, "
             "times the recipe's (default 10; 1: the paper's solver alone)"))
    steps_per_epoch: int | None = field(default=None, metadata=_option(
        "--steps-per-epoch", type=int, help="default: one pass over the training images"))
    patience: int | None = field(default=None, metadata=_option(
        "--patience", type=int, metavar="N",
        help="stop when the validation mIoU (training mIoU without --val) has not improved "
             "for N epochs"))
    freeze_until: str | None = field(default=None, metadata=_option(
        "--freeze-until", metavar="LAYER", help="freeze the trunk up to LAYER"))
    loss: str | None = field(default=None, metadata=_option(
        "--loss", metavar="LOSS",
        help=f"{'|'.join(LOSSES)} or a sum such as ce+dice; focal:gamma=3 and "
             "tversky:alpha=0.3,beta=0.7 set their parameters (default ce; a resumed run keeps "
             "its own)"))
    class_weights: object = field(default=None, metadata=_option(
        "--class-weights", choices=list(CLASS_WEIGHT_MODES), help="median-frequency weights"))
    ignore_label: int = field(default=IGNORE_LABEL, metadata=_option(
        "--ignore-label", type=int,
        help="mask value left out of loss and scores (default %(default)s)"))
    seed: int = field(default=0, metadata=_option(
        "--seed", type=int, help="seed of the initial weights, shuffling and augmentation"))
    mixed_precision: bool = field(default=False, metadata=_option(
        "--mixed-precision", action="store_true",
        help="train with float16 compute (the loss in float32)"))
    strategy: str | None = field(default=None, metadata=_option(
        "--strategy", choices=list(STRATEGIES),
        help="several devices (mirrored) or machines (TF_CONFIG)"))
    distribution: str | None = field(default=None, metadata=_option(
        "--distribution", choices=list(DISTRIBUTIONS),
        help="Keras's distribution API under KERAS_BACKEND=jax: data parallelism over every "
             "device of every process (cluster from KERAS_DISTRIBUTION_JOB_ADDRESSES, "
             "_NUM_PROCESSES, _PROCESS_ID)"))
    model_args: dict = field(default_factory=dict, metadata=_option(
        "--model-arg", action="append", default=[], metavar="KEY=VALUE",
        convert=_model_args_from,
        help="builder argument, a Python literal (e.g. widths=(8,16,32,32,32,64))"))
    tensorboard: bool = True
    verbose: int = 1

    def __post_init__(self):
        object.__setattr__(self, "crop_size", crop_pair(self.crop_size))
        if self.unet_weights is not None:
            object.__setattr__(self, "unet_weights", tuple(self.unet_weights))
        if self.classes is not None and not isinstance(self.classes, str):
            object.__setattr__(self, "classes", tuple(self.classes))
        _check_counts(self)
        _check_choices(self)
        _check_mask_settings(self)
        _check_adversarial(self)
        check_recipe_values(learning_rate=self.learning_rate,
                            warmup_epochs=self.warmup_epochs, cooldown=self.cooldown,
                            weight_decay=self.weight_decay, momentum=self.momentum,
                            new_layer_rate=self.new_layer_rate)
        if self.augment is not None and not isinstance(self.augment, Augment):
            if not callable(self.augment):
                raise ParameterError("{augment} must be an Augment, a function or an "
                                     "albumentations transform, got {value!r}",
                                     value=self.augment)
            object.__setattr__(self, "augment", Augment(self.crop_size, custom=self.augment))
        if self.augment is not None:
            if self.augment.custom is not None and self.unet_weights:
                raise ParameterError("{augment}: a custom augmentation cannot move U-Net's "
                                     "weight maps; leave out {unet_weights} or the function")
            crop_pair(self.augment.crop_size)
            if self.augment.scale is not None:
                check_scale(self.augment.scale)
        _check_class_weights(self.class_weights, self.num_classes)
        check_loss(self.loss, self.class_weights, self.unet_weights)
        if self.distribution and self.strategy:
            raise ParameterError("{distribution} {value} is Keras's own distribution (JAX "
                                 "backend), {strategy} {other} TensorFlow's: ask for one",
                                 value=self.distribution, other=self.strategy)
        if self.patience and self.strategy == "multiworker":
            raise ParameterError("{patience} works on one machine: the workers of {strategy} "
                                 "multiworker would each decide when to stop")
        _check_unet_weights(self.unet_weights)

    # -- the resolved adversarial settings ----------------------------------------------------

    @property
    def adversary(self):
        """(adv_weight, adv_model, adversary_steps) with the defaults for those left out.

        Example:
            >>> TrainConfig("fcn8s", "d", num_classes=4, checkpoint_dir="c").adversary
            (0.1, 'large_fov_light', 1)
        """
        return (ADV_WEIGHT if self.adv_weight is None else self.adv_weight,
                self.adv_model or ADV_MODEL,
                ADVERSARY_STEPS if self.adversary_steps is None else self.adversary_steps)

    # -- other ways to make one ---------------------------------------------------------------

    @classmethod
    def from_settings(cls, model_name, train_dir, **settings):
        """A configuration from keyword settings, naming those it does not know.

        Raises:
            TypeError: a setting that is not a field.

        Example:
            >>> TrainConfig.from_settings("fcn8s", "d", num_classes=4, checkpoint_dir="c",
            ...                           learning_rat=1e-3)
            Traceback (most recent call last):
            ...
            TypeError: train() got unknown settings learning_rat
        """
        unknown = sorted(set(settings) - {f.name for f in fields(cls)})
        if unknown:
            raise TypeError(f"train() got unknown settings {', '.join(unknown)}")
        return cls(model_name, train_dir, **settings)

    @classmethod
    def command_line_options(cls):
        """The command-line form of each exposed field: ``[(option strings, keywords)]``.

        Each entry is the arguments of ``argparse.ArgumentParser.add_argument`` (data only):
        positionals are named after their field (shown by their metavar), the others
        store into ``dest`` = the field's name (the learning rate's too), except
        the augmentation's (``scale``, ``rotation``, ``elastic``, ``no_flip``), which
        :meth:`from_options` gathers into ``augment``. Defaults are the fields'.

        Example:
            >>> options = {keywords.get("dest"): keywords
            ...            for _, keywords in TrainConfig.command_line_options()}
            >>> options["learning_rate"]["type"], options["epochs"]["default"]
            (<class 'float'>, 10)
        """
        options = []
        for item in fields(cls):
            for spec in item.metadata.get("options", ()):
                flags = spec["flags"]
                keywords = {key: value for key, value in spec.items() if key != "flags"}
                if not flags[0].startswith("-"):  # a positional: argparse takes no dest
                    options.append(((item.name,), {"metavar": flags[0], **keywords}))
                    continue
                keywords.setdefault("dest", item.name)
                if (keywords["dest"] == item.name and item.default is not MISSING
                        and "default" not in keywords):
                    keywords["default"] = item.default
                options.append((flags, keywords))
        return options

    @classmethod
    def flag_names(cls):
        """How the command line names each parameter: ``{parameter: option string}``.

        Example:
            >>> TrainConfig.flag_names()["learning_rate"].lstrip("-")
            'lr'
        """
        return {keywords.get("dest", flags[0]):
                flags[0] if flags[0].startswith("-") else keywords["metavar"]
                for flags, keywords in cls.command_line_options()}

    @classmethod
    def from_options(cls, options, **settings):
        """A configuration from parsed command-line values (``vars(namespace)``).

        Does what the command line did to its values: one crop size means a square, the
        augmentation options become an :class:`Augment`, ``KEY=VALUE`` builder arguments
        Python literals. Keys of other options are ignored; ``settings`` (e.g.
        ``verbose``) are set as given.

        Example:
            >>> config = TrainConfig.from_options({
            ...     "model_name": "fcn8s", "train_dir": "data", "num_classes": 4,
            ...     "checkpoint_dir": "ckpt", "crop_size": [256], "scale": [1.0, 1.0],
            ...     "model_args": ["widths=(8, 16, 32, 32, 32, 64)"]})
            >>> config.augment.crop_size, config.augment.scale, config.model_args["widths"][0]
            ((256, 256), (1.0, 1.0), 8)
        """
        given = {keywords["dest"]: keywords["default"]
                 for _, keywords in cls.command_line_options() if "default" in keywords}
        given.update(options)
        values = {}
        for item in fields(cls):
            convert = item.metadata.get("convert")
            if convert is not None:
                values[item.name] = convert(given)
            elif "options" in item.metadata and item.name in given:
                values[item.name] = given[item.name]
        return cls(**{**values, **settings})


def crop_pair(crop_size):
    """(h, w) of one or two positive sizes (one number: a square).

    Raises:
        ParameterError: not one or two positive integers.

    Example:
        >>> crop_pair([320]), crop_pair((240, 320)), crop_pair(96)
        ((320, 320), (240, 320), (96, 96))
    """
    sizes = [crop_size] if isinstance(crop_size, numbers.Integral) else list(crop_size)
    if not 1 <= len(sizes) <= 2 or not all(
            isinstance(size, numbers.Integral) and size >= 1 for size in sizes):
        raise ParameterError("{crop_size} takes one or two positive sizes, got {value}",
                             value=" ".join(map(str, sizes)))
    return (int(sizes[0]), int(sizes[-1]))


def check_scale(scale):
    """Refuse a rescaling range that is not ``0 < MIN <= MAX``.

    Example:
        >>> check_scale((0.5, 2.0))
    """
    low, high = scale
    if not 0 < low <= high:
        raise ParameterError("{scale} needs 0 < MIN <= MAX, got {low} {high}", low=low,
                             high=high)


def check_recipe_values(**values):
    """Refuse optimisation values out of range (None: not asked, not checked).

    Shared by :class:`TrainConfig` and :class:`~keras_seg.training.recipes.Recipe`.

    Example:
        >>> check_recipe_values(learning_rate=1e-3, cooldown=None)
    """
    rules = {
        "learning_rate": (lambda v: v > 0, "{learning_rate} must be positive, got {value}"),
        "warmup_epochs": (lambda v: v >= 0, "{warmup_epochs} cannot be negative, got {value}"),
        "cooldown": (lambda v: 0 <= v < 1,
                     "{cooldown} is a fraction of the run in [0, 1), got {value}"),
        "weight_decay": (lambda v: v >= 0, "{weight_decay} cannot be negative, got {value}"),
        "momentum": (lambda v: 0 <= v < 1, "{momentum} must be in [0, 1), got {value}"),
        "new_layer_rate": (lambda v: v > 0,
                           "{new_layer_rate} must be positive, got {value}"),
    }
    for name, value in values.items():
        valid, message = rules[name]
        if value is not None and not valid(value):
            raise ParameterError(message, value=value)


def check_choice(name, value, choices):
    """Refuse a value outside its choice list (None: left out, allowed).

    Example:
        >>> check_choice("optimizer", "lion", OPTIMIZERS)
        Traceback (most recent call last):
        ...
        keras_seg.errors.ParameterError: optimizer must be one of sgd, adam, adamw, rmsprop, got 'lion'
    """  # noqa: E501
    if value is not None and value not in choices:
        raise ParameterError(f"{{{name}}} must be one of {{choices}}, got {{value!r}}",
                             choices=", ".join(choices), value=value)


def loss_terms(loss):
    """The losses a loss setting sums, in order: ``"ce+dice"`` -> ``("ce", "dice")``.

    Raises:
        ParameterError: see :func:`loss_spec`.

    Example:
        >>> loss_terms("ce + dice")
        ('ce', 'dice')
        >>> loss_terms("ce+bce")
        Traceback (most recent call last):
        ...
        keras_seg.errors.ParameterError: loss must be one of ce, dice, focal, lovasz, tversky or a sum of them such as ce+dice, got 'ce+bce'
    """  # noqa: E501
    return tuple(name for name, _ in loss_spec(loss))


def loss_spec(loss):
    """The terms of a loss setting with their parameters: ``((name, {key: value}), ...)``.

    A term is a name from :data:`~keras_seg.choices.LOSSES`, optionally followed by
    ``:key=value,...`` for the parameters :data:`~keras_seg.choices.LOSS_PARAMETERS` lists
    (``focal:gamma=3``, ``ce+tversky:alpha=0.3,beta=0.7``); terms are joined by ``+``.

    Raises:
        ParameterError: a name outside the choices, an empty term or one named twice, a
            parameter the loss does not take, or a value that is not a number >= 0 (a
            focal ``alpha`` above 1).

    Example:
        >>> loss_spec("ce+tversky:alpha=0.3,beta=0.7")
        (('ce', {}), ('tversky', {'alpha': 0.3, 'beta': 0.7}))
        >>> loss_spec("dice:gamma=2")
        Traceback (most recent call last):
        ...
        keras_seg.errors.ParameterError: loss 'dice:gamma=2': the dice loss takes no parameters, not 'gamma'
    """  # noqa: E501
    terms = []
    for text in str(loss).split("+"):
        name, _, given = (part.strip() for part in text.partition(":"))
        if name not in LOSSES:
            raise ParameterError("{loss} must be one of {choices} or a sum of them such as "
                                 "ce+dice, got {value!r}", choices=", ".join(LOSSES),
                                 value=loss)
        terms.append((name, _loss_parameters(loss, name, given)))
    names = [name for name, _ in terms]
    if len(set(names)) < len(names):
        raise ParameterError("{loss} {value!r} names a loss twice", value=loss)
    return tuple(terms)


def _loss_parameters(loss, name, given):
    takes = LOSS_PARAMETERS.get(name, ())
    values = {}
    for item in filter(None, (item.strip() for item in given.split(","))):
        key, _, text = (part.strip() for part in item.partition("="))
        if key not in takes:
            taken = f"{', '.join(takes)}" if takes else "no parameters"
            raise ParameterError("{loss} {value!r}: the {name} loss takes {taken}, not {key!r}",
                                 value=loss, name=name, taken=taken, key=key)
        try:
            number = float(text)
        except ValueError:
            number = -1.0
        if not (math.isfinite(number) and number >= 0) or (
                name == "focal" and key == "alpha" and number > 1):
            limit = "in [0, 1]" if key == "alpha" and name == "focal" else "a number >= 0"
            raise ParameterError("{loss} {value!r}: {key} must be {limit}, got {text!r}",
                                 value=loss, key=key, limit=limit, text=text)
        values[key] = number
    return values


def parse_model_args(items):
    """Builder arguments from ``KEY=VALUE`` strings whose values are Python literals.

    Example:
        >>> parse_model_args(["widths=(8, 16)", "context=False"])
        {'widths': (8, 16), 'context': False}
    """
    parsed = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise ParameterError("{model_args} needs KEY=VALUE, got {item!r}", item=item)
        try:
            parsed[key.strip()] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            raise ParameterError("{model_args} {key}: {value!r} is not a Python literal "
                                 "(quote strings: \"{hint}\")", key=key, value=value,
                                 hint=f"{key.strip()}='{value}'") from None
    return parsed


def _check_counts(config):
    for name in ("num_classes", "epochs", "batch_size", "adversary_steps", "steps_per_epoch",
                 "patience"):
        value = getattr(config, name)
        if value is not None and value < 1:
            raise ParameterError(f"{{{name}}} must be at least 1, got {{value}}", value=value)


def _check_choices(config):
    for name, choices in (("layout", LAYOUTS), ("optimizer", OPTIMIZERS),
                          ("schedule", SCHEDULES), ("adversarial", ADVERSARIAL_MODES),
                          ("adv_model", ADVERSARY_MODELS), ("strategy", STRATEGIES),
                          ("distribution", DISTRIBUTIONS)):
        check_choice(name, getattr(config, name), choices)


def _check_mask_settings(config):
    if config.colors is not None and config.layout in ("labelme", "coco"):
        raise ParameterError("{colors} reads colour mask files; the {layout} {value} draws "
                             "its masks from annotations", value=config.layout)
    if config.annotations is not None and config.layout != "coco":
        raise ParameterError("{annotations} belongs to the coco {layout}, not {value}",
                             value=config.layout)


def _check_adversarial(config):
    given = [name for name in ("adv_weight", "adv_model", "adversary_steps")
             if getattr(config, name) is not None]
    if given and not config.adversarial:
        names = ", ".join(f"{{{name}}}" for name in given)
        verb = " needs" if len(given) == 1 else " need"
        raise ParameterError(names + verb + " {adversarial} {modes}",
                             modes="|".join(ADVERSARIAL_MODES))
    if config.adv_weight is not None and config.adv_weight < 0:
        raise ParameterError("{adv_weight} cannot be negative, got {value}",
                             value=config.adv_weight)


def _check_class_weights(class_weights, num_classes):
    if class_weights is None or (isinstance(class_weights, str)
                                 and class_weights in CLASS_WEIGHT_MODES):
        return
    if isinstance(class_weights, str) or not hasattr(class_weights, "__len__"):
        raise ParameterError("{class_weights} must be one of {modes} or a list, got {value!r}",
                             modes=", ".join(repr(m) for m in CLASS_WEIGHT_MODES),
                             value=class_weights)
    if num_classes is not None and len(class_weights) != num_classes:
        raise ParameterError("{class_weights}: {count} weights for {num_classes} classes",
                             count=len(class_weights), num_classes=num_classes)


def check_loss(loss, class_weights=None, unet_weights=None):
    """Refuse a loss setting, or class weights or a weight map it cannot take; its terms.

    Class weights weight every term, and ``lovasz`` takes none; U-Net's weight map weights
    the ``ce`` term, so a loss needs one. None is ``"ce"``.

    Raises:
        ParameterError: an unknown loss (see :func:`loss_terms`), class weights with
            ``lovasz``, a weight map without ``ce``.

    Example:
        >>> check_loss("ce+dice", class_weights=[1.0, 2.0], unet_weights=(10, 5))
        ('ce', 'dice')
        >>> check_loss("dice", unet_weights=(10, 5))
        Traceback (most recent call last):
        ...
        keras_seg.errors.ParameterError: unet_weights weights the cross-entropy pixel by pixel; loss 'dice' has no ce term (e.g. ce+dice)
    """  # noqa: E501
    terms = loss_terms("ce" if loss is None else loss)
    unweighted = [term for term in terms if term in LOSSES_WITHOUT_CLASS_WEIGHTS]
    if class_weights is not None and unweighted:
        raise ParameterError("{class_weights}: the {term} loss takes no class weights; leave "
                             "out {class_weights} or the {term} term of {loss}",
                             term=unweighted[0])
    if unet_weights is not None and not set(terms) & set(PIXEL_WEIGHTED_LOSSES):
        raise ParameterError("{unet_weights} weights the cross-entropy pixel by pixel; {loss} "
                             "{value!r} has no ce term (e.g. ce+{value})", value=loss)
    return terms


def _check_unet_weights(unet_weights):
    if unet_weights is None:
        return
    w0, sigma = unet_weights
    if w0 < 0 or sigma <= 0:
        raise ParameterError("{unet_weights} needs W0 >= 0 and SIGMA > 0, got {w0} {sigma}",
                             w0=w0, sigma=sigma)
