"""Write a Keras Functional model as an ONNX graph, layer by layer, with the ``onnx`` package.

TensorFlow's own routes to ONNX (tf2onnx, ``model.export(format="onnx")``) trace the whole
model and hold many copies of its weights: about 55 times the model's size, more than 24 GB
for FCN-8s. This writer needs none of that: it walks the model's nodes in topological order,
asks each layer's declared ONNX form (:mod:`keras_seg.layers.support`, through
:mod:`keras_seg.export.onnx_layers`) for its ONNX nodes, and takes the weights as NumPy
arrays straight into initializers, so the peak is a few times the weights' size.

Inside the graph tensors are NCHW (what ONNX's convolution and pooling operators take): one
``Transpose`` after the NHWC input and one before each NHWC output, so the exported graph
keeps the built model's contract. Height and width stay symbolic where the Keras input
leaves them free.
"""

import numpy as np

from keras_seg.errors import UnsupportedLayerError

__all__ = ["OPSET", "GraphBuilder", "UnsupportedLayerError", "model_to_onnx", "save_onnx"]

#: The operator set written; every operator used exists unchanged in later ones.
OPSET = 17
#: Graph input/output layout: NHWC outside, NCHW inside.
TO_NCHW, TO_NHWC = (0, 3, 1, 2), (0, 2, 3, 1)
#: The protobuf limit of one ONNX file; larger models keep their weights beside it.
SINGLE_FILE_LIMIT = 1_800_000_000


class GraphBuilder:
    """Collects ONNX nodes and initializers under unique names.

    Converters call :meth:`op` for nodes, :meth:`constant` for arrays (weights and
    constant operands) and :meth:`shape` for spatial sizes known only at run time.

    Args:
        reserved: names already taken (the graph's inputs and outputs).

    Example:
        >>> graph = GraphBuilder()
        >>> y = graph.op("Relu", ["x"], "relu1")
        >>> y, graph.nodes[0].op_type
        ('relu1', 'Relu')
    """

    def __init__(self, reserved=()):
        self.nodes, self.initializers = [], []
        self._taken = set(reserved)

    def name(self, hint):
        """A tensor name not used yet, ``hint`` itself if free."""
        name, count = hint, 1
        while name in self._taken:
            name, count = f"{hint}_{count}", count + 1
        self._taken.add(name)
        return name

    def op(self, op_type, inputs, hint, *, outputs=1, **attributes):
        """Add a node; returns its output name, or a list of ``outputs`` names."""
        from onnx import helper

        names = [self.name(hint if i == 0 else f"{hint}:{i}") for i in range(outputs)]
        attributes = {key: value for key, value in attributes.items() if value is not None}
        self.nodes.append(helper.make_node(op_type, list(inputs), names, name=names[0],
                                           **attributes))
        return names[0] if outputs == 1 else names

    def constant(self, array, hint):
        """Add ``array`` (float arrays as float32) as an initializer; returns its name."""
        from onnx import numpy_helper

        array = np.asarray(array)
        if array.dtype.kind == "f":
            array = array.astype(np.float32, copy=False)
        name = self.name(hint)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def shape(self, x, start, end, hint):
        """The int64 sizes of axes ``start:end`` of ``x`` at run time (a 1-D tensor)."""
        return self.op("Shape", [x], f"{hint}/shape", start=start, end=end)


def model_to_onnx(model, *, preprocessing=None, opset=OPSET):
    """The ONNX ``ModelProto`` of a Keras Functional model with the built model's contract.

    Args:
        model: a Functional ``keras.Model`` (NHWC inputs and outputs, float32).
        preprocessing: None (the graph takes the model's input blob), or an
            :class:`~keras_seg.input_conventions.InputConvention` whose arithmetic becomes the
            first nodes of the graph, which then takes uint8 RGB images (N, H, W, 3).
        opset: ONNX operator set.

    Returns:
        An ``onnx.ModelProto`` (weights inside; see :func:`save_onnx` for large models).

    Raises:
        UnsupportedLayerError: a layer without converter (named, with its class).

    Example:
        >>> import keras
        >>> x = keras.Input((None, None, 3))
        >>> model = keras.Model(x, keras.layers.Conv2D(2, 3, padding="same")(x))
        >>> [n.op_type for n in model_to_onnx(model).graph.node]
        ['Transpose', 'Conv', 'Transpose']
    """
    from onnx import helper

    from keras_seg._keras_compat import producing_layer
    from keras_seg.export.onnx_layers import refuse_unsupported

    refuse_unsupported(model)
    if preprocessing is not None and len(model.inputs) != 1:
        raise ValueError(f"preprocessing inside the graph needs a model with one input, "
                         f"{model.name!r} has {len(model.inputs)}")
    out_names = [producing_layer(t).name for t in model.outputs]
    in_names = ["image" if preprocessing is not None else t.name for t in model.inputs]
    graph = GraphBuilder(reserved=[*in_names, *out_names])
    tensors, inputs = _graph_inputs(graph, model, in_names, preprocessing)
    _layer_nodes(graph, model, tensors)
    outputs = _graph_outputs(graph, model, out_names, tensors)
    proto = helper.make_graph(graph.nodes, model.name, inputs, outputs, graph.initializers)
    onnx_model = helper.make_model(proto, opset_imports=[helper.make_opsetid("", opset)],
                                   producer_name="keras-seg")
    onnx_model.ir_version = min(onnx_model.ir_version, 8)  # what opset 17 runtimes read
    return onnx_model


def _graph_inputs(graph, model, names, preprocessing):
    """The graph's inputs (NHWC), and each Keras input's NCHW name inside the graph."""
    from onnx import TensorProto

    tensors, inputs = {}, []
    for tensor, name in zip(model.inputs, names):
        if preprocessing is not None:
            x = _preprocessing_nodes(graph, name, preprocessing)
            inputs.append(_value_info(name, TensorProto.UINT8, (*tensor.shape[:3], 3)))
        else:
            x = name
            inputs.append(_value_info(name, TensorProto.FLOAT, tensor.shape))
        tensors[id(tensor)] = graph.op("Transpose", [x], f"{name}/nchw", perm=TO_NCHW)
    return tensors, inputs


def _layer_nodes(graph, model, tensors):
    """Convert every call of every layer, inputs first; ``tensors`` maps each output."""
    import keras

    from keras_seg.export.onnx_layers import convert_layer

    for node in _nodes_in_order(model):
        layer = node.operation
        if isinstance(layer, keras.layers.InputLayer):
            continue
        names = [tensors[id(t)] for t in node.input_tensors]
        outputs = convert_layer(graph, layer, names)
        for tensor, name in zip(node.output_tensors, outputs, strict=True):
            tensors[id(tensor)] = name


def _graph_outputs(graph, model, names, tensors):
    """Transpose each Keras output back to NHWC under its layer's name."""
    from onnx import TensorProto, helper

    outputs = []
    for tensor, name in zip(model.outputs, names):
        graph.nodes.append(helper.make_node("Transpose", [tensors[id(tensor)]], [name],
                                            name=name, perm=TO_NHWC))
        dtype = TensorProto.INT32 if "int" in str(tensor.dtype) else TensorProto.FLOAT
        outputs.append(_value_info(name, dtype, tensor.shape, prefix="out_"))
    return outputs


def save_onnx(onnx_model, path, metadata=None):
    """Write ``onnx_model`` to ``path`` and check it; weights over 1.8 GB go to ``path.data``.

    Args:
        onnx_model: the ``ModelProto`` of :func:`model_to_onnx`.
        path: the ``.onnx`` file.
        metadata: a JSON string stored as the model's ``keras_seg`` metadata property.

    Example:
        >>> save_onnx(model_to_onnx(model), "model.onnx")  # doctest: +SKIP
    """
    import onnx

    if metadata is not None:
        onnx.helper.set_model_props(onnx_model, {"keras_seg": metadata})
    size = sum(len(t.raw_data) for t in onnx_model.graph.initializer)
    external = size > SINGLE_FILE_LIMIT
    onnx.save_model(onnx_model, str(path), save_as_external_data=external,
                    all_tensors_to_one_file=True, location=f"{_basename(path)}.data")
    onnx.checker.check_model(str(path))


def _basename(path):
    return str(path).replace("\\", "/").rsplit("/", 1)[-1]


def _nodes_in_order(model):
    """The model's own call nodes, inputs first (as Keras runs them)."""
    from keras_seg._keras_compat import nodes_by_depth

    by_depth = nodes_by_depth(model)
    for depth in sorted(by_depth, reverse=True):
        yield from by_depth[depth]


def _value_info(name, dtype, shape, prefix=""):
    """A graph input/output: free axes get symbolic names (batch, height, width)."""
    from onnx import helper

    symbols = ("batch", "height", "width", "channels")
    dims = [f"{prefix}{symbol}" if size is None else int(size)
            for symbol, size in zip(symbols, shape)]
    if dims and dims[0] == f"{prefix}batch":
        dims[0] = "batch"
    return helper.make_tensor_value_info(name, dtype, dims)


def _preprocessing_nodes(graph, image, convention):
    """uint8 RGB (N, H, W, 3) -> the convention's input blob, NHWC, as its ``__call__``."""
    from keras_seg.input_conventions import _LUMA

    x = graph.op("Cast", [image], f"{image}/float", to=1)  # FLOAT
    if convention.colour_order == "gray":
        luma = graph.constant(np.asarray(_LUMA, np.float32), "preprocess/luma")
        x = graph.op("Mul", [x, luma], "preprocess/luma_weighted")
        axes = graph.constant(np.asarray([3], np.int64), "preprocess/channel_axis")
        x = graph.op("ReduceSum", [x, axes], "preprocess/gray", keepdims=1)
    elif convention.colour_order == "BGR":
        order = graph.constant(np.asarray([2, 1, 0], np.int64), "preprocess/bgr_order")
        x = graph.op("Gather", [x, order], "preprocess/bgr", axis=3)
    if convention.scale != 1.0:
        scale = graph.constant(np.float32(convention.scale), "preprocess/scale_value")
        x = graph.op("Mul", [x, scale], "preprocess/scale")
    if any(convention.mean):
        mean = graph.constant(np.asarray(convention.mean, np.float32), "preprocess/mean_value")
        x = graph.op("Sub", [x, mean], "preprocess/mean")
    if any(s != 1.0 for s in convention.std):
        std = graph.constant(np.asarray(convention.std, np.float32), "preprocess/std_value")
        x = graph.op("Div", [x, std], "preprocess/std")
    return x
