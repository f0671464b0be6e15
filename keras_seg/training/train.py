"""Fine-tune a registered network on an image/mask folder, resumable after a kill."""

import math
from pathlib import Path

import keras
import numpy as np

import keras_seg.layers  # noqa: F401  (registers the custom layers that checkpoints name)
from keras_seg.errors import InputError
from keras_seg.inference.preprocess import input_convention
from keras_seg.training.checkpoints import AtomicCheckpoint, read_state
from keras_seg.training.data import (
    Augment,
    BadFiles,
    read_mask,
    segmentation_dataset,
)
from keras_seg.training.layouts import dataset_pairs
from keras_seg.training.losses import MaskedSparseCrossEntropy, median_frequency_weights
from keras_seg.training.metrics import ConfusionMatrixScore
from keras_seg.training.recipes import default_recipe, make_optimizer


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


def train(model_name, train_dir, *, num_classes, checkpoint_dir, val_dir=None,
          crop_size=(320, 320), batch_size=8, epochs=10, learning_rate=None, momentum=None,
          optimizer=None, schedule=None, warmup_epochs=None, weight_decay=None,
          weights=None, resume=False, freeze_until=None, class_weights=None, ignore_label=255,
          augment=None, steps_per_epoch=None, seed=0, model_args=None, mixed_precision=False,
          strategy=None, tensorboard=True, verbose=1, layout="folder", split="train",
          val_split="val", skip_bad_files=False, allow_unmatched=False, overwrite=False,
          unet_weights=None, adversarial=None, adv_weight=0.1, adv_model="large_fov_light",
          adversary_steps=1):
    """Fine-tune ``model_name`` on ``train_dir/images`` + ``train_dir/masks``.

    The optimisation follows a :class:`~keras_seg.training.recipes.Recipe`: from published
    weights the originals' SGD with momentum and the poly schedule, from random weights
    Adam with a cosine schedule and one epoch of warm-up (any field can be changed);
    cross-entropy that skips ``ignore_label``, mean IoU and pixel accuracy from the epoch's
    confusion matrix; after every epoch a complete checkpoint (weights, optimizer state,
    epoch) in ``checkpoint_dir``, plus the best by validation mean IoU, a CSV log and
    TensorBoard logs.

    Args:
        model_name: registered model.
        train_dir: dataset root: a folder with ``images/`` and ``masks/``, or the root of
            a ``layout``.
        num_classes: classes of the new head.
        checkpoint_dir: where checkpoints and logs go.
        val_dir: optional validation folder (scored on whole images).
        crop_size: (h, w) training crops.
        batch_size: crops per step (global, over all devices).
        epochs: total epochs (a resumed run continues up to this number).
        learning_rate: peak learning rate (default: the recipe's, 1e-3).
        momentum: SGD momentum (default 0.9).
        optimizer: ``"sgd"``, ``"adam"``, ``"adamw"`` or ``"rmsprop"`` (default: the
            recipe's).
        schedule: ``"poly"``, ``"cosine"`` or ``"constant"`` (default: the recipe's).
        warmup_epochs: epochs of linear warm-up (default: the recipe's).
        weight_decay: decoupled weight decay, never on biases or norms (default 0).
        weights: weights of the original head (any format of ``load_weights``) to start from;
            the score layers are re-initialised when ``num_classes`` differs.
        resume: continue from the last checkpoint in ``checkpoint_dir``.
        freeze_until: freeze the layers up to and including this one.
        class_weights: None, ``"median"`` (median-frequency weights from the masks) or a list.
        ignore_label: label value skipped by loss and metrics.
        augment: an :class:`~keras_seg.training.data.Augment` (default: scale 0.5-2, flips).
        steps_per_epoch: default: one pass over the training images.
        seed: seed of the initial weights, shuffling and augmentation.
        model_args: extra builder arguments (``{"widths": ...}``).
        mixed_precision: train with the ``mixed_float16`` policy.
        strategy: None, ``"mirrored"`` (``tf.distribute.MirroredStrategy`` over the local
            devices) or ``"multiworker"`` (``MultiWorkerMirroredStrategy``, cluster from
            ``TF_CONFIG``; every worker runs this same call). Keras 3's ``fit`` does not run
            under the latter (keras-team/keras#20585), so it uses a distributed loop of its
            own around the model's ``train_step`` (loss and metrics logged); non-chief
            workers checkpoint into
            ``checkpoint_dir/worker-<i>``.
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
        adversarial: None, or the adversary's input (``"basic"``, ``"product"``,
            ``"scaling"``) to train against an adversary (Luc et al. 2016; see
            :class:`~keras_seg.training.adversarial.AdversarialTrainer`). Checkpoints then
            hold both networks; predict and evaluate use the segmenter inside.
        adv_weight: lambda, the weight of the adversarial term.
        adv_model: the adversary (:data:`~keras_seg.models.discriminators.ADVERSARIES`).
        adversary_steps: adversary updates per segmenter update.
        unet_weights: ``(w0, sigma)`` to weight every pixel's loss by U-Net's map (class
            balancing plus the border term), computed from instance masks in
            ``train_dir/instances/`` (the paper: ``(10, 5)``); None: plain loss.

    Returns:
        (model, history).

    Raises:
        ValueError: before any work for unmatched files, a checkpoint folder that holds
            another run (or, with ``resume``, none); during training for the first bad
            file, naming it (nothing is kept of a run that fails in its first epoch).

    Example:
        >>> model, history = train("fcn8s", "data/train", num_classes=5, val_dir="data/val",
        ...                        checkpoint_dir="ckpt", weights="fcn8s")
        ... # doctest: +SKIP
    """
    pairs, mapping, unmatched = dataset_pairs(train_dir, layout, split)
    val_pairs, val_unmatched = None, []
    if val_dir:
        val_pairs, _, val_unmatched = dataset_pairs(val_dir, layout, val_split)
    _check_unmatched([*unmatched, *val_unmatched], allow_unmatched)
    check_crop_size(model_name, (augment.crop_size if augment else tuple(crop_size)))
    steps_per_epoch = steps_per_epoch or math.ceil(len(pairs) / batch_size)
    distribution = _strategy(strategy)
    checkpoint_dir = Path(checkpoint_dir)
    worker = _worker_index(distribution) if strategy == "multiworker" else 0
    if worker:
        checkpoint_dir = checkpoint_dir / f"worker-{worker}"
    existed = checkpoint_dir.exists()
    state = prepare_checkpoint_dir(checkpoint_dir, resume=resume, overwrite=overwrite)
    if state and state["epoch"] >= epochs:
        raise InputError(f"--resume: the run in {checkpoint_dir} is already at epoch "
                         f"{state['epoch']}; ask for more with --epochs")
    if state:
        _check_same_run(state, model_name, num_classes, verbose,
                        optimizer=optimizer, lr=learning_rate, schedule=schedule,
                        warmup_epochs=warmup_epochs, weight_decay=weight_decay,
                        momentum=momentum, weights=weights, adversarial=adversarial)
    if isinstance(class_weights, str):
        if class_weights != "median":
            raise ValueError(f"class_weights must be 'median' or a list, got {class_weights!r}")
        class_weights = median_frequency_weights(*class_histogram(
            pairs, num_classes, ignore_label, mapping)).tolist()
    if mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")
    initial_epoch = state["epoch"] if state else 0
    with distribution.scope():
        if state:
            model = keras.saving.load_model(Path(checkpoint_dir) / state["last"])
            _stretch_schedule(model.optimizer, state, epochs, steps_per_epoch, verbose)
        else:
            keras.utils.set_random_seed(seed)  # the same seed, the same initial weights
            model = _new_model(model_name, num_classes, weights, freeze_until, model_args or {})
            recipe = default_recipe(
                bool(weights), optimizer=optimizer, learning_rate=learning_rate,
                schedule=schedule, warmup_epochs=warmup_epochs, momentum=momentum,
                weight_decay=weight_decay)
            compile_args = {}
            if adversarial:
                from keras_seg.models.discriminators import build_adversary
                from keras_seg.training.adversarial import AdversarialTrainer

                model = AdversarialTrainer(
                    model, build_adversary(adv_model, num_classes, adversarial),
                    input_kind=adversarial, adv_weight=adv_weight,
                    adversary_steps=adversary_steps, ignore_label=ignore_label)
                compile_args["adversary_optimizer"] = make_optimizer(
                    default_recipe(False, learning_rate=recipe.learning_rate),
                    steps_per_epoch, epochs)
            model.compile(
                optimizer=make_optimizer(recipe, steps_per_epoch, epochs),
                loss=MaskedSparseCrossEntropy(ignore_label, class_weights),
                metrics=[ConfusionMatrixScore(num_classes, "mean_iou", ignore_label),
                         ConfusionMatrixScore(num_classes, "pixel_accuracy", ignore_label)],
                **compile_args,
            )
    preprocess = input_convention(model)
    augment = augment or Augment(tuple(crop_size))
    target = _target(model)
    bad_files = BadFiles(skip=skip_bad_files, total=len(pairs))
    weight_map = None
    if unet_weights:
        from keras_seg.training.unet_weights import instance_weight_map

        weight_map = instance_weight_map(train_dir, num_classes, *unet_weights,
                                         ignore_label=ignore_label)
    train_ds = segmentation_dataset(pairs, num_classes=num_classes, preprocess=preprocess,
                                    batch_size=batch_size, augment=augment, repeat=True,
                                    ignore_label=ignore_label, seed=seed + initial_epoch,
                                    label_map=mapping, bad_files=bad_files,
                                    weight_map=weight_map, target=target)
    val_ds = None
    if val_pairs:
        val_ds = segmentation_dataset(val_pairs, num_classes=num_classes, batch_size=1,
                                      preprocess=preprocess, shuffle=False,
                                      ignore_label=ignore_label, label_map=mapping,
                                      bad_files=BadFiles(total=len(val_pairs)),
                                      target=target)  # U-Net: images of valid sizes
    directory = checkpoint_dir
    plan = {"epochs": epochs, "steps_per_epoch": steps_per_epoch, "model": model_name,
            "num_classes": num_classes}
    callbacks = [BadFilesCallback(train_ds.bad_files, val_ds.bad_files if val_ds else None),
                 AtomicCheckpoint(directory, "val_mean_iou" if val_ds else "mean_iou", plan),
                 keras.callbacks.CSVLogger(str(directory / "log.csv"), append=bool(state)),
                 TrainingCurves(directory / "log.csv", directory / "curves.png")]
    if tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(str(directory / "tensorboard")))
    try:
        if strategy == "multiworker":
            history = _fit_distributed(model, distribution, train_ds, epochs, initial_epoch,
                                       steps_per_epoch, callbacks[:4], verbose and not worker)
        else:
            history = model.fit(train_ds, validation_data=val_ds, epochs=epochs,
                                initial_epoch=initial_epoch, steps_per_epoch=steps_per_epoch,
                                callbacks=callbacks, verbose=verbose, shuffle=False)
    except BaseException:
        if not state and read_state(directory) is None:  # failed before its first checkpoint
            clear_run(directory)
            if not existed and directory.is_dir() and not any(directory.iterdir()):
                directory.rmdir()
        raise
    if verbose and bad_files.failures:
        print(bad_files.summary())
    return model, history


class BadFilesCallback(keras.callbacks.Callback):
    """Stop training with one clear error from the main thread when a pair failed to load.

    Args:
        train_files: the training pipeline's :class:`~keras_seg.training.data.BadFiles`.
        val_files: the validation pipeline's, or None.
    """

    def __init__(self, train_files, val_files=None):
        super().__init__()
        self.files = [f for f in (train_files, val_files) if f is not None]

    def _check(self, *_, **__):
        for files in self.files:
            files.check()

    on_train_batch_end = on_test_batch_end = on_epoch_end = _check


class TrainingCurves(keras.callbacks.Callback):
    """Redraw the loss and score curves beside ``log.csv`` after every epoch.

    Args:
        log_csv: the CSV log (written by ``keras.callbacks.CSVLogger`` before this runs).
        path: the PNG.
    """

    def __init__(self, log_csv, path):
        super().__init__()
        self.log_csv, self.path = log_csv, path

    def on_epoch_end(self, epoch, logs=None):
        from keras_seg.plots import plot_training_curves

        plot_training_curves(self.log_csv, self.path)


def prepare_checkpoint_dir(directory, *, resume=False, overwrite=False):
    """Check a checkpoint folder before any work; returns the state to resume, or None.

    Args:
        directory: the checkpoint folder.
        resume: continue the run recorded there (it must exist).
        overwrite: remove another run's files instead of refusing to start.

    Raises:
        InputError: ``resume`` and no run to continue; a fresh run into a folder that holds
            one, without ``overwrite``.

    Example:
        >>> prepare_checkpoint_dir("ckpt-new")  # doctest: +SKIP
    """
    directory = Path(directory)
    if resume:
        if not directory.is_dir():
            raise InputError(f"--resume: {directory} does not exist; nothing to continue")
        state = read_state(directory)
        if state is None:
            raise InputError(f"--resume: {directory} holds no checkpoint (no state.json) to "
                             "continue; leave out --resume to start a new run")
        return state
    if _run_files(directory):
        if not overwrite:
            state = read_state(directory)
            what = f"a run at epoch {state['epoch']}" if state else "another run's files"
            raise InputError(f"{directory} holds {what}; pass --resume to continue it or "
                             "--overwrite to start afresh")
        clear_run(directory)
    return None


def clear_run(directory):
    """Remove the files a training run writes in ``directory`` (nothing else)."""
    import shutil

    for path in _run_files(directory):
        shutil.rmtree(path) if path.is_dir() else path.unlink()


def _run_files(directory):
    directory = Path(directory)
    if not directory.is_dir():
        return []
    names = ("state.json", "log.csv", "tensorboard", "best.keras", "curves.png")
    return sorted(p for p in directory.iterdir()
                  if p.name in names or p.suffix == ".keras" or p.name.startswith(".epoch-")
                  or p.name.startswith(".best"))


def _check_same_run(state, model_name, num_classes, verbose, **settings):
    """A resumed run continues the saved model and optimizer: refuse or say what is kept."""
    plan = state.get("plan") or {}
    for key, value in (("model", model_name), ("num_classes", num_classes)):
        if plan.get(key, value) != value:
            raise InputError(f"--resume: the run was started with {key} {plan[key]!r}, not "
                             f"{value!r}; start a new run (another --checkpoint-dir or "
                             "--overwrite) to change it")
    ignored = [f"--{key.replace('_', '-')}" for key, value in settings.items()
               if value is not None]
    if ignored and verbose:
        print(f"resuming: {', '.join(ignored)} ignored (the checkpoint's model and optimizer "
              "continue)")


def _target(model):
    """(margin, stride) to line the masks up with a network whose output is smaller."""
    from keras_seg.inference.predict import _registered_spec

    spec = _registered_spec(getattr(model, "segmenter", model))
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


def _stretch_schedule(optimizer, state, epochs, steps_per_epoch, verbose):
    """On resume, fit the saved poly schedule to a changed number of epochs or steps."""
    schedule = optimizer._learning_rate  # the saved schedule object
    plan = state.get("plan") or {}
    total = epochs * steps_per_epoch
    if not hasattr(schedule, "decay_steps") or schedule.decay_steps == total:
        return
    before = plan.get("epochs", "?")
    if verbose:
        print(f"resuming: the learning-rate schedule was planned for {before} epochs "
              f"({schedule.decay_steps} steps); stretched to {epochs} epochs ({total} steps)")
    schedule.decay_steps = total


def _new_model(model_name, num_classes, weights, freeze_until, model_args):
    from keras_seg.hub import build
    from keras_seg.registry import get_spec
    from keras_seg.training.finetune import freeze_until as freeze
    from keras_seg.training.finetune import transfer_weights

    original = get_spec(model_name).num_classes
    if weights and original != num_classes:
        model = build(model_name, num_classes=num_classes, **model_args)
        transfer_weights(build(model_name, weights=weights, **model_args), model)
    else:
        model = build(model_name, weights=weights, num_classes=num_classes, **model_args)
    if freeze_until:
        freeze(model, freeze_until)
    return model


def _worker_index(distribution):
    resolver = distribution.cluster_resolver
    return 0 if resolver.task_type == "chief" else int(resolver.task_id or 0) + (
        1 if "chief" in resolver.cluster_spec().jobs else 0)


def _fit_distributed(model, distribution, dataset, epochs, initial_epoch, steps, callbacks,
                     verbose):
    """A distributed training loop (``fit`` fails under MultiWorkerMirroredStrategy).

    Each replica runs the model's own ``train_step`` (as ``fit`` does), so a model class
    with a training step of its own (adversarial training) trains the same way everywhere.
    """
    import keras
    import tensorflow as tf

    replicas = distribution.num_replicas_in_sync
    with distribution.scope():
        model._symbolic_build(data_batch=next(iter(dataset)))  # variables before tracing

    @tf.function
    def train_step(batch):
        logs = distribution.run(model.train_step, args=(batch,))
        return {key: distribution.reduce("MEAN", value, axis=None)
                for key, value in logs.items()}

    history = keras.callbacks.History()
    callback_list = keras.callbacks.CallbackList([*callbacks, history], model=model)
    callback_list.on_train_begin()
    batches = iter(distribution.experimental_distribute_dataset(dataset))
    for epoch in range(initial_epoch, epochs):
        callback_list.on_epoch_begin(epoch)
        model.reset_metrics()
        for step in range(steps):
            logs = train_step(next(batches))
            callback_list.on_train_batch_end(step, logs)
        logs = {key: float(value) for key, value in logs.items()}
        if verbose:
            shown = ", ".join(f"{key} {value:.4f}" for key, value in logs.items())
            print(f"epoch {epoch + 1}/{epochs}: {shown} ({replicas} replicas)")
        callback_list.on_epoch_end(epoch, logs)
    callback_list.on_train_end()
    return history


def _strategy(strategy):
    import tensorflow as tf

    if strategy is None:
        return tf.distribute.get_strategy()  # the default (no distribution)
    if strategy == "mirrored":
        return tf.distribute.MirroredStrategy()
    if strategy == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()  # cluster from TF_CONFIG
    raise ValueError(f"strategy must be 'mirrored' or 'multiworker', got {strategy!r}")
