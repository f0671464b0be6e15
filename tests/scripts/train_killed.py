"""Train a narrow FCN-8s that kills itself with SIGKILL at a chosen moment of epoch 2.

Usage: python train_killed.py DATA_DIR CHECKPOINT_DIR batch|save
batch: in the middle of epoch 2 (after its second step); save: while epoch 2's checkpoint
is being written (its file complete under the temporary name, not yet renamed). The
moments are fixed by the code, not by a timer, so the outcome does not depend on load.
"""

import os
import signal
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras

from keras_seg.training.trainer import Trainer

SETTINGS = {"num_classes": 4, "crop_size": (48, 48), "batch_size": 4, "epochs": 4,
            "steps_per_epoch": 3, "learning_rate": 0.01, "verbose": 0, "tensorboard": False,
            "model_args": {"widths": (8, 16, 32, 32, 32, 64)}}


def die():
    os.kill(os.getpid(), signal.SIGKILL)


class KillInEpochTwo(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if self.epoch == 1 and batch == 1:
            die()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch


class KilledTrainer(Trainer):
    def callbacks(self, train_ds, val_ds):
        return [*super().callbacks(train_ds, val_ds), KillInEpochTwo()]


if __name__ == "__main__":
    data, checkpoint_dir, moment = sys.argv[1:4]
    trainer = KilledTrainer
    if moment == "save":
        save = keras.Model.save

        def save_then_die(model, path, *args, **kwargs):
            save(model, path, *args, **kwargs)
            if "epoch-2" in os.path.basename(str(path)):
                die()

        keras.Model.save = save_then_die
        trainer = Trainer  # killed inside its checkpoint's save
    trainer("fcn8s", data, checkpoint_dir=checkpoint_dir, **SETTINGS).run()
    sys.exit("not killed")
