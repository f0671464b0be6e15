"""Callbacks of a training run: stop on a bad file or a stalled score, draw the curves."""

import keras


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


class ScorePatience(keras.callbacks.EarlyStopping):
    """Keras's ``EarlyStopping`` on a score (higher is better), counting across a resumption.

    A resumed run starts from the best score and its epoch recorded in the checkpoint's
    ``state.json``, so the epochs without improvement before the kill count too. The stop
    is said in one line.

    Args:
        monitor: the logged score (``val_mean_iou``, or ``mean_iou`` without validation).
        patience: epochs without improvement before stopping.
        initial_epoch: the epoch the run starts from (0 for a fresh run).
        best, best_epoch: the best score so far and its (1-based) epoch, from a resumed
            run's state; None for a fresh run.
        verbose: print the line when stopping.

    Example:
        >>> stop = ScorePatience("val_mean_iou", patience=5)
        >>> stop.mode, stop.patience
        ('max', 5)
    """

    def __init__(self, monitor, patience, initial_epoch=0, best=None, best_epoch=None,
                 verbose=1):
        super().__init__(monitor=monitor, mode="max", patience=patience)
        self.initial_epoch, self.resumed_best = initial_epoch, (best, best_epoch)
        self.say = verbose

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        best, best_epoch = self.resumed_best
        if best is not None and best_epoch is not None:
            self.best, self.best_epoch = best, best_epoch - 1
            self.wait = self.initial_epoch - best_epoch

    def on_train_end(self, logs=None):
        super().on_train_end(logs)
        if self.stopped_epoch and self.say:
            print(f"stopped early after epoch {self.stopped_epoch + 1}: {self.monitor} has not "
                  f"improved on {self.best:.4f} (epoch {self.best_epoch + 1}) for "
                  f"{self.patience} epoch{'s' * (self.patience > 1)}")


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

