"""A run's checkpoint folder: checkpoints that survive a kill, and the folder's life cycle.

Checkpoints are written to a new file, then published by an atomic rename; a fresh run
refuses a folder holding another run unless told to overwrite it; a resumed run checks
that it continues the same run.
"""

import json
import os
from contextlib import contextmanager
from pathlib import Path

import keras

from keras_seg._keras_compat import learning_rate_schedule
from keras_seg.errors import ParameterError
from keras_seg.files import atomic_path
from keras_seg.training.config import loss_spec

STATE = "state.json"
#: The class names of a labelme dataset without labels.txt, as labelme's labels.txt.
LABELS = "labels.txt"


def _atomic_json(path, data):
    with atomic_path(path) as partial, open(partial, "w") as f:
        json.dump(data, f, indent=1)
        f.flush()
        os.fsync(f.fileno())


def write_labels_file(directory, labels):
    """Write labelme class names (``_background_`` first) as ``directory/labels.txt``.

    labelme's own form: ``__ignore__`` first, then class 0, 1, ... one a line; train on the
    same files with it beside them to keep the class order.

    Example:
        >>> write_labels_file("ckpt", ("_background_", "cat"))  # doctest: +SKIP
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with atomic_path(directory / LABELS) as partial:
        Path(partial).write_text("\n".join(["__ignore__", *labels]) + "\n")


def read_state(directory):
    """The last complete checkpoint's state (epoch, files, best score), or None."""
    path = Path(directory) / STATE
    if not path.exists():
        return None
    with open(path) as f:
        return json.load(f)


class AtomicCheckpoint(keras.callbacks.Callback):
    """Save the whole model (weights, optimizer state) after every epoch, and the best one.

    Each epoch is written to ``epoch-<n>.keras``; only when that file is complete does
    ``state.json`` (replaced atomically) point to it, and the previous epoch file is removed.
    A run killed at any moment therefore finds a complete checkpoint named by ``state.json``.
    ``best.keras`` follows the same rule for the best ``monitor`` value.

    Args:
        directory: checkpoint folder.
        monitor: logged value that defines "best" (higher is better).
        plan: what the run was asked for (epochs, steps per epoch), kept in ``state.json``
            so that a resumed run can tell a changed schedule.

    Example:
        >>> model.fit(ds, epochs=10, callbacks=[AtomicCheckpoint("ckpt")])  # doctest: +SKIP
    """

    def __init__(self, directory, monitor="val_mean_iou", plan=None):
        super().__init__()
        self.plan = dict(plan or {})
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.monitor = monitor
        state = read_state(self.directory) or {}
        self.best, self.best_epoch = state.get("best"), state.get("best_epoch")

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        previous = read_state(self.directory) or {}
        name = f"epoch-{epoch + 1}.keras"
        self._save(self.directory / name)
        value = logs.get(self.monitor)
        best_file = previous.get("best_file")
        if value is not None and (self.best is None or value > self.best):
            self.best, self.best_epoch, best_file = float(value), epoch + 1, "best.keras"
            self._save(self.directory / best_file)
        _atomic_json(self.directory / STATE, {
            "epoch": epoch + 1, "last": name, "best": self.best, "best_epoch": self.best_epoch,
            "best_file": best_file,
            "monitor": self.monitor, "logs": {k: float(v) for k, v in logs.items()},
            "plan": self.plan,
        })
        old = previous.get("last")
        if old and old != name and (self.directory / old).exists():
            (self.directory / old).unlink()

    def _save(self, path):
        with atomic_path(path) as partial, _outside_distribution():
            self.model.save(partial)


@contextmanager
def _outside_distribution():
    """No Keras distribution while one process writes a file alone.

    Saving makes a throwaway optimizer, whose variables a Keras distribution would spread
    over every process's devices: a collective that the other processes, writing nothing,
    never join.
    """
    current = keras.distribution.distribution()
    keras.distribution.set_distribution(None)
    try:
        yield
    finally:
        keras.distribution.set_distribution(current)


def prepare_checkpoint_dir(directory, *, resume=False, overwrite=False, writer=True):
    """Check a checkpoint folder before any work; returns the state to resume, or None.

    Args:
        directory: the checkpoint folder.
        resume: continue the run recorded there (it must exist).
        overwrite: remove another run's files instead of refusing to start.
        writer: whether this process writes the folder; one that only reads it (a
            data-parallel process but the first) refuses as the writer does, and never
            removes anything.

    Raises:
        ParameterError: ``resume`` and no run to continue; a fresh run into a folder that holds
            one, without ``overwrite``.

    Example:
        >>> prepare_checkpoint_dir("ckpt-new")  # doctest: +SKIP
    """
    directory = Path(directory)
    if resume:
        if not directory.is_dir():
            raise ParameterError("{resume}: {directory} does not exist; nothing to continue",
                                 directory=directory)
        state = read_state(directory)
        if state is None:
            raise ParameterError("{resume}: {directory} holds no checkpoint (no state.json) "
                                 "to continue; leave out {resume} to start a new run",
                                 directory=directory)
        return state
    if _run_files(directory):
        if not overwrite:
            state = read_state(directory)
            what = f"a run at epoch {state['epoch']}" if state else "another run's files"
            raise ParameterError("{directory} holds {what}; pass {resume} to continue it or "
                                 "{overwrite} to start afresh", directory=directory, what=what)
        if writer:
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
    names = ("state.json", "log.csv", "tensorboard", "best.keras", "curves.png", LABELS)
    return sorted(p for p in directory.iterdir()
                  if p.name in names or p.suffix == ".keras" or p.name.startswith(".epoch-")
                  or p.name.startswith(".best"))


def check_same_run(state, model_name, num_classes, *, loss=None, **settings):
    """A resumed run continues the saved model and optimizer: refuse a change of either.

    Args:
        state: the checkpoint's ``state.json``.
        model_name: the model the resumed run is asked to train.
        num_classes: its classes.
        loss: the loss asked (None: the checkpoint's); a checkpoint that names none was
            trained with ``"ce"``.
        **settings: parameters that only shape a new run (the optimizer's, the weights to
            start from), None where not asked.

    Returns:
        The names of the ``settings`` asked for, which the resumed run ignores.

    Raises:
        ParameterError: the saved run has another model, number of classes or loss.

    Example:
        >>> check_same_run({"plan": {"model": "fcn8s"}}, "fcn8s", 4, learning_rate=0.1,
        ...                momentum=None)
        ['learning_rate']
    """
    plan = state.get("plan") or {}
    for key, value in (("model", model_name), ("num_classes", num_classes)):
        if plan.get(key, value) != value:
            raise ParameterError(
                "{resume}: the run was started with {key} {saved!r}, not {value!r}; start a "
                "new run (another {checkpoint_dir} or {overwrite}) to change it", key=key,
                saved=plan[key], value=value)
    saved = plan.get("loss", "ce")
    if loss is not None and _same_loss(loss) != _same_loss(saved):
        raise ParameterError(
            "{resume}: the run was started with {loss} {saved!r}, not {value!r}; start a new "
            "run (another {checkpoint_dir} or {overwrite}) to change it, or leave out {loss}",
            saved=saved, value=loss)
    return [key for key, value in settings.items() if value is not None]


def _same_loss(loss):
    """A loss setting in a form that compares equal whatever its terms' order."""
    return sorted((name, sorted(parameters.items())) for name, parameters in loss_spec(loss))


def stretch_schedule(optimizer, state, epochs, steps_per_epoch, verbose):
    """On resume, fit the saved poly schedule to a changed number of epochs or steps."""
    schedule = learning_rate_schedule(optimizer)  # the saved schedule object
    plan = state.get("plan") or {}
    total = epochs * steps_per_epoch
    if not hasattr(schedule, "decay_steps") or schedule.decay_steps == total:
        return
    before = plan.get("epochs", "?")
    if verbose:
        print(f"resuming: the learning-rate schedule was planned for {before} epochs "
              f"({schedule.decay_steps} steps); stretched to {epochs} epochs ({total} steps)")
    schedule.decay_steps = total
