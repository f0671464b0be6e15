"""Read Caffe ``.caffemodel`` files without Caffe or protobuf classes.

Both layouts of ``NetParameter`` are read: the current ``layer`` (field 100,
``LayerParameter``) and the legacy ``layers`` (field 2, ``V1LayerParameter`` with an enum
type). Blob data may be packed or unpacked floats (or doubles), shaped by ``shape`` or by the
legacy num/channels/height/width. The file is memory-mapped and float data is returned as
NumPy views into it, so even a 550 MB model is read in about a second and is not copied.
"""

import mmap
import os
from dataclasses import dataclass, field

import numpy as np

from keras_seg.convert import protobuf as pb
from keras_seg.errors import ConversionError

# NetParameter
_NET_LAYERS_V1, _NET_LAYER = 2, 100
# LayerParameter and V1LayerParameter field numbers: (name, type, bottom, top, blobs)
_LAYER_FIELDS = {"name": 1, "type": 2, "bottom": 3, "top": 4, "blobs": 7}
_V1_FIELDS = {"name": 4, "type": 5, "bottom": 2, "top": 3, "blobs": 6}
_V0_LAYER = 1  # V1LayerParameter.layer: a V0LayerParameter, from before 2014
# BlobProto
_NUM, _CHANNELS, _HEIGHT, _WIDTH, _DATA, _SHAPE, _DOUBLE_DATA = 1, 2, 3, 4, 5, 7, 8

#: V1LayerParameter.LayerType: enum value -> (enum name, type string of LayerParameter).
V1_LAYER_TYPES = {
    0: ("NONE", ""), 1: ("ACCURACY", "Accuracy"), 2: ("BNLL", "BNLL"), 3: ("CONCAT", "Concat"),
    4: ("CONVOLUTION", "Convolution"), 5: ("DATA", "Data"), 6: ("DROPOUT", "Dropout"),
    7: ("EUCLIDEAN_LOSS", "EuclideanLoss"), 8: ("FLATTEN", "Flatten"),
    9: ("HDF5_DATA", "HDF5Data"), 10: ("HDF5_OUTPUT", "HDF5Output"), 11: ("IM2COL", "Im2col"),
    12: ("IMAGE_DATA", "ImageData"), 13: ("INFOGAIN_LOSS", "InfogainLoss"),
    14: ("INNER_PRODUCT", "InnerProduct"), 15: ("LRN", "LRN"),
    16: ("MULTINOMIAL_LOGISTIC_LOSS", "MultinomialLogisticLoss"), 17: ("POOLING", "Pooling"),
    18: ("RELU", "ReLU"), 19: ("SIGMOID", "Sigmoid"), 20: ("SOFTMAX", "Softmax"),
    21: ("SOFTMAX_LOSS", "SoftmaxWithLoss"), 22: ("SPLIT", "Split"), 23: ("TANH", "TanH"),
    24: ("WINDOW_DATA", "WindowData"), 25: ("ELTWISE", "Eltwise"), 26: ("POWER", "Power"),
    27: ("SIGMOID_CROSS_ENTROPY_LOSS", "SigmoidCrossEntropyLoss"),
    28: ("HINGE_LOSS", "HingeLoss"),
    29: ("MEMORY_DATA", "MemoryData"), 30: ("ARGMAX", "ArgMax"), 31: ("THRESHOLD", "Threshold"),
    32: ("DUMMY_DATA", "DummyData"), 33: ("SLICE", "Slice"), 34: ("MVN", "MVN"),
    35: ("ABSVAL", "AbsVal"), 36: ("SILENCE", "Silence"),
    37: ("CONTRASTIVE_LOSS", "ContrastiveLoss"),
    38: ("EXP", "Exp"), 39: ("DECONVOLUTION", "Deconvolution"),
}


@dataclass
class CaffeLayer:
    """One layer of a caffemodel: its name, type, connections and weight blobs."""

    name: str
    type: str
    bottoms: list = field(default_factory=list)
    tops: list = field(default_factory=list)
    blobs: list = field(default_factory=list)


def parse_caffemodel(path):
    """Parse a ``.caffemodel`` into its list of layers (with blobs as NumPy views).

    Args:
        path: the file.

    Returns:
        A list of :class:`CaffeLayer` in file order.

    Raises:
        ConversionError: the file is truncated, corrupted or not a caffemodel.

    Example:
        >>> layers = parse_caffemodel("fcn8s-heavy-pascal.caffemodel")  # doctest: +SKIP
        >>> layers[1].name, layers[1].blobs[0].shape  # doctest: +SKIP
        ('conv1_1', (64, 3, 3, 3))
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size == 0:
            raise ConversionError(f"{path}: empty file, not a caffemodel")
        # The map stays alive as long as the arrays that view it.
        buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    layers = []
    try:
        for item in pb.iter_fields(buf, context=f"caffemodel {path}"):
            if item.wire_type != pb.LENGTH_DELIMITED:
                continue
            if item.number == _NET_LAYER:
                layers.append(_parse_layer(buf, item, _LAYER_FIELDS, path))
            elif item.number == _NET_LAYERS_V1:
                layers.append(_parse_layer(buf, item, _V1_FIELDS, path))
    except ConversionError as error:
        where = f" after layer {layers[-1].name!r}" if layers else ""
        raise ConversionError(f"{path}: cannot read the caffemodel{where}: {error}") from None
    if not layers:
        raise ConversionError(f"{path}: no layers found; is this a .caffemodel file?")
    return layers


def read_caffemodel(path):
    """Read the weight blobs of a caffemodel as ``{"<layer>/<blob index>": array}``.

    Layers without blobs are left out. Arrays are float32 views into the memory-mapped file
    (doubles are converted), in Caffe's layout and shape.

    Example:
        >>> blobs = read_caffemodel("fcn8s-heavy-pascal.caffemodel")  # doctest: +SKIP
        >>> blobs["conv1_1/0"].shape  # doctest: +SKIP
        (64, 3, 3, 3)
    """
    return caffemodel_blobs(parse_caffemodel(path), path)


def caffemodel_blobs(layers, path):
    """``{"<layer>/<blob index>": array}`` of parsed layers; two layers of one name refused.

    Raises:
        ConversionError: two layers with weights share a name (which would fill one layer).
    """
    blobs = {}
    for layer in layers:
        for i, blob in enumerate(layer.blobs):
            key = f"{layer.name}/{i}"
            if key in blobs:
                raise ConversionError(f"{path}: two layers named {layer.name!r} carry weights")
            blobs[key] = blob
    return blobs


def _parse_layer(buf, message, numbers, path):
    name, type_, bottoms, tops, blobs = "", "", [], [], []
    for item in pb.iter_fields(buf, message.start, message.end, context="layer"):
        if item.number == numbers["name"] and item.wire_type == pb.LENGTH_DELIMITED:
            name = pb.string(buf, item)
        elif item.number == numbers["type"]:
            if item.wire_type == pb.VARINT:  # V1: an enum
                type_ = V1_LAYER_TYPES.get(item.value, (None, f"V1 type {item.value}"))[1]
            else:
                type_ = pb.string(buf, item)
        elif item.number == numbers["bottom"] and item.wire_type == pb.LENGTH_DELIMITED:
            bottoms.append(pb.string(buf, item))
        elif item.number == numbers["top"] and item.wire_type == pb.LENGTH_DELIMITED:
            tops.append(pb.string(buf, item))
        elif item.number == numbers["blobs"] and item.wire_type == pb.LENGTH_DELIMITED:
            blobs.append((item.start, item.end))
        elif numbers is _V1_FIELDS and item.number == _V0_LAYER:
            raise ConversionError(
                f"layer {name!r} uses the V0 layer format (Caffe before 2014); upgrade it with "
                "Caffe's upgrade_net_proto_binary first"
            )
    arrays = []
    for i, (start, end) in enumerate(blobs):
        try:
            arrays.append(_parse_blob(buf, start, end))
        except ConversionError as error:
            raise ConversionError(f"layer {name!r} ({type_}), blob {i}: {error}") from None
    return CaffeLayer(name, type_, bottoms, tops, arrays)


def _parse_blob(buf, start, end):
    legacy, shape, chunks = {}, None, []
    for item in pb.iter_fields(buf, start, end, context="blob"):
        number, wire = item.number, item.wire_type
        if number in (_NUM, _CHANNELS, _HEIGHT, _WIDTH) and wire == pb.VARINT:
            legacy[number] = item.value
        elif number == _SHAPE and wire == pb.LENGTH_DELIMITED:
            shape = _parse_shape(buf, item)
        elif number in (_DATA, _DOUBLE_DATA):
            dtype = "<f4" if number == _DATA else "<f8"
            if wire == pb.LENGTH_DELIMITED:
                chunks.append(pb.packed_array(buf, item, dtype))
            elif wire in (pb.FIXED32, pb.FIXED64):
                chunks.append(pb.fixed_array(buf, item, dtype))
    if shape is None:  # as Caffe's Blob::FromProto: legacy 4-D if any legacy field is set
        dims = (_NUM, _CHANNELS, _HEIGHT, _WIDTH)
        shape = tuple(legacy.get(n, 0) for n in dims) if legacy else ()
    data = chunks[0] if len(chunks) == 1 else np.concatenate(chunks) if chunks else np.zeros(0)
    expected = int(np.prod(shape, dtype=np.int64))
    if data.size != expected:
        raise ConversionError(
            f"shape {tuple(shape)} needs {expected} values but the file holds {data.size}"
        )
    return data.astype(np.float32, copy=False).reshape(shape)


def _parse_shape(buf, message):
    dims = []
    for item in pb.iter_fields(buf, message.start, message.end, context="blob shape"):
        if item.number != 1:
            continue
        if item.wire_type == pb.VARINT:
            dims.append(item.value)
        elif item.wire_type == pb.LENGTH_DELIMITED:
            dims.extend(pb.packed_varints(buf, item))
    return tuple(dims)
