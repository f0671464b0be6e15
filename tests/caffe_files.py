"""Test helpers: write random-weight caffemodels and deploy prototxts for the reference nets.

The caffemodels are written by :mod:`keras_seg.convert.caffe_writer`, which encodes protobuf
by hand (independently of keras_seg's reader); OpenCV reading the same files is what checks
both.
"""

from pathlib import Path

import numpy as np

from keras_seg.convert.caffe_writer import V1_TYPES, encode_blob, encode_layer, random_caffe_layers
from keras_seg.convert.caffe_writer import bytes_field as _bytes_field
from keras_seg.convert.caffe_writer import field_key as _key
from keras_seg.convert.caffe_writer import varint as _varint
from keras_seg.convert.caffe_writer import write_caffemodel as _write_caffemodel
from keras_seg.convert.prototxt import first, load_prototxt, net_layers

from references import reference_or_skip, reference_root

# Where the original releases' files are (see tests/references.py): read at import.
REFERENCE = reference_root()
FCN = REFERENCE / "shelhamer+fcn.berkeleyvision.org"
DILATION = REFERENCE / "fyu+dilation"

# Protobuf helpers that tests import from here.
__all__ = ["V1_TYPES", "_bytes_field", "_key", "_varint", "encode_blob", "encode_layer",
           "reference_or_skip"]
_DROP_TYPES = {"Python", "Data", "DenseImageData", "SoftmaxWithLoss", "Accuracy", "Silence"}
_STRING_FIELDS = {"name", "type", "bottom", "top"}


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
        elif kind == "BN":  # SegNet's fork: scale and shift, 1xCx1x1
            blobs.append(rng.uniform(0.5, 1.5, (1, c_in, 1, 1)).astype("f4"))
            blobs.append(rng.normal(0, 0.2, (1, c_in, 1, 1)).astype("f4"))
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


def write_caffemodel(path, layers, v1=False):
    """Write ``[(name, type, [arrays])]`` as a caffemodel; returns ``path``."""
    return _write_caffemodel(path, layers, v1=v1, net_name="test-net")


def caffemodel_from_model(model, path, seed=0):
    """Write ``model``'s layout as a caffemodel with random weights (Caffe layouts).

    Used where the reference prototxts may be absent: the layer names, types and blob shapes
    follow from the Keras model, the values are random (normal, std 0.05). Returns the
    written ``[(name, type, [arrays])]``.
    """
    layers = random_caffe_layers(model, seed=seed, std=0.05)
    write_caffemodel(path, layers)
    return layers
