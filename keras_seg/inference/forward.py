"""Compiled forward passes: one traced graph per model, precision, input convention and shape.

Every prediction pipeline runs the network through :func:`compiled_forward`: a
``tf.function`` whose input signature fixes the batch, height and width of a tile shape (or
leaves them free, ``None``, for whole frames), so that tiles, and new images cut into tiles
of the same shape, reuse one graph and never retrace. In float32 the families faster under
XLA (``ModelSpec.xla``) are compiled by it, once per concrete input shape;
``benchmarks/xla_choice.py`` and ``benchmarks/run.py`` have the figures. The input
convention (channel order, mean, scale) and the softmax run inside the graph, on raw RGB
pixels.

``precision="bfloat16"`` traces the same layers under Keras's ``mixed_bfloat16`` dtype
policy: computations in bfloat16, variables kept in float32 and cast as they are read. The
policies are swapped only while the graph is traced, so the model itself stays a float32
model, no second copy of its weights is held, and later changes to its weights (training,
``load_weights``) are seen by the compiled graph. Outputs are float32 whatever the precision.
The graphs are cached on the model object, beside its layers.
"""

import contextlib
import functools

import numpy as np

#: Precisions a prediction can run in.
PRECISIONS = ("float32", "bfloat16")
_CACHE = "_keras_seg_inference_cache"


def compiled_forward(model, *, input_shape, input_dtype="float32", preprocess=None,
                     activation="softmax", precision="float32"):
    """The model's forward pass as a ``tf.function`` traced once for this input signature.

    Args:
        model: a Keras model.
        input_shape: (batch, height, width, channels) of the batches it takes; ``None`` for
            any size (whole frames), fixed numbers for tiles.
        input_dtype: dtype of the batches (``"uint8"`` raw pixels or ``"float32"``).
        preprocess: an :class:`~keras_seg.preprocessing.InputConvention` applied inside
            the graph (the batches then hold RGB 0-255 pixels), or None (they are the
            network's input already).
        activation: ``"softmax"`` over the classes, ``"argmax"`` for the int32 labels
            (the first largest probability, as ``np.argmax`` of the softmax), or None for the
            raw outputs.
        precision: ``"float32"`` or ``"bfloat16"`` (Keras's ``mixed_bfloat16`` policy).

    Returns:
        A ``tf.function`` from a batch (array or tensor) to a float32 tensor (int32 labels
        for ``"argmax"``; ``np.asarray`` reads it); the same object for the same arguments
        (cached on the model). Under Keras's JAX or PyTorch backend, a function from and
        to NumPy arrays that computes the same (jit-compiled under JAX).

    Raises:
        ValueError: an unknown precision or activation.

    Example:
        >>> forward = compiled_forward(model, input_shape=(None, None, None, 3),
        ...                            input_dtype="uint8", preprocess=input_convention(model),
        ...                            precision="bfloat16")  # doctest: +SKIP
        >>> probabilities = np.asarray(forward(images[None]))  # doctest: +SKIP
    """
    check_precision(precision)
    if activation not in (None, "softmax", "argmax"):
        raise ValueError(f"activation must be None, 'softmax' or 'argmax', got {activation!r}")
    shape = tuple(None if n is None else int(n) for n in input_shape)
    convention = None if preprocess is None else repr(preprocess)  # also with list fields
    key = ("forward", shape, str(np.dtype(input_dtype)), convention, activation, precision)
    cache = model_cache(model)
    if key not in cache:
        cache[key] = _trace(model, shape, np.dtype(input_dtype).name, preprocess, activation,
                            precision)
    return cache[key]


def check_precision(precision):
    """Refuse a precision that is not one of :data:`PRECISIONS`.

    Example:
        >>> check_precision("bfloat16")
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")


def model_cache(model):
    """The dict of compiled graphs (and helper models) that inference keeps on ``model``.

    It is stored outside Keras's attribute tracking, so it is neither a layer nor a weight of
    the model and is not saved with it.

    Example:
        >>> model_cache(model).clear()  # doctest: +SKIP
    """
    cache = model.__dict__.get(_CACHE)
    if cache is None:
        cache = {}
        object.__setattr__(model, _CACHE, cache)  # not a tracked Keras attribute
    return cache


def _trace(model, shape, dtype, preprocess, activation, precision):
    import keras
    import tensorflow as tf

    if keras.backend.backend() != "tensorflow":
        return _backend_forward(model, preprocess, activation, precision)

    # a partial, not a closure: TensorFlow counts traces per code object, and one graph per
    # tile shape of many models is expected, not the retracing it warns about
    forward = functools.partial(_forward, model, preprocess, activation, precision)
    # XLA for float32 where the family is faster under it (ModelSpec.xla): FCN-8s at 500x500
    # 1.5 s instead of 2.5 s, the first call at a new size compiling in ~0.5 s. bfloat16
    # keeps oneDNN's kernels (AVX512-BF16/AMX).
    return tf.function(forward, input_signature=[tf.TensorSpec(shape, dtype)],
                       jit_compile=precision == "float32" and _prefers_xla(model))


def _prefers_xla(model):
    """Whether the registered family of ``model`` (its metadata) runs faster under XLA."""
    from keras_seg.registry import get_spec, list_models

    name = (getattr(model, "metadata", None) or {}).get("model")
    return name in list_models() and get_spec(name).xla


def _forward(model, preprocess, activation, precision, batch):
    import tensorflow as tf

    x = tf.cast(batch, tf.float32)
    if preprocess is not None:
        x = preprocess(x)
    with compute_precision(model, precision):
        y = model(x, training=False)
    y = tf.cast(y, tf.float32)
    if activation is None:
        return y
    probabilities = tf.nn.softmax(y, axis=-1)
    if activation == "softmax":
        return probabilities
    return tf.argmax(probabilities, axis=-1, output_type=tf.int32)


def _backend_forward(model, preprocess, activation, precision):
    """The forward pass under Keras's JAX or PyTorch backend, from and to NumPy arrays.

    The input convention runs in NumPy (the same code as in the graph); under JAX the rest is
    one ``jax.jit`` function of the variables' current values (traced once per input shape,
    variables updated afterwards, such as a dropout layer's seed state, written back), under
    PyTorch an eager call without gradients.
    """
    import keras
    from keras import ops

    def compute(x):
        with compute_precision(model, precision):
            y = ops.cast(model(x, training=False), "float32")
        if activation is None:
            return y
        probabilities = ops.softmax(y, axis=-1)
        if activation == "softmax":
            return probabilities
        return ops.cast(ops.argmax(probabilities, axis=-1), "int32")

    if keras.backend.backend() == "jax":
        import jax

        def stateless(values, x):
            with keras.StatelessScope(state_mapping=list(zip(model.variables, values))) as scope:
                y = compute(x)
                return y, [scope.get_current_value(v) for v in model.non_trainable_variables]

        jitted = jax.jit(stateless)

        def run(x):
            y, updated = jitted([v.value for v in model.variables], x)
            for variable, value in zip(model.non_trainable_variables, updated):
                if value is not None:
                    variable.assign(value)
            return y
    else:
        import torch

        def run(x):
            with torch.no_grad():
                return compute(ops.convert_to_tensor(x))

    def forward(batch):
        batch = np.asarray(batch)
        x = preprocess(batch) if preprocess is not None else batch.astype("float32")
        return ops.convert_to_numpy(run(np.asarray(x, "float32")))

    return forward


def _keeps_float32(layer):
    """Whether ``layer`` stays float32 under bfloat16 (see :func:`compute_precision`).

    Caffe's LRN, and transposed convolutions of stride 8 or more: FCN's bilinear upsampling,
    little arithmetic, but oneDNN's bfloat16 kernel took 1.7 s for FCN-32s's 64x64
    ``upscore``, which float32 runs in 22 ms (``benchmarks/xla_choice.py``).
    """
    import keras

    from keras_seg.layers import LRN

    if isinstance(layer, LRN):
        return True
    return isinstance(layer, keras.layers.Conv2DTranspose) and max(layer.strides) >= 8


@contextlib.contextmanager
def compute_precision(model, precision):
    """Within the block, the model's float32 layers compute in ``precision``.

    For ``"bfloat16"`` every layer whose dtype policy is ``float32`` gets Keras's
    ``mixed_bfloat16`` policy (bfloat16 compute, float32 variables) and its own policy back
    on leaving; what is traced or run inside the block computes in bfloat16. Layers with
    another policy already (a model built in mixed precision) are left as they are, and so
    are FCN's large-stride upsampling layers and Caffe's ``LRN`` layers
    (:func:`_keeps_float32`): in LRN a sum of squares of 0-255 pixels raised to a fractional
    power needs float32's mantissa (in bfloat16 it changed 5% of SegNet-Basic's labels,
    against 1.5% without it) and costs little (Keras's own batch normalisation and
    :func:`keras.ops.moments` likewise compute in float32). The model's layers are shared:
    another thread calling the same model inside the block computes in bfloat16 too.

    Example:
        >>> with compute_precision(model, "bfloat16"):  # doctest: +SKIP
        ...     scores = model(x)                          # bfloat16 scores
    """
    check_precision(precision)
    if precision == "float32":
        yield
        return
    changed = []
    try:
        for layer in model._flatten_layers(include_self=True, recursive=True):
            if layer.dtype_policy.name == "float32" and not _keeps_float32(layer):
                changed.append((layer, layer.dtype_policy))
                layer.dtype_policy = f"mixed_{precision}"
        yield
    finally:
        for layer, policy in changed:
            layer.dtype_policy = policy
