"""Distribution strategies, and the loop used where Keras's ``fit`` cannot run."""

import keras

from keras_seg._keras_compat import build_for_batch


def worker_index(distribution):
    """This worker's index under a multi-worker strategy (0 for the chief)."""
    resolver = distribution.cluster_resolver
    return 0 if resolver.task_type == "chief" else int(resolver.task_id or 0) + (
        1 if "chief" in resolver.cluster_spec().jobs else 0)


def fit_distributed(model, distribution, dataset, epochs, initial_epoch, steps, callbacks,
                     verbose):
    """A distributed training loop (``fit`` fails under MultiWorkerMirroredStrategy).

    Keras 3's ``fit`` under ``MultiWorkerMirroredStrategy`` stops at its first step with
    "ValueError: Attempt to convert a value (PerReplica:{...}) with an unsupported type
    (<class 'tensorflow.python.distribute.values.PerReplica'>) to a Tensor", which is
    keras-team/keras#20585 (open; https://github.com/keras-team/keras/issues/20585). Checked
    again with the pinned TensorFlow 2.21.0 and Keras 3.15.1 on 2026-12-06: two local
    workers of ``tests/scripts/fit_multiworker.py`` (a one-layer model) still fail so. Run
    that script after an upgrade; once it passes, this loop can give way to ``fit``.
    Keras's own distribution API (``distribution="data-parallel"``, JAX) trains on several
    machines with ``fit``.

    Each replica runs the model's own ``train_step`` (as ``fit`` does), so a model class
    with a training step of its own (adversarial training) trains the same way everywhere.
    """
    import tensorflow as tf

    replicas = distribution.num_replicas_in_sync
    with distribution.scope():
        build_for_batch(model, next(iter(dataset)))  # variables before tracing

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


def get_strategy(strategy):
    """The ``tf.distribute`` strategy named ``strategy`` (None: the default, no distribution)."""
    import tensorflow as tf

    if strategy is None:
        return tf.distribute.get_strategy()  # the default (no distribution)
    if strategy == "mirrored":
        return tf.distribute.MirroredStrategy()
    if strategy == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()  # cluster from TF_CONFIG
    raise ValueError(f"strategy must be 'mirrored' or 'multiworker', got {strategy!r}")
