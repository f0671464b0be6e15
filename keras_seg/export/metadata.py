"""What an exported graph needs beside it: its input convention, classes and geometry."""

import json
from pathlib import Path

#: The metadata file of a SavedModel folder (the loaders ignore it).
FOLDER_METADATA = "keras_seg.json"


def export_metadata(model, format, *, with_preprocessing=False):
    """A JSON-ready dict describing the exported graph's input and output.

    The built model's contract: the input is the original network's input blob, NHWC
    float32 (the ``input_convention`` turns RGB 0-255 pixels into it), unless the
    preprocessing is inside the graph (uint8 RGB in); the output is the logits, NHWC.
    Registered models add their classes (when the class count is the release's),
    palette, geometry and size rule.

    Args:
        model: the exported Keras model.
        format: ``"savedmodel"``, ``"tflite"`` or ``"onnx"``.
        with_preprocessing: whether the convention is inside the graph.

    Returns:
        A dict, as written by :func:`write_metadata`.

    Example:
        >>> export_metadata(keras_seg.build("fcn8s"), "onnx")["input"]["dtype"]  # doctest: +SKIP
        'float32'
    """
    from keras_seg import __version__
    from keras_seg._keras_compat import producing_layer
    from keras_seg.registry import class_names, get_spec, label_palette, list_models

    info = dict(getattr(model, "metadata", None) or {})
    shape = list(model.inputs[0].shape)
    num_classes = int(model.outputs[0].shape[-1])
    metadata = {
        "keras_seg_version": __version__, "format": format, "model": info.get("model"),
        "builder_args": info.get("builder_args", {}), "num_classes": num_classes,
        "input_convention": info.get("input"),
        "input": {"layout": "NHWC", "preprocessing": "inside" if with_preprocessing else
                  "apply input_convention first",
                  "dtype": "uint8" if with_preprocessing else "float32",
                  "shape": [*shape[:3], 3] if with_preprocessing else shape,
                  "channels": "RGB, 0-255" if with_preprocessing else "the input blob"},
        "output": {"layout": "NHWC", "content": "logits (before softmax)",
                   "shape": list(model.outputs[0].shape)},
    }
    if format == "onnx":
        metadata["input"]["name"] = "image" if with_preprocessing else model.inputs[0].name
        metadata["output"]["name"] = producing_layer(model.outputs[0]).name
    else:
        metadata["signature"] = "serving_default"
    name = info.get("model")
    if name in list_models():
        metadata.update(_release_facts(get_spec(name)))
    names = class_names(model)
    if names is not None:
        metadata["classes"] = list(names)
        metadata["palette_rgb"] = label_palette(model)[:len(names)].tolist()
    return metadata


def _release_facts(spec):
    facts = {"geometry": {"margin": spec.geometry.margin, "stride": spec.geometry.stride,
                          "alignment": spec.geometry.alignment},
             "size_rule": None if spec.size_rule is None else dict(
                 zip(("multiple", "offset", "smallest"), spec.size_rule)),
             "pipeline": spec.pipeline, "zoom": spec.zoom,
             "tile_size": None if spec.tile_size is None else list(spec.tile_size)}
    return facts


def metadata_path(path, format):
    """Where the metadata of an export at ``path`` goes: ``<file>.json``, or inside the folder.

    Example:
        >>> metadata_path("fcn8s.onnx", "onnx")
        PosixPath('fcn8s.onnx.json')
    """
    path = Path(path)
    return path / FOLDER_METADATA if format == "savedmodel" else Path(f"{path}.json")


def write_metadata(metadata, path, format):
    """Write ``metadata`` beside the export at ``path``; returns the file written."""
    target = metadata_path(path, format)
    target.write_text(json.dumps(metadata, indent=1) + "\n")
    return target
