"""Does Keras's own ``fit`` run under ``MultiWorkerMirroredStrategy``? Prints JSON.

Usage: run two copies, each with its ``TF_CONFIG`` (a two-worker cluster on 127.0.0.1, task
index 0 and 1), as ``tests/test_train.py``'s multiworker test starts its workers. Not part of
the suite: the experiment behind :func:`keras_seg.training.distributed.fit_distributed`, to
run again on a Keras or TensorFlow upgrade. With TensorFlow 2.21.0 and Keras 3.15.1 (2026-12-06)
each worker printed ``{"ok": false, "error": "ValueError: Attempt to convert a value
(PerReplica:{...}) with an unsupported type (<class
'tensorflow.python.distribute.values.PerReplica'>) to a Tensor."}``, the error of
keras-team/keras#20585 (open).
"""

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras
import tensorflow as tf

strategy = tf.distribute.MultiWorkerMirroredStrategy()  # the cluster from TF_CONFIG
with strategy.scope():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.compile(optimizer="sgd", loss="mse")
x = tf.random.stateless_normal((64, 4), (1, 2))
y = tf.random.stateless_normal((64, 3), (3, 4))
dataset = tf.data.Dataset.from_tensor_slices((x, y)).repeat().batch(8)
try:
    history = model.fit(dataset, epochs=2, steps_per_epoch=3, verbose=0)
    print(json.dumps({"ok": True, "loss": history.history["loss"]}))
except Exception as error:  # the finding is the error
    print(json.dumps({"ok": False, "error": f"{type(error).__name__}: {error}"[:800]}))
