"""SavedModel (Keras's own export) and TFLite (TensorFlow's converter) exports."""

import tempfile
from pathlib import Path


def save_saved_model(model, path, convention=None):
    """Write a TF SavedModel of ``model``; with ``convention``, one taking uint8 RGB.

    Without a convention this is Keras's ``model.export(format="tf_saved_model")``; with one,
    an ``ExportArchive`` whose ``serve`` endpoint casts the uint8 images, applies the
    convention (the same :class:`~keras_seg.input_conventions.InputConvention` arithmetic as
    inference) and calls the model.

    Args:
        model: a Keras model.
        path: the SavedModel folder.
        convention: None, or the input convention to put inside the graph.

    Example:
        >>> save_saved_model(model, "exported/fcn8s")  # doctest: +SKIP
    """
    if convention is None:
        model.export(str(path), format="tf_saved_model", verbose=False)
        return
    import tensorflow as tf
    from keras.export import ExportArchive

    archive = ExportArchive()
    archive.track(model)
    height, width = model.inputs[0].shape[1:3]

    def serve(images):
        return model(convention(tf.cast(images, tf.float32)), training=False)

    archive.add_endpoint("serve", serve, input_signature=[
        tf.TensorSpec((None, height, width, 3), tf.uint8, name="image")])
    archive.write_out(str(path), verbose=False)


def save_tflite(model, path, convention=None):
    """Write a TFLite flatbuffer of ``model`` (built-in operators only, float32).

    The model goes through a temporary SavedModel (:func:`save_saved_model`) and
    ``tf.lite.TFLiteConverter``; free height and width stay free (the interpreter's
    ``resize_tensor_input`` sets them). Only TFLite's built-in operators are allowed, so the
    LiteRT interpreter (``ai-edge-litert``) runs the file without the Flex delegate.

    Args:
        model: a Keras model.
        path: the ``.tflite`` file.
        convention: None, or the input convention to put inside the graph.

    Example:
        >>> save_tflite(model, "fcn8s.tflite")  # doctest: +SKIP
    """
    import tensorflow as tf

    from keras_seg.export.tflite_layers import tflite_ready

    model = tflite_ready(model)
    with tempfile.TemporaryDirectory(prefix="keras_seg_tflite_") as folder:
        save_saved_model(model, folder, convention)
        converter = tf.lite.TFLiteConverter.from_saved_model(
            folder, signature_keys=["serving_default"])
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        try:
            flatbuffer = converter.convert()
        except Exception as error:
            if type(error).__name__ != "ConverterError":  # tf.lite has no public name for it
                raise
            raise ValueError(f"TFLite conversion of {model.name!r} failed: "
                             f"{_converter_summary(error)}") from error
    Path(path).write_bytes(flatbuffer)


def _converter_summary(error):
    """The converter's verdict without its MLIR dump (the ops TFLite lacks, if named)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    named = [line for line in lines if line.startswith(("TF Select ops:", "Custom ops:"))]
    return "; ".join(named) or (lines[-1] if lines else type(error).__name__)
