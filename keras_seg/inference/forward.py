"""Compiled forward passes: one traced graph per model, precision, input convention and shape.

Every prediction pipeline runs the network through :func:`compiled_forward`: a
``tf.function`` whose input signature fixes the batch, height and width of a tile shape (or
leaves them free, ``None``, for whole frames), so that tiles, and new images cut into tiles
of the same shape, reuse one graph and never retrace. In float32 each family is compiled
as its ``ModelSpec.compiler`` says (:data:`COMPILERS`): TensorFlow's graph, XLA for the
whole network, or the graph with XLA for the wide convolutions (:func:`hybrid_call`); XLA
compiles once per concrete input shape. ``benchmarks/xla_choice.py`` and
``benchmarks/run.py`` have the figures. The input
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
#: How float32 inference can be compiled (``ModelSpec.compiler``): TensorFlow's graph
#: (oneDNN's kernels), XLA for the whole network, or :func:`hybrid_call`.
COMPILERS = ("graph", "xla", "hybrid")
#: In :func:`hybrid_call`, convolutions with at least this many input channels run under XLA
#: (on this CPU oneDNN is as fast or faster on VGG's 64- and 128-channel layers).
XLA_MIN_CHANNELS = 256
_CACHE = "_keras_seg_inference_cache"


def compiled_forward(model, *, input_shape, input_dtype="float32", preprocess=None,
                     activation="softmax", precision="float32"):
    """The model's forward pass as a ``tf.function`` traced once for this input signature.

    Args:
        model: a Keras model.
        input_shape: (batch, height, width, channels) of the batches it takes; ``None`` for
            any size (whole frames), fixed numbers for tiles.
        input_dtype: dtype of the batches (``"uint8"`` raw pixels or ``"float32"``).
        preprocess: an :class:`~keras_seg.input_conventions.InputConvention` applied inside
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

    # the family's compiler in float32 (the figures: README, Performance); bfloat16 keeps
    # oneDNN's kernels (AVX512-BF16/AMX) in TensorFlow's graph
    compiler = family_compiler(model) if precision == "float32" else "graph"
    # a partial, not a closure: TensorFlow counts traces per code object, and one graph per
    # tile shape of many models is expected, not the retracing it warns about
    # XLA compiles Winograd's layers per input shape (seconds on a first call: README,
    # Performance): only where one shape is reused (tiles, fixed batches), not for whole
    # frames of any size
    hybrid = compiler == "hybrid" and ("fixed" if None not in shape else "any size")
    forward = functools.partial(_forward, model, preprocess, activation, precision, hybrid)
    return tf.function(forward, input_signature=[tf.TensorSpec(shape, dtype)],
                       jit_compile=compiler == "xla")


def family_compiler(model):
    """How float32 inference of ``model`` is compiled (one of :data:`COMPILERS`).

    The ``ModelSpec.compiler`` of its registered family (named in the model's metadata);
    ``"graph"`` for other models, and for every model where TensorFlow sees a GPU: the
    families' choices were measured on a CPU, and on a GPU cuDNN picks its own convolution
    algorithms (Winograd's among them).

    Example:
        >>> family_compiler(keras_seg.build("fcn8s", widths=(4,) * 7))  # doctest: +SKIP
        'hybrid'
    """
    import tensorflow as tf

    from keras_seg._keras_compat import runs_graph
    from keras_seg.registry import get_spec, list_models

    if tf.config.list_logical_devices("GPU"):
        return "graph"
    name = (getattr(model, "metadata", None) or {}).get("model")
    compiler = get_spec(name).compiler if name in list_models() else "graph"
    if compiler == "hybrid" and not runs_graph(model):
        return "graph"  # not a functional model (a subclass reusing the metadata)
    return compiler


def hybrid_call(model, x, winograd=True):
    """The functional ``model`` on ``x`` in TensorFlow's graph, its wide layers by XLA.

    Each stride-1, ungrouped, channels-last ``Conv2D`` with at least
    :data:`XLA_MIN_CHANNELS` input channels runs as a function of its own compiled by XLA,
    the undilated 3x3 ones by Winograd's F(2x2, 3x3) if ``winograd`` (XLA compiles it per
    input shape, seconds for a VGG network, so :func:`compiled_forward` asks for it only for
    fixed input shapes), except those with kernels of 7x7 or more and valid padding (FCN's
    and DilatedNet's ``fc6``), which run in the graph as image patches times the kernel as a
    matrix, one kernel row at a time. Everything else (the early convolutions on large,
    few-channel maps, pooling, crops, the upsampling) stays in TensorFlow's graph with
    oneDNN's kernels. On this project's CPU oneDNN runs VGG's first two blocks faster than
    XLA, XLA the 256-512-channel blocks, and a large matrix product ``fc6`` faster than
    oneDNN's convolution; ``benchmarks/xla_choice.py`` prints the figures, the README's
    Performance section quotes them. Call inside a ``tf.function``; the layers are not
    changed.

    Example:
        >>> scores = tf.function(lambda x: hybrid_call(model, x))(x)  # doctest: +SKIP
    """
    import tensorflow as tf

    from keras_seg._keras_compat import run_graph

    runners = {}
    for layer in model.layers:
        if _as_matrix_product(layer):
            runners[id(layer)] = functools.partial(_convolution_as_matrix_product, layer)
        elif winograd and _by_winograd(layer):
            runners[id(layer)] = tf.function(functools.partial(_winograd_convolution, layer),
                                             jit_compile=True, autograph=False)
        elif _is_wide_convolution(layer):
            runners[id(layer)] = tf.function(layer.__call__, jit_compile=True, autograph=False)
    outputs = run_graph(model, x, lambda op: runners.get(id(op), op))
    return outputs[0] if isinstance(outputs, (list, tuple)) and len(outputs) == 1 else outputs


def _is_wide_convolution(layer):
    import keras

    return (type(layer) is keras.layers.Conv2D and layer.strides == (1, 1)
            and layer.groups == 1 and layer.data_format == "channels_last"
            and layer.kernel.shape[-2] >= XLA_MIN_CHANNELS)


def _as_matrix_product(layer):
    return (_is_wide_convolution(layer) and min(layer.kernel_size) >= 7
            and layer.padding == "valid")


def _by_winograd(layer):
    return (_is_wide_convolution(layer) and layer.kernel_size == (3, 3)
            and layer.dilation_rate == (1, 1) and layer.padding in ("same", "valid"))


#: Winograd's minimal filtering F(2x2, 3x3) (Lavin and Gray, "Fast Algorithms for
#: Convolutional Neural Networks", 2016): input, kernel and output transforms.
_WINOGRAD_BT = ((1, 0, -1, 0), (0, 1, 1, 0), (0, -1, 1, 0), (0, 1, 0, -1))
_WINOGRAD_G = ((1, 0, 0), (0.5, 0.5, 0.5), (0.5, -0.5, 0.5), (0, 0, 1))
_WINOGRAD_AT = ((1, 1, 1, 0), (0, 1, -1, -1))


def _combine(matrix, terms):
    """``matrix`` times the list ``terms`` (tensors): one sum of terms per row."""
    sums = []
    for row in matrix:
        total = None
        for coefficient, term in zip(row, terms):
            if coefficient:
                term = term if coefficient == 1 else -term if coefficient == -1 else \
                    coefficient * term
                total = term if total is None else total + term
        sums.append(total)
    return sums


def _winograd_convolution(layer, x):
    """A stride-1 3x3 ``Conv2D`` (same or valid padding) by Winograd's F(2x2, 3x3).

    Each 2x2 block of the output comes from the 4x4 tile of the input around it: the tiles
    and the kernel are transformed (``B^T d B``, ``G g G^T``), multiplied as 16 matrix
    products over the channels, and transformed back (``A^T m A``): 16 products per output
    block where the direct convolution does 36, for a few additions. In float32 it stays
    within 1e-5 of the direct convolution's largest output (the tests' bound); under XLA it
    runs VGG's 88x88x512 layers faster than XLA's own convolution
    (``benchmarks/xla_choice.py`` prints by how much).
    """
    import tensorflow as tf

    pad = 1 if layer.padding == "same" else 0
    batch, in_height, in_width = tf.unstack(tf.shape(x)[:3])
    height, width = in_height + 2 * pad - 2, in_width + 2 * pad - 2
    rows, columns = (height + 1) // 2, (width + 1) // 2  # 2x2 output blocks
    x = tf.pad(x, [[0, 0], [pad, 2 * rows + 2 - in_height - pad],
                   [pad, 2 * columns + 2 - in_width - pad], [0, 0]])
    # element (a, b) of every 4x4 input tile at once
    tiles = [[x[:, a:a + 2 * rows:2, b:b + 2 * columns:2] for b in range(4)] for a in range(4)]
    by_column = [_combine(_WINOGRAD_BT, [tiles[a][b] for a in range(4)]) for b in range(4)]
    inputs = [_combine(_WINOGRAD_BT, [by_column[b][i] for b in range(4)]) for i in range(4)]
    channels = x.shape[-1]
    inputs = tf.reshape(tf.stack([v for row in inputs for v in row]), (16, -1, channels))
    kernel = tf.einsum("ia,abck,jb->ijck", tf.constant(_WINOGRAD_G, tf.float32),
                       tf.convert_to_tensor(layer.kernel),
                       tf.constant(_WINOGRAD_G, tf.float32))
    products = tf.matmul(inputs, tf.reshape(kernel, (16, channels, layer.filters)))
    products = tf.reshape(products, (4, 4, batch, rows, columns, layer.filters))
    by_column = [_combine(_WINOGRAD_AT, [products[i, j] for i in range(4)]) for j in range(4)]
    blocks = [_combine(_WINOGRAD_AT, [by_column[j][p] for j in range(4)]) for p in range(2)]
    # blocks[p][q]: output pixel (2 r + p, 2 c + q) of every block (r, c)
    y = tf.stack([tf.stack(blocks[p], axis=3) for p in range(2)], axis=2)
    y = tf.reshape(y, (batch, 2 * rows, 2 * columns, layer.filters))[:, :height, :width]
    if layer.use_bias:
        y += layer.bias
    return layer.activation(y)


def _convolution_as_matrix_product(layer, x):
    """A valid, stride-1 ``Conv2D`` as its input's patches times its kernel as a matrix.

    One product per kernel row, summed: the patches of one row of a 7x7 kernel are a seventh
    of all of them in memory.
    """
    import tensorflow as tf

    rows, columns = layer.kernel_size
    row_dilation, column_dilation = layer.dilation_rate
    kernel = tf.reshape(layer.kernel, (rows, -1, layer.filters))
    height = tf.shape(x)[1] - (rows - 1) * row_dilation
    y = 0
    for row in range(rows):
        start = row * row_dilation
        patches = tf.image.extract_patches(x[:, start:start + height], [1, 1, columns, 1],
                                           [1, 1, 1, 1], [1, 1, column_dilation, 1], "VALID")
        y += tf.matmul(tf.reshape(patches, (-1, patches.shape[-1])), kernel[row])
    if layer.use_bias:
        y += layer.bias
    y = tf.reshape(y, tf.concat([tf.shape(patches)[:3], [layer.filters]], axis=0))
    return layer.activation(y)


def _forward(model, preprocess, activation, precision, hybrid, batch):
    """One forward pass, by :func:`hybrid_call` if ``hybrid`` is set.

    ``hybrid``: False, ``"fixed"`` (input shapes, with Winograd) or ``"any size"`` (without).
    """
    import tensorflow as tf

    x = tf.cast(batch, tf.float32)
    if preprocess is not None:
        x = preprocess(x)
    with compute_precision(model, precision):
        if hybrid:
            y = hybrid_call(model, x, winograd=hybrid == "fixed")
        else:
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

    Its declared ``precision`` (:mod:`keras_seg.layers.support`): Caffe's LRN, and
    transposed convolutions of stride 8 or more (FCN's bilinear upsampling, whose bfloat16
    kernel is slow in oneDNN).
    """
    from keras_seg.layers.support import precision_of

    return precision_of(layer) == "float32"


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
