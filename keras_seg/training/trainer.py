"""The trainer: fine-tuning as separate steps that a family or a training mode overrides.

:class:`Trainer` holds a run's settings and does the work in steps, each a method:
:meth:`~Trainer.check` (everything refused before any work), :meth:`~Trainer.build_model`
(network and new head), :meth:`~Trainer.recipe` and :meth:`~Trainer.optimizer`,
:meth:`~Trainer.loss`, :meth:`~Trainer.metrics`, :meth:`~Trainer.compile`,
:meth:`~Trainer.datasets`, :meth:`~Trainer.callbacks` and :meth:`~Trainer.fit`. A subclass
changes one step and keeps the others; :func:`register_trainer` makes it the trainer of a
family's models, and :class:`AdversarialTraining` is the training mode of Luc et al. (2016).
Every strategy runs the model's own ``train_step`` (Keras's ``fit``, or the distributed loop
of :mod:`keras_seg.training.distributed`), so a model with a step of its own trains the same
way on one device and on many.
"""

import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import keras
import numpy as np

from keras_seg.errors import InputError
from keras_seg.registration import register_with_keras
from keras_seg.training import checkpoints, distributed
from keras_seg.training.callbacks import BadFilesCallback, TrainingCurves
from keras_seg.training.data import Augment, BadFiles, read_mask, segmentation_dataset
from keras_seg.training.layouts import dataset_pairs
from keras_seg.training.losses import MaskedSparseCrossEntropy, median_frequency_weights
from keras_seg.training.metrics import ConfusionMatrixScore
from keras_seg.training.precision import precision_policy
from keras_seg.training.recipes import FROM_SCRATCH, default_recipe, make_optimizer

#: Trainer classes registered for model names (:func:`register_trainer`).
_TRAINERS = {}


@dataclass
class Trainer:
    """Fine-tune ``model_name`` on an image/mask folder, resumable after a kill.

    The optimisation follows a :class:`~keras_seg.training.recipes.Recipe`: from published
    weights the family's published fine-tuning recipe (``ModelSpec.recipe``: the paper's
    solver), from random weights Adam at a constant 1e-3 (any field can be changed);
    cross-entropy that skips ``ignore_label``; mean IoU and pixel accuracy from the
    epoch's confusion matrix; after every epoch a complete checkpoint
    (weights, optimizer state, epoch) in ``checkpoint_dir``, plus the best by validation
    mean IoU, a CSV log, its curves as a PNG and TensorBoard logs.

    Attributes:
        model_name: registered model.
        train_dir: dataset root: a folder with ``images/`` and ``masks/``, or the root of
            a ``layout``.
        num_classes: classes of the new head.
        checkpoint_dir: where checkpoints and logs go.
        val_dir: optional validation folder (scored on whole images).
        crop_size: (h, w) training crops.
        batch_size: crops per step (global, over all devices).
        epochs: total epochs (a resumed run continues up to this number).
        learning_rate, optimizer, schedule, warmup_epochs, cooldown, momentum,
            weight_decay: change the recipe (None keeps its value). Optimizers ``"sgd"``,
            ``"adam"``, ``"adamw"``, ``"rmsprop"``; schedules ``"poly"``, ``"cosine"``,
            ``"constant"``; ``cooldown`` a fraction of the run; weight decay never
            touches biases or norms.
        weights: weights of the original head (any format of ``load_weights``, or a
            record name) to start from; the score layers are re-initialised when
            ``num_classes`` differs.
        resume: continue from the last checkpoint in ``checkpoint_dir``.
        freeze_until: freeze the layers up to and including this one.
        class_weights: None, ``"median"`` (median-frequency weights from the masks) or a
            list.
        ignore_label: label value skipped by loss and metrics.
        augment: an :class:`~keras_seg.training.data.Augment` (default: flips, and the
            recipe's rescaling: 0.5-2 when fine-tuning, none from scratch).
        steps_per_epoch: default: one pass over the training images.
        seed: seed of the initial weights, shuffling and augmentation.
        model_args: extra builder arguments (``{"widths": ...}``).
        mixed_precision: train with the ``mixed_float16`` policy.
        strategy: None, ``"mirrored"`` (over the local devices) or ``"multiworker"``
            (cluster from ``TF_CONFIG``; every worker runs this same call; Keras 3's
            ``fit`` does not run there, keras-team/keras#20585, so a loop of its own calls
            the model's ``train_step``; non-chief workers checkpoint into
            ``checkpoint_dir/worker-<i>``).
        tensorboard: write TensorBoard logs.
        verbose: Keras progress output.
        layout: ``"folder"``, ``"voc"``, ``"camvid"`` or ``"cityscapes"``.
        split: training split of the layout (``train``, ``trainaug``...).
        val_split: validation split of the layout (read from ``val_dir``).
        skip_bad_files: leave out pairs that cannot be read (truncated image, wrong mask
            size, unknown label) and count them, rather than stop at the first.
        allow_unmatched: train although some images have no mask (or masks no image).
        overwrite: start afresh in a ``checkpoint_dir`` that holds another run's files
            (they are removed); without it such a folder is refused.
        unet_weights: ``(w0, sigma)`` to weight every pixel's loss by U-Net's map (class
            balancing plus the border term), computed from instance masks in
            ``train_dir/instances/`` (the paper: ``(10, 5)``); None: plain loss.
        adversarial, adv_weight, adv_model, adversary_steps: train against an adversary
            (see :class:`AdversarialTraining`).

    Example:
        >>> model, history = Trainer("fcn8s", "data/train", num_classes=5,
        ...                          checkpoint_dir="ckpt", epochs=2).run()  # doctest: +SKIP
    """

    model_name: str
    train_dir: str
    num_classes: int
    checkpoint_dir: str
    val_dir: str | None = None
    crop_size: tuple = (320, 320)
    batch_size: int = 8
    epochs: int = 10
    learning_rate: float | None = None
    momentum: float | None = None
    optimizer: str | None = None
    schedule: str | None = None
    warmup_epochs: float | None = None
    cooldown: float | None = None
    weight_decay: float | None = None
    weights: str | None = None
    resume: bool = False
    freeze_until: str | None = None
    class_weights: object = None
    ignore_label: int = 255
    augment: Augment | None = None
    steps_per_epoch: int | None = None
    seed: int = 0
    model_args: dict = field(default_factory=dict)
    mixed_precision: bool = False
    strategy: str | None = None
    tensorboard: bool = True
    verbose: int = 1
    layout: str = "folder"
    split: str = "train"
    val_split: str = "val"
    skip_bad_files: bool = False
    allow_unmatched: bool = False
    overwrite: bool = False
    unet_weights: tuple | None = None
    adversarial: str | None = None
    adv_weight: float = 0.1
    adv_model: str = "large_fov_light"
    adversary_steps: int = 1

    def run(self):
        """Check, build or resume, train; returns ``(model, history)``.

        Raises:
            InputError: before any work for unmatched files, a crop the network cannot
                take, a checkpoint folder that holds another run (or, with ``resume``,
                none).
            ValueError: during training for the first bad file, naming it (nothing is
                kept of a run that fails in its first epoch).
        """
        self.check()
        existed = self.directory.exists()
        self.state = checkpoints.prepare_checkpoint_dir(
            self.directory, resume=self.resume, overwrite=self.overwrite)
        self.check_resume()
        if isinstance(self.class_weights, str):
            self.class_weights = self.median_class_weights()
        # the global policy is the process's: set for this run, the caller's one after
        with precision_policy("mixed_float16" if self.mixed_precision else None):
            with self.distribution.scope():
                if self.state:
                    register_with_keras()  # the classes the checkpoint names
                    model = keras.saving.load_model(self.directory / self.state["last"])
                    checkpoints.stretch_schedule(model.optimizer, self.state, self.epochs,
                                                 self.steps_per_epoch, self.verbose)
                else:
                    keras.utils.set_random_seed(self.seed)  # same seed, same initial weights
                    model = self.build_model()
                    self.compile(model)
            train_ds, val_ds = self.datasets(model)
            try:
                history = self.fit(model, train_ds, val_ds, self.callbacks(train_ds, val_ds))
            except BaseException:
                self._forget_failed_start(existed)
                raise
        if self.verbose and train_ds.bad_files.failures:
            print(train_ds.bad_files.summary())
        return model, history

    # -- the steps ---------------------------------------------------------------------------

    def check(self):
        """Everything refused before any work: files, crop size, settings; finds the pairs."""
        from keras_seg.registry import get_spec

        self.spec = get_spec(self.model_name)
        self.pairs, self.label_map, unmatched = dataset_pairs(self.train_dir, self.layout,
                                                              self.split)
        self.val_pairs, val_unmatched = None, []
        if self.val_dir:
            self.val_pairs, _, val_unmatched = dataset_pairs(self.val_dir, self.layout,
                                                             self.val_split)
        _check_unmatched([*unmatched, *val_unmatched], self.allow_unmatched)
        augment = self.augment or Augment(tuple(self.crop_size))
        if augment.scale is None:  # the recipe's: rescaling when fine-tuning, none from scratch
            augment = replace(augment, scale=self.recipe().scale)
        self.augment = augment
        check_crop_size(self.model_name, self.augment.crop_size)
        if self.strategy:
            _check_tensorflow_backend(f"--strategy {self.strategy} (tf.distribute)")
        self.steps_per_epoch = self.steps_per_epoch or math.ceil(len(self.pairs)
                                                                 / self.batch_size)
        self.distribution = distributed.get_strategy(self.strategy)
        self.worker = (distributed.worker_index(self.distribution)
                       if self.strategy == "multiworker" else 0)
        self.directory = Path(self.checkpoint_dir)
        if self.worker:
            self.directory = self.directory / f"worker-{self.worker}"

    def check_resume(self):
        """With ``resume``: the saved run must be the same and unfinished."""
        if not self.state:
            return
        if self.state["epoch"] >= self.epochs:
            raise InputError(f"--resume: the run in {self.directory} is already at epoch "
                             f"{self.state['epoch']}; ask for more with --epochs")
        checkpoints.check_same_run(
            self.state, self.model_name, self.num_classes, self.verbose,
            optimizer=self.optimizer, lr=self.learning_rate, schedule=self.schedule,
            warmup_epochs=self.warmup_epochs, cooldown=self.cooldown,
            weight_decay=self.weight_decay,
            momentum=self.momentum, weights=self.weights, adversarial=self.adversarial)

    def build_model(self):
        """The network with a head of ``num_classes``, from ``weights`` or random ones."""
        from keras_seg.hub import build
        from keras_seg.training.finetune import freeze_until, transfer_weights

        if self.weights and self.spec.num_classes != self.num_classes:
            model = build(self.model_name, num_classes=self.num_classes, **self.model_args)
            transfer_weights(build(self.model_name, weights=self.weights, **self.model_args),
                             model)
        else:
            model = build(self.model_name, weights=self.weights, num_classes=self.num_classes,
                          **self.model_args)
        if self.freeze_until:
            freeze_until(model, self.freeze_until)
        return model

    def recipe(self):
        """The family's fine-tuning recipe from trained weights, else the from-scratch one."""
        return default_recipe(
            bool(self.weights), self.spec.recipe, optimizer=self.optimizer,
            learning_rate=self.learning_rate, schedule=self.schedule,
            warmup_epochs=self.warmup_epochs, cooldown=self.cooldown, momentum=self.momentum,
            weight_decay=self.weight_decay)

    def make_optimizer(self, recipe=None):
        """The optimizer and schedule of ``recipe`` (default: :meth:`recipe`) for the run."""
        return make_optimizer(recipe or self.recipe(), self.steps_per_epoch, self.epochs)

    def loss(self):
        """Cross-entropy that skips the ignore label, with the class weights."""
        return MaskedSparseCrossEntropy(self.ignore_label, self.class_weights)

    def metrics(self):
        """Mean IoU and pixel accuracy from the epoch's confusion matrix."""
        return [ConfusionMatrixScore(self.num_classes, "mean_iou", self.ignore_label),
                ConfusionMatrixScore(self.num_classes, "pixel_accuracy", self.ignore_label)]

    def compile(self, model):
        """Compile a new model with the run's optimizer, loss and metrics."""
        model.compile(optimizer=self.make_optimizer(), loss=self.loss(),
                      metrics=self.metrics())

    def datasets(self, model):
        """(training, validation or None) ``tf.data`` pipelines in the model's convention."""
        from keras_seg.inference.preprocess import input_convention

        preprocess, target = input_convention(model), _target(model)
        initial_epoch = self.state["epoch"] if self.state else 0
        weight_map = None
        if self.unet_weights:
            from keras_seg.training.unet_weights import instance_weight_map

            weight_map = instance_weight_map(self.train_dir, self.num_classes,
                                             *self.unet_weights, ignore_label=self.ignore_label)
        train_ds = segmentation_dataset(
            self.pairs, num_classes=self.num_classes, preprocess=preprocess,
            batch_size=self.batch_size, augment=self.augment, repeat=True,
            ignore_label=self.ignore_label, seed=self.seed + initial_epoch,
            label_map=self.label_map, weight_map=weight_map, target=target,
            bad_files=BadFiles(skip=self.skip_bad_files, total=len(self.pairs)))
        val_ds = None
        if self.val_pairs:
            val_ds = segmentation_dataset(
                self.val_pairs, num_classes=self.num_classes, batch_size=1,
                preprocess=preprocess, shuffle=False, ignore_label=self.ignore_label,
                label_map=self.label_map, bad_files=BadFiles(total=len(self.val_pairs)),
                target=target)  # U-Net: images of valid sizes
        return train_ds, val_ds

    def callbacks(self, train_ds, val_ds):
        """Bad-file check, checkpoints, CSV log, curves and TensorBoard."""
        directory = self.directory
        plan = {"epochs": self.epochs, "steps_per_epoch": self.steps_per_epoch,
                "model": self.model_name, "num_classes": self.num_classes}
        callbacks = [
            BadFilesCallback(train_ds.bad_files, val_ds.bad_files if val_ds else None),
            checkpoints.AtomicCheckpoint(directory, "val_mean_iou" if val_ds else "mean_iou",
                                         plan),
            keras.callbacks.CSVLogger(str(directory / "log.csv"), append=bool(self.state)),
            TrainingCurves(directory / "log.csv", directory / "curves.png")]
        if self.tensorboard:
            callbacks.append(keras.callbacks.TensorBoard(str(directory / "tensorboard")))
        return callbacks

    def fit(self, model, train_ds, val_ds, callbacks):
        """Keras's ``fit``, or under ``multiworker`` the distributed loop; returns History."""
        initial_epoch = self.state["epoch"] if self.state else 0
        if self.strategy == "multiworker":
            return distributed.fit_distributed(
                model, self.distribution, train_ds, self.epochs, initial_epoch,
                self.steps_per_epoch, callbacks[:4], self.verbose and not self.worker)
        return model.fit(train_ds, validation_data=val_ds, epochs=self.epochs,
                         initial_epoch=initial_epoch, steps_per_epoch=self.steps_per_epoch,
                         callbacks=callbacks, verbose=self.verbose, shuffle=False)

    # -- helpers ------------------------------------------------------------------------------

    def median_class_weights(self):
        """Median-frequency class weights from the training masks (``class_weights="median"``)."""
        if self.class_weights != "median":
            raise InputError(f"class_weights must be 'median' or a list, got "
                             f"{self.class_weights!r}")
        histogram = class_histogram(self.pairs, self.num_classes, self.ignore_label,
                                    self.label_map)
        return median_frequency_weights(*histogram).tolist()

    def _forget_failed_start(self, existed):
        """A run that failed before its first checkpoint leaves nothing behind."""
        if self.state or checkpoints.read_state(self.directory) is not None:
            return
        checkpoints.clear_run(self.directory)
        if not existed and self.directory.is_dir() and not any(self.directory.iterdir()):
            self.directory.rmdir()


class AdversarialTraining(Trainer):
    """The training mode of Luc et al. (2016): the segmenter against an adversary.

    Wraps the network in :class:`~keras_seg.training.adversarial.AdversarialTrainer`
    (its own ``train_step``: ``adversary_steps`` adversary updates, then one segmenter
    update on cross-entropy plus ``adv_weight`` times the adversarial term) with the
    adversary ``adv_model`` (:data:`~keras_seg.models.discriminators.ADVERSARIES`) fed the
    ``adversarial`` input (``"basic"``, ``"product"``, ``"scaling"``), and gives the
    adversary an optimizer of its own: the from-scratch recipe at the run's peak rate.
    Checkpoints hold both networks; predict and evaluate use the segmenter inside.

    Example:
        >>> trainer_class("fcn8s", adversarial="basic").__name__
        'AdversarialTraining'
    """

    def check(self):
        _check_tensorflow_backend("--adversarial (its training step uses tf.GradientTape)")
        super().check()

    def build_model(self):
        from keras_seg.models.discriminators import build_adversary
        from keras_seg.training.adversarial import AdversarialTrainer

        return AdversarialTrainer(
            super().build_model(),
            build_adversary(self.adv_model, self.num_classes, self.adversarial),
            input_kind=self.adversarial, adv_weight=self.adv_weight,
            adversary_steps=self.adversary_steps, ignore_label=self.ignore_label)

    def adversary_optimizer(self):
        """The adversary's optimizer: from-scratch recipe at the segmenter's peak rate."""
        return self.make_optimizer(replace(FROM_SCRATCH,
                                           learning_rate=self.recipe().learning_rate))

    def compile(self, model):
        model.compile(optimizer=self.make_optimizer(), loss=self.loss(),
                      metrics=self.metrics(), adversary_optimizer=self.adversary_optimizer())


def _check_tensorflow_backend(what):
    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise InputError(f"{what} needs Keras's TensorFlow backend; KERAS_BACKEND is {backend} "
                         "(ordinary training and prediction run under any backend)")


def register_trainer(*model_names):
    """Make a :class:`Trainer` subclass the trainer of these registered models.

    Example:
        >>> @register_trainer("my_net")
        ... class MyTrainer(Trainer):
        ...     def loss(self):
        ...         return keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    """
    def register(cls):
        for name in model_names:
            _TRAINERS[name] = cls
        return cls

    return register


def trainer_class(model_name, adversarial=None):
    """The trainer of ``model_name`` (its family's, or :class:`Trainer`), in a mode.

    With ``adversarial`` the family's trainer is combined with :class:`AdversarialTraining`
    (the family's steps kept where the mode does not replace them).

    Example:
        >>> trainer_class("fcn8s").__name__
        'Trainer'
    """
    base = _TRAINERS.get(model_name, Trainer)
    if not adversarial:
        return base
    if base is Trainer:
        return AdversarialTraining
    return type(f"Adversarial{base.__name__}", (AdversarialTraining, base), {})


def class_histogram(pairs, num_classes, ignore_label=255, label_map=None):
    """(pixels per class, pixels of the images containing each class) over the masks."""
    pixels, image_pixels = np.zeros(num_classes), np.zeros(num_classes)
    for _, mask_path in pairs:
        mask = read_mask(mask_path)
        if label_map is not None:
            mask = np.asarray(label_map)[mask]
        counts = np.bincount(mask[(mask != ignore_label) & (mask < num_classes)].ravel(),
                             minlength=num_classes)[:num_classes]
        pixels += counts
        image_pixels += (counts > 0) * mask.size
    return pixels, image_pixels


def _target(model):
    """(margin, stride) to line the masks up with a network whose output is smaller."""
    from keras_seg.registry import spec_of

    spec = spec_of(model)
    if spec is None or (spec.geometry.margin == 0 and spec.geometry.stride == 1):
        return None
    return spec.geometry.margin, spec.geometry.stride


def check_crop_size(model_name, crop_size):
    """Refuse, before any work, a crop the network cannot take or gives no output for."""
    from keras_seg.registry import get_spec

    spec = get_spec(model_name)
    for size in crop_size:
        valid = spec.valid_size(size)
        if valid != size:
            raise InputError(f"--crop-size {size}: {model_name} takes sizes of the form "
                             f"{spec.size_rule[1]} + {spec.size_rule[0]}k from "
                             f"{spec.size_rule[2]}; the next is {valid}")
        if size <= 2 * spec.geometry.margin:
            raise InputError(f"--crop-size {size}: {model_name} spends "
                             f"{spec.geometry.margin} pixels of context each side; use more "
                             f"than {2 * spec.geometry.margin}")


def _check_unmatched(unmatched, allow):
    if unmatched and not allow:
        shown = ", ".join(unmatched[:3]) + (" ..." if len(unmatched) > 3 else "")
        raise InputError(f"{len(unmatched)} file(s) without a partner image or mask: {shown}; "
                         "pass --allow-unmatched to train on the matched pairs only")
