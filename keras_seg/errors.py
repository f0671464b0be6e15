"""Exceptions of keras-seg."""


class ConversionError(ValueError):
    """A weights file cannot be read, or cannot be placed into a model.

    The message names the layer and, for shape problems, the expected and the found shape.
    """
