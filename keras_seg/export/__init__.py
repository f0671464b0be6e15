"""Export a built model for serving: ``.keras``, TF SavedModel, TFLite or ONNX.

By default the exported graph keeps the built model's contract: the original network's
input blob in NHWC (float32) in, logits in NHWC out, with the input convention, classes and
geometry written beside it as JSON (``<file>.json``, or ``keras_seg.json`` inside a
SavedModel folder). ``with_preprocessing=True`` puts the convention inside the graph, which
then takes uint8 RGB images (N, H, W, 3).

ONNX files are written from the Keras layers by :mod:`keras_seg.export.onnx_graph` (a few
times the weights' size in memory, where TensorFlow's ONNX route needs about 55 times);
SavedModel is Keras's ``model.export``; TFLite is TensorFlow's converter. Importing this
module imports neither TensorFlow nor ONNX.
"""

from pathlib import Path

#: Export formats, and the file suffixes that select them (else: a SavedModel folder).
FORMATS = ("keras", "savedmodel", "tflite", "onnx")
SUFFIXES = {".keras": "keras", ".tflite": "tflite", ".onnx": "onnx"}
INSTALL_HINT = "pip install keras-seg[export]"
#: Python modules each format needs beyond TensorFlow and Keras.
REQUIREMENTS = {"onnx": ("onnx",), "tflite": (), "savedmodel": (), "keras": ()}


def format_for_path(path):
    """The format an output path asks for: by suffix, else a SavedModel folder.

    Example:
        >>> format_for_path("fcn8s.onnx"), format_for_path("exported/fcn8s")
        ('onnx', 'savedmodel')
    """
    return SUFFIXES.get(Path(path).suffix.lower(), "savedmodel")


def check_dependencies(format):
    """Refuse a ``format`` this process cannot write.

    Raises:
        ImportError: a package the format needs is missing (with the install hint).
        ValueError: the format traces the model with TensorFlow (SavedModel, TFLite) and
            Keras runs on another backend.

    Example:
        >>> check_dependencies("savedmodel")
    """
    import importlib.util

    for module in REQUIREMENTS[format]:
        if importlib.util.find_spec(module) is None:
            raise ImportError(f"exporting to {format} needs the {module!r} package: "
                              f"{INSTALL_HINT}")
    if format in ("savedmodel", "tflite"):
        import keras

        backend = keras.backend.backend()
        if backend != "tensorflow":
            raise ValueError(f"a {format} export traces the model with TensorFlow: run it "
                             f"with KERAS_BACKEND=tensorflow (this is {backend}; the keras "
                             "and onnx formats work under any backend)")


def export_model(model, path, format=None, *, with_preprocessing=False):
    """Write ``model`` to ``path`` as ``.keras``, SavedModel, TFLite or ONNX.

    Args:
        model: a Keras model (built by keras-seg, or any Functional model of the layers
            the ONNX writer knows, for ONNX).
        path: output file (``.keras``, ``.tflite``, ``.onnx``) or SavedModel folder.
        format: one of :data:`FORMATS`; default from the suffix of ``path``.
        with_preprocessing: take uint8 RGB (N, H, W, 3) and apply the model's input
            convention inside the graph (not for ``.keras``).

    Returns:
        The paths written: the export, then its JSON metadata (none for ``.keras``, whose
        file keeps ``model.metadata``).

    Raises:
        ValueError: an unknown format, preprocessing asked for ``.keras`` or for a model
            that carries no input convention, or (ONNX) a layer without converter.
        ImportError: a package the format needs is missing (with the install hint).

    Example:
        >>> model = keras_seg.build("fcn8s", weights="fcn8s")  # doctest: +SKIP
        >>> export_model(model, "fcn8s.onnx")  # doctest: +SKIP
        [PosixPath('fcn8s.onnx'), PosixPath('fcn8s.onnx.json')]
    """
    format = format or format_for_path(path)
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")
    if with_preprocessing and format == "keras":
        raise ValueError("with_preprocessing needs a savedmodel, tflite or onnx export (a "
                         ".keras file keeps the model's input convention in its metadata)")
    check_dependencies(format)
    path = Path(path)
    if format == "keras":
        model.save(path)
        return [path]
    from keras_seg.export.metadata import export_metadata, write_metadata
    from keras_seg.inference.preprocess import input_convention

    convention = input_convention(model) if with_preprocessing else None
    metadata = export_metadata(model, format, with_preprocessing=with_preprocessing)
    _WRITERS[format](model, path, convention, metadata)
    return [path, write_metadata(metadata, path, format)]


def _write_onnx(model, path, convention, metadata):
    import json

    from keras_seg.export.onnx_graph import model_to_onnx, save_onnx

    save_onnx(model_to_onnx(model, preprocessing=convention), path, json.dumps(metadata))


def _write_saved_model(model, path, convention, metadata):
    from keras_seg.export.tensorflow_formats import save_saved_model

    save_saved_model(model, path, convention)


def _write_tflite(model, path, convention, metadata):
    from keras_seg.export.tensorflow_formats import save_tflite

    save_tflite(model, path, convention)


_WRITERS = {"onnx": _write_onnx, "savedmodel": _write_saved_model, "tflite": _write_tflite}

__all__ = ["FORMATS", "check_dependencies", "export_model", "format_for_path"]
