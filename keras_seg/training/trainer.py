"""The trainer: fine-tuning as separate steps that a family or a training mode overrides.

:class:`Trainer` runs a :class:`~keras_seg.training.config.TrainConfig` (the settings as
asked, frozen) and keeps what it derives from them in a :class:`RunState`; it does the work
in steps, each a method: :meth:`~Trainer.check` (everything refused before any work; it
derives the run's state), :meth:`~Trainer.build_model` (network and new head),
:meth:`~Trainer.recipe` and :meth:`~Trainer.make_optimizer`,
:meth:`~Trainer.loss`, :meth:`~Trainer.metrics`, :meth:`~Trainer.compile`,
:meth:`~Trainer.datasets`, :meth:`~Trainer.callbacks` and :meth:`~Trainer.fit`. A subclass
changes one step and keeps the others; :func:`register_trainer` makes it the trainer of a
family's models, and :class:`AdversarialTraining` is the training mode of Luc et al. (2016);
:func:`train` (``keras_seg.train``) runs the right trainer for a model in one call.
Every strategy runs the model's own ``train_step`` (Keras's ``fit``, or the distributed loop
of :mod:`keras_seg.training.distributed`), so a model with a step of its own trains the same
way on one device and on many. ``distribution="data-parallel"`` runs Keras's ``fit`` under
Keras's distribution API instead (JAX backend, :mod:`keras_seg.training.data_parallel`,
imported only then).
"""

import functools
import math
import os
import warnings
from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path

import keras
import numpy as np

from keras_seg.errors import ParameterError, ParameterWarning
from keras_seg.registration import register_with_keras
from keras_seg.training import checkpoints, distributed
from keras_seg.training.callbacks import BadFilesCallback, ScorePatience, TrainingCurves
from keras_seg.training.config import Augment, TrainConfig
from keras_seg.training.custom_augment import CustomAugment
from keras_seg.training.data import BadFiles, segmentation_dataset
from keras_seg.training.dataset_survey import check_training_data, survey
from keras_seg.training.layouts import LAYOUT_CLASSES, open_dataset
from keras_seg.training.losses import make_loss, median_frequency_weights
from keras_seg.training.mask_formats import IndexMasks
from keras_seg.training.metrics import ConfusionMatrixScore
from keras_seg.training.precision import precision_policy
from keras_seg.training.recipes import FROM_SCRATCH, default_recipe, make_optimizer

#: Trainer classes registered for model names (:func:`register_trainer`).
_TRAINERS = {}


@dataclass
class RunState:
    """What a run derives from its :class:`TrainConfig` (the config itself never changes).

    Attributes:
        pairs: training (image, mask reference) pairs.
        label_map: the layout's lookup from stored mask values to labels, or None.
        val_pairs: validation pairs, or None.
        augment: the augmentation used (the recipe's rescaling filled in).
        steps_per_epoch: steps per epoch (asked, or one pass over the pairs).
        distribution: the ``tf.distribute`` strategy (the default one for one device), or
            with ``distribution="data-parallel"`` the Keras distribution.
        worker: this worker's index (0: the chief, or a single machine; under data
            parallelism the process's).
        directory: this worker's checkpoint folder.
        writer: whether this worker writes checkpoints and logs (under data parallelism
            process 0 alone does).
        shard: ``(process index, process count)`` of a data-parallel cluster, whose
            processes each read their share of every batch; None: whole batches.
        resumed: the checkpoint's ``state.json`` of a resumed run, else None.
        class_weights: the loss's class weights (``"median"`` computed), or None.
        masks, val_masks: the readers of the training and validation masks' format
            (:mod:`~keras_seg.training.mask_formats`).
        class_names: the classes' names (kept in the model's metadata), or None.
        derived_labels: labelme class names made up from the files, written to the run
            folder as labels.txt; None otherwise.
    """

    pairs: list
    label_map: object
    val_pairs: list | None
    augment: Augment
    steps_per_epoch: int
    distribution: object
    worker: int
    directory: Path
    writer: bool = True
    shard: tuple | None = None
    resumed: dict | None = None
    class_weights: list | None = None
    masks: object = None
    val_masks: object = None
    class_names: tuple | None = None
    derived_labels: tuple | None = None

    @property
    def initial_epoch(self):
        """The epoch the run starts from (a resumed run's last complete one, else 0)."""
        return self.resumed["epoch"] if self.resumed else 0


class Trainer:
    """Fine-tune a model as a :class:`TrainConfig` asks, resumable after a kill.

    The optimisation follows a :class:`~keras_seg.training.recipes.Recipe`: from published
    weights the family's published fine-tuning recipe (``ModelSpec.recipe``: the paper's
    solver; the layers that start afresh for a new class count at ten times its rate), from
    random weights Adam at a constant 1e-3 (any field can be changed);
    the ``loss`` asked (cross-entropy by default) that skips ``ignore_label``; mean IoU
    and pixel accuracy from the epoch's confusion matrix; after every epoch a complete
    checkpoint (weights, optimizer state, epoch) in ``checkpoint_dir``, plus the best by
    validation mean IoU, a CSV log, its curves as a PNG and TensorBoard logs.

    Args:
        config: a :class:`TrainConfig`, or the model name followed by the training folder
            and the config's settings as keywords (``Trainer("fcn8s", "data",
            num_classes=5, checkpoint_dir="ckpt")``).

    Attributes:
        config: the settings as asked (frozen).
        run_state: the :class:`RunState` that :meth:`check` derives (None before).
        new_layers: names of the layers that :meth:`build_model` started afresh for a
            new class count (they learn at the recipe's ``new_layer_rate``).

    Example:
        >>> config = TrainConfig("fcn8s", "data/train", num_classes=5, checkpoint_dir="ckpt",
        ...                      epochs=2)
        >>> model, history = Trainer(config).run()  # doctest: +SKIP
    """

    #: Callbacks that need Keras's ``fit`` (left out of the multi-worker loop).
    fit_only_callbacks = (keras.callbacks.TensorBoard,)

    def __init__(self, config, train_dir=None, **settings):
        if not isinstance(config, TrainConfig):
            config = TrainConfig.from_settings(config, train_dir, **settings)
        elif train_dir is not None or settings:
            raise TypeError("Trainer(config) takes no other settings; change the config "
                            "with dataclasses.replace(config, ...)")
        self.config = config
        self.run_state = None
        self.new_layers = ()

    @functools.cached_property
    def spec(self):
        """The registered model's :class:`~keras_seg.registry.ModelSpec`."""
        from keras_seg.registry import get_spec

        return get_spec(self.config.model_name)

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
        config, state = self.config, self.run_state  # check() fills in a data-named count
        existed = state.directory.exists()
        state.resumed = checkpoints.prepare_checkpoint_dir(
            state.directory, resume=config.resume, overwrite=config.overwrite,
            writer=state.writer)
        self.check_resume()
        if state.derived_labels and not state.resumed and state.writer:
            checkpoints.write_labels_file(state.directory, state.derived_labels)
        median = isinstance(config.class_weights, str)  # the config allows only "median"
        state.class_weights = (self.median_class_weights() if median
                               else config.class_weights)
        # the global policy is the process's: set for this run, the caller's one after
        with precision_policy("mixed_float16" if config.mixed_precision else None):
            with state.distribution.scope():
                if state.resumed:
                    register_with_keras()  # the classes the checkpoint names
                    model = keras.saving.load_model(state.directory / state.resumed["last"])
                    checkpoints.stretch_schedule(model.optimizer, state.resumed, config.epochs,
                                                 state.steps_per_epoch, config.verbose)
                else:
                    keras.utils.set_random_seed(config.seed)  # same seed, same initial weights
                    model = self.build_model()
                    self.compile(model)
            train_ds, val_ds = self.datasets(model)
            try:
                history = self.fit(model, train_ds, val_ds, self.callbacks(train_ds, val_ds))
            except BaseException:
                self._forget_failed_start(existed)
                raise
        if config.verbose and train_ds.bad_files.failures:
            print(train_ds.bad_files.summary())
        return model, history

    # -- the steps ---------------------------------------------------------------------------

    def check(self):
        """Everything refused before any work: files, crop size; derives :attr:`run_state`."""
        config = self.config
        if config.distribution:  # joins the cluster before JAX computes anything
            _check_backend("jax", "{distribution} {value} (Keras's distribution API)",
                           value=config.distribution)
            from keras_seg.training import data_parallel

            distribution = data_parallel.join_cluster()
            data_parallel.check_batch_size(config.batch_size, distribution)
        formats = {"colors": config.colors, "ignore_label": config.ignore_label}
        source = open_dataset(config.train_dir, config.layout, config.split,
                              annotations=config.annotations, classes=config.classes,
                              **formats)
        val_source = None
        if config.val_dir:  # labelme: the training set's class order
            val_source = open_dataset(config.val_dir, config.layout, config.val_split,
                                      classes=source.class_names, **formats)
        _check_unmatched([*source.unmatched, *(val_source.unmatched if val_source else [])],
                         config.allow_unmatched)
        if config.num_classes is None:  # the data's own count; replace() checks it again
            config = self.config = replace(config, num_classes=_named_count(
                source.class_names or LAYOUT_CLASSES.get(config.layout), config.verbose))
        _check_class_names(source.class_names, config.num_classes)
        report = survey(source, config.num_classes, config.ignore_label)
        for note in report.notes:
            warnings.warn(note, stacklevel=2)
        check_training_data(report, config.num_classes, config.ignore_label,
                            config.allow_mostly_ignored, config.skip_bad_files)
        if val_source is not None and getattr(source.masks, "binary", False):
            val_source.masks.binary = True
        pairs, label_map = source.pairs, source.label_map
        val_pairs = val_source.pairs if val_source else None
        augment = config.augment or Augment(config.crop_size)
        if augment.scale is None:  # the recipe's: rescaling when fine-tuning, none from scratch
            augment = replace(augment, scale=self.recipe().scale)
        check_crop_size(config.model_name, augment.crop_size)
        if augment.custom is not None:  # a broken function stops the run before any work
            CustomAugment(augment.custom).check(augment.crop_size, config.num_classes,
                                                config.ignore_label)
        directory, shard = Path(config.checkpoint_dir), None
        if config.distribution:
            worker = distribution.process_index
            if distribution.process_count > 1:
                shard = (worker, distribution.process_count)
        else:
            if config.strategy:
                _check_backend("tensorflow", "{strategy} {value} (tf.distribute)",
                               value=config.strategy)
            distribution = distributed.get_strategy(config.strategy)
            worker = (distributed.worker_index(distribution)
                      if config.strategy == "multiworker" else 0)
            if worker:
                directory = directory / f"worker-{worker}"
        self.run_state = RunState(
            pairs, label_map, val_pairs, augment,
            steps_per_epoch=config.steps_per_epoch or math.ceil(len(pairs) / config.batch_size),
            distribution=distribution, worker=worker, directory=directory,
            writer=not (config.distribution and worker), shard=shard, masks=source.masks,
            val_masks=val_source.masks if val_source else None,
            class_names=source.class_names, derived_labels=source.derived_labels)

    def check_resume(self):
        """With ``resume``: the saved run must be the same and unfinished."""
        config, state = self.config, self.run_state
        if not state.resumed:
            return
        if state.resumed["epoch"] >= config.epochs:
            raise ParameterError("{resume}: the run in {directory} is already at epoch "
                                 "{epoch}; ask for more with {epochs}",
                                 directory=state.directory, epoch=state.resumed["epoch"])
        ignored = checkpoints.check_same_run(
            state.resumed, config.model_name, config.num_classes,
            optimizer=config.optimizer, learning_rate=config.learning_rate,
            schedule=config.schedule, warmup_epochs=config.warmup_epochs,
            cooldown=config.cooldown, weight_decay=config.weight_decay,
            momentum=config.momentum, new_layer_rate=config.new_layer_rate,
            weights=config.weights, adversarial=config.adversarial,
            loss=config.loss)
        if ignored and config.verbose:
            names = ", ".join(f"{{{name}}}" for name in ignored)
            warnings.warn(ParameterWarning(f"resuming: {names} ignored (the checkpoint's model "
                                           "and optimizer continue)"), stacklevel=2)

    def build_model(self):
        """The network with a head of ``num_classes``, from ``weights`` or random ones."""
        from keras_seg.convert.load import load_matching
        from keras_seg.pretrained import build
        from keras_seg.training.finetune import (
            freeze_until,
            transfer_weights,
            zero_new_classifier,
        )

        config = self.config
        name, weights, num_classes = config.model_name, config.weights, config.num_classes
        kept = []
        if not weights:
            model = build(name, num_classes=num_classes, **config.model_args)
        elif os.path.isfile(weights):  # one's own file: its head may have any class count
            model = build(name, num_classes=num_classes, **config.model_args)
            kept = load_matching(model, weights, num_classes)[1]
        else:  # a record or preset: built as its file needs, then given the new head
            model = build(name, weights=weights, **config.model_args)
            if int(model.output_shape[-1]) != num_classes:
                trained = model
                model = build(name, **{**trained.metadata.get("builder_args", {}),
                                       **config.model_args, "num_classes": num_classes})
                kept = transfer_weights(trained, model)[1]
        zeroed = zero_new_classifier(model, kept)
        self.new_layers = tuple(kept)  # learn at the recipe's new_layer_rate
        if kept and config.verbose:
            print(f"from {weights}: {', '.join(kept)} start afresh for {num_classes} classes"
                  + (f" ({zeroed} at zero)" if zeroed else ""))
        if config.freeze_until:
            freeze_until(model, config.freeze_until)
        names = self.run_state.class_names if self.run_state else None
        if names and len(names) == num_classes:  # kept in every checkpoint and report
            model.metadata = {**model.metadata, "classes": list(names)}
        return model

    def recipe(self):
        """The family's fine-tuning recipe from trained weights, else the from-scratch one."""
        config = self.config
        return default_recipe(
            bool(config.weights), self.spec.recipe, optimizer=config.optimizer,
            learning_rate=config.learning_rate, schedule=config.schedule,
            warmup_epochs=config.warmup_epochs, cooldown=config.cooldown,
            momentum=config.momentum, weight_decay=config.weight_decay,
            new_layer_rate=config.new_layer_rate)

    def make_optimizer(self, recipe=None):
        """The optimizer and schedule of ``recipe`` (default: :meth:`recipe`) for the run."""
        return make_optimizer(recipe or self.recipe(), self.run_state.steps_per_epoch,
                              self.config.epochs, new_layers=self.new_layers)

    def loss(self):
        """The ``loss`` asked (cross-entropy by default), skipping the ignore label, weighted."""
        config = self.config
        return make_loss(self.loss_name, config.num_classes, config.ignore_label,
                         self.run_state.class_weights)

    @property
    def loss_name(self):
        """The run's loss setting: the one asked, else the checkpoint's, else ``"ce"``."""
        resumed = (self.run_state and self.run_state.resumed) or {}
        return self.config.loss or (resumed.get("plan") or {}).get("loss", "ce")

    def metrics(self):
        """Mean IoU and pixel accuracy from the epoch's confusion matrix."""
        classes, ignore = self.config.num_classes, self.config.ignore_label
        return [ConfusionMatrixScore(classes, "mean_iou", ignore),
                ConfusionMatrixScore(classes, "pixel_accuracy", ignore)]

    def compile(self, model):
        """Compile a new model with the run's optimizer, loss and metrics."""
        model.compile(optimizer=self.make_optimizer(), loss=self.loss(),
                      metrics=self.metrics())

    def datasets(self, model):
        """(training, validation or None) ``tf.data`` pipelines in the model's convention."""
        from keras_seg.inference.preprocess import input_convention

        config, state = self.config, self.run_state
        preprocess, target = input_convention(model), _target(model)
        weight_map = None
        if config.unet_weights:
            from keras_seg.training.unet_weights import instance_weight_map

            weight_map = instance_weight_map(config.train_dir, config.num_classes,
                                             *config.unet_weights,
                                             ignore_label=config.ignore_label)
        train_ds = segmentation_dataset(
            state.pairs, num_classes=config.num_classes, preprocess=preprocess,
            batch_size=config.batch_size, augment=state.augment, repeat=True,
            ignore_label=config.ignore_label, seed=config.seed + state.initial_epoch,
            label_map=state.label_map, weight_map=weight_map, target=target,
            bad_files=BadFiles(skip=config.skip_bad_files, total=len(state.pairs)),
            masks=state.masks, shard=state.shard)
        val_ds = None
        if state.val_pairs:
            val_ds = segmentation_dataset(
                state.val_pairs, num_classes=config.num_classes, batch_size=1,
                preprocess=preprocess, shuffle=False, ignore_label=config.ignore_label,
                label_map=state.label_map, bad_files=BadFiles(total=len(state.val_pairs)),
                target=target, masks=state.val_masks)  # U-Net: images of valid sizes
        return train_ds, val_ds

    def callbacks(self, train_ds, val_ds):
        """Bad-file check, checkpoints, CSV log, curves, early stopping and TensorBoard.

        A worker that writes nothing (:attr:`RunState.writer`) keeps the bad-file check and
        early stopping (whose logs are the same in every process).
        """
        config, state = self.config, self.run_state
        directory, score = state.directory, "val_mean_iou" if val_ds else "mean_iou"
        plan = {"epochs": config.epochs, "steps_per_epoch": state.steps_per_epoch,
                "model": config.model_name, "num_classes": config.num_classes,
                "loss": self.loss_name}
        callbacks = [
            BadFilesCallback(train_ds.bad_files, val_ds.bad_files if val_ds else None)]
        if config.distribution and val_ds:
            from keras_seg.training.data_parallel import ValidateWhole

            callbacks.append(ValidateWhole(state.distribution))
        if state.writer:
            callbacks += [
                checkpoints.AtomicCheckpoint(directory, score, plan),
                keras.callbacks.CSVLogger(str(directory / "log.csv"),
                                          append=bool(self.run_state.resumed)),
                TrainingCurves(directory / "log.csv", directory / "curves.png")]
        if config.patience:
            resumed = state.resumed or {}
            callbacks.append(ScorePatience(score, config.patience, state.initial_epoch,
                                           resumed.get("best"), resumed.get("best_epoch"),
                                           verbose=config.verbose))
        if config.tensorboard and state.writer:
            callbacks.append(keras.callbacks.TensorBoard(str(directory / "tensorboard")))
        return callbacks

    def fit(self, model, train_ds, val_ds, callbacks):
        """Keras's ``fit``, or under ``multiworker`` the distributed loop; returns History.

        The distributed loop runs every callback but those of :attr:`fit_only_callbacks`;
        under ``distribution`` Keras's ``fit`` runs in the distribution's scope, showing
        progress in process 0 only.
        """
        config, state = self.config, self.run_state
        if config.strategy == "multiworker":
            looped = [c for c in callbacks if not isinstance(c, self.fit_only_callbacks)]
            return distributed.fit_distributed(
                model, state.distribution, train_ds, config.epochs, state.initial_epoch,
                state.steps_per_epoch, looped, config.verbose and not state.worker)
        scope = state.distribution.scope() if config.distribution else nullcontext()
        with scope:
            return model.fit(train_ds, validation_data=val_ds, epochs=config.epochs,
                             initial_epoch=state.initial_epoch,
                             steps_per_epoch=state.steps_per_epoch, callbacks=callbacks,
                             verbose=config.verbose if state.writer else 0, shuffle=False)

    # -- helpers ------------------------------------------------------------------------------

    def median_class_weights(self):
        """Median-frequency class weights from the training masks (``class_weights="median"``)."""
        config, state = self.config, self.run_state
        histogram = class_histogram(state.pairs, config.num_classes, config.ignore_label,
                                    state.label_map, state.masks)
        return median_frequency_weights(*histogram).tolist()

    def _forget_failed_start(self, existed):
        """A run that failed before its first checkpoint leaves nothing behind."""
        state = self.run_state
        directory = state.directory
        if (not state.writer or state.resumed
                or checkpoints.read_state(directory) is not None):
            return
        checkpoints.clear_run(directory)
        if not existed and directory.is_dir() and not any(directory.iterdir()):
            directory.rmdir()


class AdversarialTraining(Trainer):
    """The training mode of Luc et al. (2016): the segmenter against an adversary.

    Wraps the network in :class:`~keras_seg.training.adversarial.AdversarialTrainer`
    (its own ``train_step``: ``adversary_steps`` adversary updates, then one segmenter
    update on the run's loss plus ``adv_weight`` times the adversarial term) with the
    adversary ``adv_model`` (:data:`~keras_seg.models.discriminators.ADVERSARIES`) fed the
    ``adversarial`` input (``"basic"``, ``"product"``, ``"scaling"``), and gives the
    adversary an optimizer of its own: the from-scratch recipe at the run's peak rate.
    Checkpoints hold both networks; predict and evaluate use the segmenter inside.

    Example:
        >>> trainer_class("fcn8s", adversarial="basic").__name__
        'AdversarialTraining'
    """

    def check(self):
        _check_backend("tensorflow", "{adversarial} (its training step uses tf.GradientTape)")
        super().check()

    def build_model(self):
        from keras_seg.models.discriminators import build_adversary
        from keras_seg.training.adversarial import AdversarialTrainer

        config = self.config
        weight, adversary, steps = config.adversary
        return AdversarialTrainer(
            super().build_model(),
            build_adversary(adversary, config.num_classes, config.adversarial),
            input_kind=config.adversarial, adv_weight=weight, adversary_steps=steps,
            ignore_label=config.ignore_label)

    def adversary_optimizer(self):
        """The adversary's optimizer: from-scratch recipe at the segmenter's peak rate."""
        return self.make_optimizer(replace(FROM_SCRATCH,
                                           learning_rate=self.recipe().learning_rate))

    def compile(self, model):
        model.compile(optimizer=self.make_optimizer(), loss=self.loss(),
                      metrics=self.metrics(), adversary_optimizer=self.adversary_optimizer())


#: How messages name Keras's backends.
_BACKEND_NAMES = {"tensorflow": "TensorFlow", "jax": "JAX"}


def _check_backend(needed, what, **values):
    backend = keras.backend.backend()
    if backend != needed:
        raise ParameterError(what + f" needs Keras's {_BACKEND_NAMES[needed]} backend "
                             f"(KERAS_BACKEND={needed}); KERAS_BACKEND is {{backend}} (ordinary "
                             "training and prediction run under any backend)", backend=backend,
                             **values)


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


def class_histogram(pairs, num_classes, ignore_label=255, label_map=None, masks=None):
    """(pixels per class, pixels of the images containing each class) over the masks.

    ``masks``: the reader of the masks' format (default: index masks through ``label_map``).

    Example:
        >>> pixels, image_pixels = class_histogram(pairs, 5)  # doctest: +SKIP
    """
    masks = masks if masks is not None else IndexMasks(label_map)
    pixels, image_pixels = np.zeros(num_classes), np.zeros(num_classes)
    for _, mask_path in pairs:
        mask = masks.read(mask_path)
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
            raise ParameterError(
                "{crop_size} {size}: {model} takes sizes of the form {offset} + {step}k from "
                "{smallest}; the next is {valid}", size=size, model=model_name,
                offset=spec.size_rule[1], step=spec.size_rule[0], smallest=spec.size_rule[2],
                valid=valid)
        if size <= 2 * spec.geometry.margin:
            raise ParameterError(
                "{crop_size} {size}: {model} spends {margin} pixels of context each side; use "
                "more than {least}", size=size, model=model_name, margin=spec.geometry.margin,
                least=2 * spec.geometry.margin)


def _named_count(names, verbose):
    """How many classes the dataset names; refused where it names none."""
    if not names:
        raise ParameterError("{num_classes} is needed: the masks hold class indices and nothing "
                             "names the classes (a colour map, labels.txt, COCO categories or "
                             "{classes} would)")
    if verbose:
        shown = ", ".join(names[:8]) + (" ..." if len(names) > 8 else "")
        print(f"{len(names)} classes, as the data names them: {shown}")
    return len(names)


def _check_class_names(names, num_classes):
    if names is not None and len(names) != num_classes:
        raise ParameterError("the dataset names {count} classes ({shown}) but {num_classes} "
                             "is {value}", count=len(names), value=num_classes,
                             shown=", ".join(names[:8]) + (" ..." if len(names) > 8 else ""))


def _check_unmatched(unmatched, allow):
    if unmatched and not allow:
        shown = ", ".join(unmatched[:3]) + (" ..." if len(unmatched) > 3 else "")
        raise ParameterError("{count} file(s) without a partner image or mask: {shown}; pass "
                             "{allow_unmatched} to train on the matched pairs only",
                             count=len(unmatched), shown=shown)


def train(model_name, train_dir=None, **settings):
    """Fine-tune a model: :meth:`Trainer.run` with the model's trainer class.

    Args:
        model_name: registered model, or a whole
            :class:`~keras_seg.training.config.TrainConfig` (then nothing else).
        train_dir: dataset root.
        **settings: the :class:`~keras_seg.training.config.TrainConfig` fields
            (``num_classes`` and ``checkpoint_dir`` required).

    Returns:
        (model, history).

    Raises:
        TypeError: an unknown setting (named).
        ParameterError: a setting out of range, or one that needs another, before any work.

    Example:
        >>> model, history = train("fcn8s", "data/train", num_classes=5, val_dir="data/val",
        ...                        checkpoint_dir="ckpt", weights="fcn8s")
        ... # doctest: +SKIP
    """
    if isinstance(model_name, TrainConfig):
        if train_dir is not None or settings:
            raise TypeError("train(config) takes no other settings; change the config with "
                            "dataclasses.replace(config, ...)")
        config = model_name
    else:
        config = TrainConfig.from_settings(model_name, train_dir, **settings)
    return trainer_class(config.model_name, config.adversarial)(config).run()
