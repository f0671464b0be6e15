"""Test helpers: write random-weight caffemodels and deploy prototxts for the reference nets.

The writer encodes protobuf by hand (independently of keras_seg's reader); OpenCV reading the
same files is what checks both.
"""

import os
from pathlib import Path

import numpy as np

from keras_seg.convert.prototxt import first, load_prototxt, net_layers

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference"
REFERENCE = Path(os.environ.get("KERAS_SEG_REFERENCE", REFERENCE))
FCN = REFERENCE / "shelhamer+fcn.berkeleyvision.org"
DILATION = REFERENCE / "fyu+dilation"

# V1LayerParameter.LayerType values of the layer types the tests write.
V1_TYPES = {"Convolution": 4, "Deconvolution": 39, "InnerProduct": 14}  # V1 has no Scale
_DROP_TYPES = {"Python", "Data", "DenseImageData", "SoftmaxWithLoss", "Accuracy", "Silence"}
_STRING_FIELDS = {"name", "type", "bottom", "top"}


def reference_or_skip(path):
    import pytest

    if not Path(path).exists():
        pytest.skip(f"reference files absent: {path} (see ../shared/reference/README.md)")
    return Path(path)


# --- protobuf encoding -------------------------------------------------------------------

def _varint(value):
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _key(number, wire):
    return _varint(number << 3 | wire)


def _bytes_field(number, payload):
    return _key(number, 2) + _varint(len(payload)) + payload


def _int_field(number, value):
    return _key(number, 0) + _varint(value)


def encode_blob(array, legacy=False):
    """BlobProto: ``shape`` + packed floats, or legacy num/channels/height/width + unpacked."""
    array = np.ascontiguousarray(array, dtype="<f4")
    if not legacy:
        dims = b"".join(_varint(d) for d in array.shape)
        shape = _bytes_field(7, _bytes_field(1, dims))
        return shape + _key(5, 2) + _varint(array.nbytes) + array.tobytes()
    dims = (1,) * (4 - array.ndim) + array.shape
    head = b"".join(_int_field(n, d) for n, d in zip((1, 2, 3, 4), dims))
    records = np.empty((array.size, 5), np.uint8)
    records[:, 0] = 5 << 3 | 5
    records[:, 1:] = array.reshape(-1).view(np.uint8).reshape(-1, 4)
    return head + records.tobytes()


def encode_layer(name, type_, blobs, bottoms=(), tops=(), v1=False):
    """LayerParameter (field 100 of NetParameter) or V1LayerParameter (field 2)."""
    if v1:
        body = b"".join(_bytes_field(2, b.encode()) for b in bottoms)
        body += b"".join(_bytes_field(3, t.encode()) for t in tops)
        body += _bytes_field(4, name.encode()) + _int_field(5, V1_TYPES[type_])
        body += b"".join(_bytes_field(6, encode_blob(b, legacy=True)) for b in blobs)
        return _bytes_field(2, body)
    body = _bytes_field(1, name.encode()) + _bytes_field(2, type_.encode())
    body += b"".join(_bytes_field(3, b.encode()) for b in bottoms)
    body += b"".join(_bytes_field(4, t.encode()) for t in tops)
    body += b"".join(_bytes_field(7, encode_blob(b)) for b in blobs)
    return _bytes_field(100, body)


def write_caffemodel(path, layers, v1=False):
    """Write ``[(name, type, [arrays])]`` as a caffemodel; returns ``path``."""
    with open(path, "wb") as f:
        f.write(_bytes_field(1, b"test-net"))
        for name, type_, blobs in layers:
            f.write(encode_layer(name, type_, blobs, v1=v1))
    return path


# --- deploy prototxts with reduced widths -----------------------------------------------------

def deploy_net(source, *, widths=None, num_classes=None, scores=21):
    """A parsed deploy version of a train/val prototxt: data input, no loss, new widths.

    ``widths`` maps original ``num_output`` values to new ones; ``scores`` (the original class
    count, as ``num_output`` or ``group``) becomes ``num_classes``.
    """
    layers = []
    for layer in net_layers(load_prototxt(source)):
        if first(layer, "type") in _DROP_TYPES:
            continue
        layer = {k: v for k, v in layer.items() if k not in ("param", "include", "loss_weight")}
        for key in ("convolution_param",):
            if key in layer:
                param = dict(layer[key][0])
                for field in ("num_output", "group"):
                    n = first(param, field)
                    if n == scores and num_classes is not None:
                        param[field] = [num_classes]
                    elif field == "num_output" and widths and n in widths:
                        param[field] = [widths[n]]
                param.pop("weight_filler", None)
                param.pop("bias_filler", None)
                layer[key] = [param]
        layers.append(layer)
    return layers


def prototxt_text(layers, height, width):
    lines = ['name: "test"', 'input: "data"',
             f"input_shape {{ dim: 1 dim: 3 dim: {height} dim: {width} }}"]
    lines += [f"layer {{\n{_text(layer, 1)}}}" for layer in layers]
    return "\n".join(lines) + "\n"


def _text(message, depth):
    pad, out = "  " * depth, ""
    for key, values in message.items():
        for value in values:
            if isinstance(value, dict):
                out += f"{pad}{key} {{\n{_text(value, depth + 1)}{pad}}}\n"
            elif isinstance(value, bool):
                out += f"{pad}{key}: {'true' if value else 'false'}\n"
            elif isinstance(value, str) and key in _STRING_FIELDS:
                out += f'{pad}{key}: "{value}"\n'
            else:
                out += f"{pad}{key}: {value}\n"
    return out


def random_blobs(layers, seed=0, in_channels=3):
    """Random He-scaled weights for every weighted layer: ``[(name, type, [arrays])]``."""
    rng = np.random.default_rng(seed)
    channels, out = {"data": in_channels}, []
    for layer in layers:
        name, kind = first(layer, "name"), first(layer, "type")
        bottoms, tops = layer.get("bottom", []), layer.get("top", [])
        c_in = channels[bottoms[0]] if bottoms else in_channels
        c_out, blobs = c_in, []
        if kind in ("Convolution", "Deconvolution"):
            param = first(layer, "convolution_param")
            k, group = first(param, "kernel_size"), first(param, "group", 1)
            c_out = first(param, "num_output")
            shape = (c_out, c_in // group, k, k) if kind == "Convolution" else (
                c_in, c_out // group, k, k)
            fan_in = c_in // group * k * k
            blobs.append(rng.normal(0, np.sqrt(2.0 / fan_in), shape).astype("f4"))
            if first(param, "bias_term", True):
                blobs.append(rng.normal(0, 0.1, c_out).astype("f4"))
        elif kind == "Scale":
            blobs.append(rng.uniform(0.5, 1.5, c_in).astype("f4"))
            if first(first(layer, "scale_param", {}), "bias_term", False):
                blobs.append(rng.normal(0, 0.1, c_in).astype("f4"))
        elif kind == "Concat":
            c_out = sum(channels[b] for b in bottoms)
        for top in tops:
            channels[top] = c_out
        if blobs:
            out.append((name, kind, blobs))
    return out


def write_reference_pair(tmp_path, source, *, height, width, v1=False, seed=0, **kw):
    """Write a deploy prototxt and a random caffemodel for it; return both paths and blobs."""
    layers = deploy_net(source, **kw)
    prototxt = Path(tmp_path) / "deploy.prototxt"
    prototxt.write_text(prototxt_text(layers, height, width))
    weights = random_blobs(layers, seed=seed)
    model = write_caffemodel(Path(tmp_path) / "random.caffemodel", weights, v1=v1)
    return prototxt, model, weights


def opencv_forward(prototxt, caffemodel, data_nhwc, output=None):
    """Run the net in OpenCV's DNN module; returns the output blob in NHWC."""
    import cv2

    net = cv2.dnn.readNetFromCaffe(str(prototxt), str(caffemodel))
    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
    net.setInput(np.ascontiguousarray(data_nhwc.transpose(0, 3, 1, 2), dtype=np.float32))
    result = net.forward(output) if output else net.forward()
    return result.transpose(0, 2, 3, 1)


def relative_error(actual, expected):
    return float(np.max(np.abs(actual - expected)) / max(np.max(np.abs(expected)), 1e-12))




def caffemodel_from_model(model, path, seed=0):
    """Write ``model``'s layout as a caffemodel with random weights (Caffe layouts).

    Used where the reference prototxts may be absent: the layer names, types and blob shapes
    follow from the Keras model, the values are random. Returns the written blobs.
    """
    import keras

    from keras_seg.convert.assign import weighted_layers
    from keras_seg.layers import Scale

    rng = np.random.default_rng(seed)
    layers = []
    for layer in weighted_layers(model):
        if isinstance(layer, Scale):
            kind = "Scale"
            shapes = [tuple(v.shape) for v in layer.weights]
        else:
            kind = ("Deconvolution" if isinstance(layer, keras.layers.Conv2DTranspose)
                    else "Convolution")
            kh, kw, a, b = layer.kernel.shape
            shapes = [(b, a, kh, kw)] + ([tuple(layer.bias.shape)] if layer.use_bias else [])
        blobs = [rng.normal(0, 0.05, shape).astype("f4") for shape in shapes]
        layers.append((layer.name, kind, blobs))
    write_caffemodel(path, layers)
    return layers
