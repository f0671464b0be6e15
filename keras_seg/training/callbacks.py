"""Callbacks of a training run: stop on a bad file, draw the curves beside the log."""

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

