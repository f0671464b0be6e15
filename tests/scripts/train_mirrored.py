"""Run train() under MirroredStrategy over two logical CPU devices; print the result as JSON.

Usage: python train_mirrored.py DATA_DIR CHECKPOINT_DIR  (TensorFlow must not be set up yet,
which is why this runs in its own process).
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

from keras_seg.training.train import train  # noqa: E402

model, history = train("fcn8s", sys.argv[1], num_classes=4, checkpoint_dir=sys.argv[2],
                       crop_size=(48, 48), batch_size=4, epochs=2, steps_per_epoch=3,
                       learning_rate=0.01, model_args={"widths": (8, 16, 32, 32, 32, 64)},
                       strategy="mirrored", verbose=0, tensorboard=False)
print(json.dumps({"replicas": model.distribute_strategy.num_replicas_in_sync,
                  "loss": history.history["loss"]}))
