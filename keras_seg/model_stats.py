"""The model zoo in numbers: parameters, FLOPs, receptive field and strides of each network.

Everything is read from a built model's Functional graph without running it: the shape of
every tensor at a given input size comes from Keras's symbolic shape inference
(``compute_output_spec``, no arrays are allocated), the receptive field and strides from each
layer's kernel, stride, dilation, padding and crops, and the size rule from the registry.
Each layer's rule is the ``geometry`` it declares (:mod:`keras_seg.layers.support`, beside
the layer class; the stock Keras layers' in :mod:`keras_seg.layers.keras_layers`). Layers
are taken as channels-last; a layer that changes the spatial size without a rule raises
instead of being guessed.

What is counted:

- **MACs** (multiply-accumulates) of the layers with a kernel, batch size 1: ``Conv2D`` and
  ``DepthwiseConv2D`` (output positions x kernel size, dilation and groups included as the
  kernel's shape has them), ``Conv2DTranspose`` (input positions x kernel size: every input
  pixel scatters one kernel-sized patch; grouped ones counted per group, as Caffe computes
  them), ``SeparableConv2D`` (both kernels) and ``Dense`` (positions x kernel size).
- **FLOPs** = 2 x MACs. Biases, activations, batch normalisation, pooling, unpooling, LRN,
  crops, padding, additions and concatenations are not counted (together they are well
  under 1 % for these networks).
- **Receptive field**: the extent, along one axis, of the input pixels that can influence
  one output pixel; the largest over the output pixels (after an up-convolution it differs
  from pixel to pixel: U-Net's output pixels see 188 or 204 rows by their position). It is
  found by following, for every pixel of every tensor, the first and last input row (and
  column) it depends on through each layer's kernel, stride, dilation, padding and crop
  offsets, on an input large enough that the field of an inner pixel is not cut by the
  image border. Where branches meet (Add, Concatenate) the fields are joined; inputs that
  give only a shape (the reference of a crop or of an unpooling) do not count.
- **Output stride**: input pixels per pixel of the network's output; **coarsest stride**:
  of the coarsest feature map inside (FCN: 32, DilatedNet: 8).

Example:
    >>> stats = model_stats("fcn8s")
    >>> stats.input_size, round(stats.gflops), stats.receptive_field, stats.coarsest_stride
    ((500, 500), 363, 468, 32)
"""

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from keras_seg.registry import build_model, get_spec, list_models

#: Input size of the networks whose registry entry has no deploy tile: what their original
#: releases ran on (by registry-name prefix, the first match wins).
REFERENCE_SIZES = (
    ("fcn", (500, 500)),  # the FCN deploy prototxts: PASCAL VOC images, at most 500 px a side
    ("unet_padded", (640, 959)),  # milesial/Pytorch-UNet: Carvana 1918x1280 at scale 0.5
    ("segnet", (360, 480)),  # SegNet-Tutorial: CamVid at 360x480
    ("bayesian_segnet", (360, 480)),
    ("fc_densenet", (360, 480)),  # SimJeg/FC-DenseNet: CamVid at 360x480
)
#: The size used for a network none of the above describes.
FALLBACK_SIZE = (512, 512)


@dataclass(frozen=True)
class LayerStats:
    """One layer call of the graph at a given input size.

    Attributes:
        name: layer name (the original network's).
        kind: the layer's class name.
        output_shape: its (first) output without the batch axis.
        macs: multiply-accumulates (0 for layers without a kernel).
        receptive_field: (rows, cols) of input pixels that can influence one output pixel.
        stride: (rows, cols) input pixels per output pixel (a fraction after upsampling).
    """

    name: str
    kind: str
    output_shape: tuple
    macs: int
    receptive_field: tuple
    stride: tuple


@dataclass(frozen=True)
class ModelStats:
    """The numbers of one network at one input size (see the module docstring).

    Attributes:
        name: registry name (or the model's name).
        input_size: (height, width) the numbers are for.
        output_size: (height, width) of the output there.
        trainable_params: trainable parameters.
        total_params: all parameters (with frozen ones and batch-norm statistics).
        macs: multiply-accumulates of one forward, batch 1.
        receptive_field: input pixels (along the larger axis) that one output pixel sees.
        output_stride: input pixels per output pixel.
        coarsest_stride: stride of the coarsest feature map.
        size_rule: which input sizes the network takes and what it gives for them.
    """

    name: str
    input_size: tuple
    output_size: tuple
    trainable_params: int
    total_params: int
    macs: int
    receptive_field: int
    output_stride: float
    coarsest_stride: float
    size_rule: str

    @property
    def flops(self):
        """Floating-point operations: 2 x MACs."""
        return 2 * self.macs

    @property
    def gflops(self):
        """FLOPs in units of 1e9."""
        return self.flops / 1e9


def reference_size(name):
    """The input size a registered network's numbers are given at: its deploy size.

    The registry's deploy tile where the release has one (DilatedNet, U-Net), else the
    size its release ran on (:data:`REFERENCE_SIZES`), else :data:`FALLBACK_SIZE`.

    Example:
        >>> reference_size("dilation8_camvid"), reference_size("fcn8s")
        ((900, 1100), (500, 500))
    """
    spec = get_spec(name)
    if spec.tile_size:
        return tuple(spec.tile_size)
    for prefix, size in REFERENCE_SIZES:
        if name.startswith(prefix):
            return size
    return FALLBACK_SIZE


def size_rule_text(name):
    """Which input sizes a registered network takes and the output size it gives, in words.

    From the registry: ``size_rule`` (U-Net's 16k + 60) and ``geometry`` (margin, stride).

    Example:
        >>> size_rule_text("unet")
        '60 + 16k, >= 188; out = in - 184'
        >>> size_rule_text("dilation8_camvid")
        'any >= 373; out = ceil((in - 372) / 8)'
        >>> size_rule_text("dilation10_cityscapes")
        'any >= 373; out = 8 x ceil((in - 372) / 8)'
        >>> size_rule_text("fcn8s")
        'any; out = in'
    """
    spec = get_spec(name)
    margin, stride, alignment = spec.geometry.as_tuple()
    if spec.size_rule is not None:  # only valid sizes: the margin comes off exactly
        multiple, offset, smallest = spec.size_rule
        sizes = f"{offset} + {multiple}k, >= {smallest}"
        out = f"in - {2 * margin}" if stride == 1 else f"(in - {2 * margin}) / {stride}"
    elif margin:  # any size: the last cell is rounded up (Caffe's ceil-mode pooling)
        sizes = f"any >= {2 * margin + 1}"
        out = f"ceil((in - {2 * margin}) / {alignment})"
        if stride != alignment:  # upsampled inside the network (Cityscapes)
            out = f"{alignment // stride} x {out}"
    else:
        sizes, out = "any", "in" if stride == 1 else f"in / {stride}"
    return f"{sizes}; out = {out}"


def layer_stats(model, input_size):
    """Shapes, MACs, receptive field and stride of every layer call at ``input_size``.

    Receptive fields are those at this input size: where the input is smaller than a field,
    it is cut by the image border (:func:`model_stats` measures on a large enough input).

    Args:
        model: a Functional model with one image input (any keras-seg model).
        input_size: (height, width), or one int for a square input.

    Returns:
        A list of :class:`LayerStats` in the graph's execution order.

    Raises:
        ValueError: a layer that changes the spatial size without a known rule, or a nested
            model.

    Example:
        >>> rows = layer_stats(keras_seg.build("fcn8s"), 500)  # doctest: +SKIP
        >>> next(r for r in rows if r.name == "pool5").receptive_field  # doctest: +SKIP
        (212, 212)
    """
    return _walk(model, input_size)[0]


def receptive_field(model, input_size=None, spec=None):
    """The largest receptive field (rows, cols) of an output pixel, not cut by the border.

    Measured at ``input_size`` (default 256) enlarged until the field of an inner output
    pixel fits well inside the input (for a network with a size rule, at a valid size).

    Args:
        model: a Functional model with one image input.
        input_size: (height, width) or an int to start from.
        spec: the model's ``ModelSpec``, whose ``valid_size`` rounds enlarged sizes.

    Returns:
        (rows, cols) in input pixels.

    Raises:
        ValueError: the field grows with the input (a global layer), after six tries.

    Example:
        >>> receptive_field(keras_seg.build("dilation8_camvid", context=False))  # doctest: +SKIP
        (380, 380)
    """
    size = _pair(input_size or 256)
    for _ in range(6):
        field = _walk(model, size)[1]
        if all(2 * f < n for f, n in zip(field, size)):
            return field
        size = tuple(max(n, 4 * f) for f, n in zip(field, size))
        if spec is not None:
            size = tuple(spec.valid_size(n) for n in size)
    raise ValueError(f"{model.name}: the receptive field keeps growing with the input ({field})")


def _walk(model, input_size):
    """(layer rows, the output's (field rows, cols), its stride, its (height, width))."""
    import keras

    from keras_seg._keras_compat import run_graph

    if len(model.inputs) != 1:
        raise ValueError(f"{model.name}: one image input expected, found {len(model.inputs)}")
    height, width = _pair(input_size)
    source = model.inputs[0]
    x = keras.KerasTensor((1, height, width, source.shape[-1]), dtype=source.dtype)
    first = tuple((np.arange(n), np.arange(n)) for n in (height, width))
    geometry = {id(x): (first, (Fraction(1), Fraction(1)))}
    keep, rows = [x], []  # keep the tensors alive: their ids key ``geometry``

    def operation_fn(operation):
        def run(*args, **kwargs):
            if isinstance(operation, keras.Model):
                raise ValueError(f"{operation.name}: nested models are not walked; flatten "
                                 f"{model.name} first")
            inputs = [t for t in keras.tree.flatten((args, kwargs))
                      if isinstance(t, keras.KerasTensor)]
            outputs = operation.compute_output_spec(*args, **kwargs)
            flat = [t for t in keras.tree.flatten(outputs) if isinstance(t, keras.KerasTensor)]
            fields, stride = _geometry(operation, inputs, [geometry[id(t)] for t in inputs],
                                       flat[0])
            for tensor in flat:
                geometry[id(tensor)] = (fields, stride)
            keep.extend(flat)
            rows.append(LayerStats(operation.name, type(operation).__name__,
                                   tuple(flat[0].shape[1:]), _macs(operation, inputs, flat),
                                   tuple(_extent(*axis) for axis in fields),
                                   tuple(_number(s) for s in stride)))
            return outputs

        return run

    # the walk Functional.compute_output_spec itself makes (nodes in depth order), with each
    # layer's compute_output_spec wrapped to record it
    output = keras.tree.flatten(run_graph(model, x, operation_fn))[0]
    fields, stride = geometry[id(output)]
    return (rows, tuple(_extent(*axis) for axis in fields), tuple(_number(s) for s in stride),
            tuple(output.shape[1:3]))


def model_stats(name_or_model, input_size=None, **builder_args):
    """Parameters, FLOPs, receptive field, strides and size rule of a network.

    Args:
        name_or_model: a registered name (built with random weights, full width unless
            ``builder_args`` say otherwise) or a built model.
        input_size: (height, width) or an int; default :func:`reference_size` (the deploy
            size), needed for a model keras-seg did not build.
        **builder_args: builder arguments for a name (``widths``, ``num_classes``...).

    Returns:
        A :class:`ModelStats`.

    Example:
        >>> stats = model_stats("fcn8s", widths=(4, 8, 8, 8, 8, 16))
        >>> stats.receptive_field, stats.coarsest_stride, stats.output_size
        (468, 32, (500, 500))
    """
    if isinstance(name_or_model, str):
        name, model = name_or_model, build_model(name_or_model, **builder_args)
    else:
        model = name_or_model
        name = (getattr(model, "metadata", None) or {}).get("model")
    registered = name is not None and name in list_models()
    if input_size is None:
        if not registered:
            raise ValueError(f"{model.name}: input_size= is needed for a model keras-seg "
                             "did not build")
        input_size = reference_size(name)
    rows, _, stride, output_size = _walk(model, input_size)
    spec = get_spec(name) if registered else None
    field = receptive_field(model, input_size, spec)
    trainable = sum(math.prod(v.shape) for v in model.trainable_weights)
    total = sum(math.prod(v.shape) for v in model.weights)
    return ModelStats(
        name=name or model.name, input_size=_pair(input_size),
        output_size=output_size, trainable_params=int(trainable),
        total_params=int(total), macs=sum(row.macs for row in rows),
        receptive_field=max(field), output_stride=max(stride),
        coarsest_stride=max(max(row.stride) for row in rows),
        size_rule=size_rule_text(name) if registered else "")


def zoo_stats(names=None, progress=None):
    """:func:`model_stats` of every registered network (or ``names``) at its deploy size.

    Each model is built at full width and dropped before the next
    (``keras.backend.clear_session()``), so memory holds one at a time.

    Args:
        names: registry names (default: all of :func:`keras_seg.list_models`).
        progress: a function called with each name before it is built (e.g. ``print``).

    Returns:
        A list of :class:`ModelStats`.

    Example:
        >>> table = zoo_stats(["fcn8s", "unet"])  # doctest: +SKIP
    """
    import keras

    stats = []
    for name in names or list_models():
        if progress:
            progress(name)
        stats.append(model_stats(name))
        keras.backend.clear_session()  # one full-width model at a time
    return stats


def format_table(stats, markdown=True):
    """The stats as a table: Markdown (``markdown=True``) or aligned plain text.

    Example:
        >>> stats = model_stats("unet", widths=(4, 8, 8, 16, 16), last_upconv=8)
        >>> format_table([stats]).splitlines()[2].split(" | ")[:3]
        ['| unet', '572x572', '388x388']
    """
    header = ["model", "input", "output", "params (M)", "trainable (M)", "GFLOPs",
              "receptive field", "output stride", "coarsest stride", "size rule"]
    rows = [[s.name, "x".join(map(str, s.input_size)), "x".join(map(str, s.output_size)),
             f"{s.total_params / 1e6:.2f}", f"{s.trainable_params / 1e6:.2f}",
             f"{s.gflops:.1f}", str(s.receptive_field), f"{s.output_stride:g}",
             f"{s.coarsest_stride:g}", s.size_rule] for s in stats]
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()
                     for row in [header, *rows])


def _pair(size):
    if isinstance(size, int):
        return (size, size)
    height, width = size
    return (int(height), int(width))


def _number(value):
    """A Fraction as an int where it is whole, else a float."""
    return int(value) if value.denominator == 1 else float(value)


def _extent(first, last):
    """The largest ``last - first + 1`` over the pixels that depend on any input pixel."""
    sizes = last - first + 1
    sizes = sizes[last >= first]
    return int(sizes.max()) if sizes.size else 0


_NONE_FIRST, _NONE_LAST = np.iinfo(np.int64).max, np.iinfo(np.int64).min


def _gather(first, last, index):
    """The fields of input pixels ``index`` (empty where ``index`` falls outside)."""
    inside = (index >= 0) & (index < len(first))
    safe = np.clip(index, 0, max(len(first) - 1, 0))
    return (np.where(inside, first[safe], _NONE_FIRST),
            np.where(inside, last[safe], _NONE_LAST))


def _spatial_rule(layer):
    """The layer's declared :class:`~keras_seg.layers.support.SpatialRule` (or a base's).

    A layer without one is taken as pixel to pixel (checked against its output's size).
    """
    from keras_seg.layers.support import MISSING, POINTWISE, aspect_of

    rule = aspect_of(layer, "geometry", inherit=True)
    return POINTWISE if rule is MISSING else rule


def _rule(layer, axis, n_in, n_out):
    """How output pixels read input pixels along ``axis``, or None (pixel to pixel)."""
    rule = _spatial_rule(layer).rule
    return None if rule is None else rule(layer, axis, n_in, n_out)


def _shape_only_inputs(layer):
    """Positions of the inputs a layer reads only for their shape."""
    return set(_spatial_rule(layer).shape_only_inputs)


def _geometry(layer, inputs, geometries, output):
    """(per-axis (first, last) input pixel of each output pixel, per-axis stride)."""
    if len(output.shape) != 4:
        raise ValueError(f"layer {layer.name} ({type(layer).__name__}): output "
                         f"{output.shape} is not an image; no receptive-field rule")
    shape_only = _shape_only_inputs(layer)
    used = [i for i in range(len(inputs)) if i not in shape_only]
    fields, strides = [], []
    for axis in (0, 1):
        n_in, n_out = inputs[used[0]].shape[axis + 1], output.shape[axis + 1]
        stride = max(geometries[i][1][axis] for i in used)
        rule = _rule(layer, axis, n_in, n_out)
        first, last = _join([geometries[i][0][axis] for i in used], layer)
        out = np.arange(n_out)
        if rule is None:
            if len(first) != n_out:
                raise ValueError(f"layer {layer.name} ({type(layer).__name__}) changes the "
                                 "spatial size and has no receptive-field rule")
            fields.append((first, last))
        elif rule[0] == "window":
            _, k, s, d, before = rule
            fields.append(_union([_gather(first, last, out * s - before + d * t)
                                  for t in range(k)]))
            stride *= s
        elif rule[0] == "transposed":
            _, k, s, d, before = rule
            fields.append(_scatter(first, last, n_out, k, s, d, before))
            stride /= s
        elif rule[0] == "upsample":
            _, s, bilinear = rule
            if bilinear:  # half-pixel centres: two neighbours, clipped at the border
                low = np.floor((out + 0.5) / s - 0.5).astype(np.int64)
                pairs = [np.clip(low, 0, n_in - 1), np.clip(low + 1, 0, n_in - 1)]
                fields.append(_union([_gather(first, last, i) for i in pairs]))
            else:
                fields.append(_gather(first, last, out // s))
            stride /= s
        else:  # a shift: padding, cropping
            fields.append(_gather(first, last, out + rule[1]))
        strides.append(stride)
    return tuple(fields), tuple(strides)


def _join(fields, layer):
    """The union of the inputs' fields, pixel by pixel (branches that meet)."""
    if len(fields) == 1:
        return fields[0]
    if len({len(first) for first, _ in fields}) > 1:
        raise ValueError(f"layer {layer.name}: inputs of different sizes "
                         f"{[len(f) for f, _ in fields]} and no rule to join them")
    return _union(fields)


def _union(fields):
    first = np.minimum.reduce([f for f, _ in fields])
    last = np.maximum.reduce([la for _, la in fields])
    return first, last


def _scatter(first, last, n_out, k, s, d, before):
    """A transposed convolution: input pixel i reaches outputs i * s - before + d * t."""
    out_first = np.full(n_out, _NONE_FIRST)
    out_last = np.full(n_out, _NONE_LAST)
    source = np.arange(len(first))
    for t in range(k):
        target = source * s - before + d * t
        inside = (target >= 0) & (target < n_out)
        np.minimum.at(out_first, target[inside], first[inside])
        np.maximum.at(out_last, target[inside], last[inside])
    return out_first, out_last


def _macs(layer, inputs, outputs):
    """Multiply-accumulates of one call (see the module docstring for what is counted)."""
    import keras

    if isinstance(layer, keras.layers.SeparableConv2D):
        kernels = [layer.depthwise_kernel, layer.pointwise_kernel]
    elif getattr(layer, "kernel", None) is not None:
        kernels = [layer.kernel]
    else:
        return 0
    size = sum(math.prod(k.shape) for k in kernels)
    where = inputs[0] if isinstance(layer, keras.layers.Conv2DTranspose) else outputs[0]
    return math.prod(where.shape[1:-1]) * size
