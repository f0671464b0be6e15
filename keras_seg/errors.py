"""Exceptions of keras-seg."""


class ConversionError(ValueError):
    """A weights file cannot be read, or cannot be placed into a model.

    The message names the layer and, for shape problems, the expected and the found shape.
    """


class InputError(ValueError):
    """A refusal before any work: a missing or unusable input, weights or output folder.

    The command line exits with status 2 for it (1 for a failure during the work).
    """


class UnsupportedLayerError(ValueError):
    """A layer the ONNX writer has no converter for (the message names it and its class)."""
