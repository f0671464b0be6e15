"""Checkpoints that survive a kill: written to a new file, then published by an atomic rename."""

import json
import os
from pathlib import Path

import keras

STATE = "state.json"


def _atomic_json(path, data):
    partial = path.with_name(f".{path.name}.partial")
    with open(partial, "w") as f:
        json.dump(data, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(partial, path)


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
        self.best = state.get("best")

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        previous = read_state(self.directory) or {}
        name = f"epoch-{epoch + 1}.keras"
        self._save(self.directory / name)
        value = logs.get(self.monitor)
        best_file = previous.get("best_file")
        if value is not None and (self.best is None or value > self.best):
            self.best, best_file = float(value), "best.keras"
            self._save(self.directory / best_file)
        _atomic_json(self.directory / STATE, {
            "epoch": epoch + 1, "last": name, "best": self.best, "best_file": best_file,
            "monitor": self.monitor, "logs": {k: float(v) for k, v in logs.items()},
            "plan": self.plan,
        })
        old = previous.get("last")
        if old and old != name and (self.directory / old).exists():
            (self.directory / old).unlink()

    def _save(self, path):
        partial = path.with_name(f".{path.stem}.partial.keras")
        self.model.save(partial)
        os.replace(partial, path)
