"""Train a narrow FCN-8s that kills itself with SIGKILL while epoch 2's checkpoint is written.

Usage: python train_killed.py DATA_DIR CHECKPOINT_DIR

The kill comes after the checkpoint's file is complete under its temporary name and before
it is renamed; the moment is fixed by the code, not by a timer, so the outcome does not
depend on load.
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


if __name__ == "__main__":
    data, checkpoint_dir = sys.argv[1:3]
    save = keras.Model.save

    def save_then_die(model, path, *args, **kwargs):
        save(model, path, *args, **kwargs)
        if "epoch-2" in os.path.basename(str(path)):
            os.kill(os.getpid(), signal.SIGKILL)

    keras.Model.save = save_then_die
    Trainer("fcn8s", data, checkpoint_dir=checkpoint_dir, **SETTINGS).run()
    sys.exit("not killed")
