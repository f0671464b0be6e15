"""Run train() distributed; print the replicas and losses as JSON.

Usage: python train_mirrored.py DATA_DIR CHECKPOINT_DIR [mirrored|multiworker] [adversarial]
mirrored (default): MirroredStrategy over two logical CPU devices, which must be set up
before TensorFlow starts, hence a process of its own; multiworker: one worker of a
MultiWorkerMirroredStrategy cluster described by TF_CONFIG.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf

strategy = sys.argv[3] if len(sys.argv) > 3 else "mirrored"
if strategy == "mirrored":
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

from keras_seg.training.trainer import train  # noqa: E402

adversarial = ({"adversarial": "basic", "adv_model": "small_fov_light"}
               if "adversarial" in sys.argv[4:] else {})  # adv_model needs adversarial
model, history = train("fcn8s", sys.argv[1], num_classes=4, checkpoint_dir=sys.argv[2],
                       crop_size=(32, 32), batch_size=4, epochs=2, steps_per_epoch=2,
                       learning_rate=0.01, model_args={"widths": (4, 4, 4, 4, 4, 4)},
                       strategy=strategy, verbose=0, tensorboard=False, **adversarial)
print(json.dumps({"replicas": model.distribute_strategy.num_replicas_in_sync,
                  "loss": history.history["loss"]}))
