"""Data parallelism on Keras's distribution API (JAX backend), over every device of every process.

``distribution="data-parallel"`` (also a ``keras-seg train`` option) runs Keras's own
``fit`` under a :class:`keras.distribution.DataParallel` over the global device
list: the model's variables are replicated on every device, each step is one SPMD program
that XLA partitions by the batch (gradients and metric sums are reduced across devices and
processes inside it), so the logs and weights are the same in every process. Every process
runs the same training call; the cluster comes from Keras's environment variables, read by
:func:`keras.distribution.initialize`:

- ``KERAS_DISTRIBUTION_JOB_ADDRESSES``: ``host:port`` of process 0, the coordinator (a
  comma-separated list of every process's address is accepted: its first entry is used);
- ``KERAS_DISTRIBUTION_NUM_PROCESSES``: the number of processes;
- ``KERAS_DISTRIBUTION_PROCESS_ID``: this process's index, 0 to N-1.

None of them set: this process alone, over its local devices. Each process reads its share
of every global batch (:func:`~keras_seg.training.data.segmentation_dataset`'s ``shard``),
the others' elements are never decoded; process 0 writes the checkpoints, which hold whole
(replicated) weights, so a run resumes under any number of processes. Every process reads
the training files itself, and a resumed run's checkpoint (a shared file system, or copies).
Validation images, whole and of any size, are fed to every device alike (:class:`ValidateWhole`).
Nothing of this module (nor of ``jax.distributed``) is imported unless the distribution is
asked for.

Example:
    >>> distribution = join_cluster()  # doctest: +SKIP
    >>> with distribution.scope():  # doctest: +SKIP
    ...     model = build("fcn8s", num_classes=4)
"""

import os

import keras

from keras_seg.errors import InputError, ParameterError

#: Keras's environment variables that name the cluster (all three, or none).
CLUSTER_VARIABLES = ("KERAS_DISTRIBUTION_JOB_ADDRESSES", "KERAS_DISTRIBUTION_NUM_PROCESSES",
                     "KERAS_DISTRIBUTION_PROCESS_ID")


class DataParallel(keras.distribution.DataParallel):
    """Keras's ``DataParallel`` over every device, fed a share of each batch by each process.

    The datasets arrive sharded (``auto_shard_dataset=False``): each process's batch is its
    share of the global batch. Validation batches (whole images of any size, one a step)
    are not split: while :attr:`replicate_inputs` is set (by :class:`ValidateWhole`) every
    process feeds the same image, which every device sees whole.

    Attributes:
        replicate_inputs: give inputs a replicated layout instead of one split by the batch.

    Example:
        >>> DataParallel().num_model_replicas  # doctest: +SKIP
        2
    """

    def __init__(self):
        super().__init__(auto_shard_dataset=False)
        self.replicate_inputs = False

    def get_data_layout(self, data_shape):
        if self.replicate_inputs:
            return keras.distribution.TensorLayout([None] * len(data_shape), self.device_mesh)
        return super().get_data_layout(data_shape)

    @property
    def process_index(self):
        """This process's index (0: the one that writes checkpoints)."""
        import jax

        return jax.process_index()

    @property
    def process_count(self):
        """The processes of the cluster."""
        import jax

        return jax.process_count()


class ValidateWhole(keras.callbacks.Callback):
    """Make validation batches whole on every device (:attr:`DataParallel.replicate_inputs`)."""

    def __init__(self, distribution):
        super().__init__()
        self.distribution = distribution

    def on_test_begin(self, logs=None):
        self.distribution.replicate_inputs = True

    def on_test_end(self, logs=None):
        self.distribution.replicate_inputs = False


def join_cluster(environ=None):
    """Join the cluster that Keras's environment variables name; the run's distribution.

    Args:
        environ: the environment (default ``os.environ``).

    Returns:
        A :class:`DataParallel` over every device of every process.

    Raises:
        InputError: some of :data:`CLUSTER_VARIABLES` set, not all.

    Example:
        >>> join_cluster({}).process_count  # doctest: +SKIP
        1
    """
    environ = os.environ if environ is None else environ
    given = [name for name in CLUSTER_VARIABLES if environ.get(name)]
    if given and len(given) < len(CLUSTER_VARIABLES):
        missing = ", ".join(name for name in CLUSTER_VARIABLES if name not in given)
        raise InputError(f"a data-parallel cluster needs {', '.join(CLUSTER_VARIABLES)}; "
                         f"{missing} not set")
    import jax

    if given and not jax.distributed.is_initialized():
        # the coordinator, process count and id from the variables; then one seed for all
        keras.distribution.initialize()
    return DataParallel()


def check_batch_size(batch_size, distribution):
    """Refuse a global batch that does not split evenly over the devices.

    Example:
        >>> check_batch_size(8, join_cluster())  # doctest: +SKIP
    """
    devices = distribution.num_model_replicas
    if batch_size % devices:
        raise ParameterError("{batch_size} {value} does not split over the {devices} devices "
                             "of {distribution} data-parallel; use a multiple of {devices}",
                             value=batch_size, devices=devices)
