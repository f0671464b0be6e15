"""Exceptions of keras-seg."""

import string


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


class ParameterMessage:
    """A message about parameters, written once and rendered with any names for them.

    The message is a :meth:`str.format` template: a placeholder named in ``values`` is
    filled with that value, every other placeholder is a parameter. ``str()`` names the
    parameters as Python does (``epochs``); :meth:`render` names them as a caller's
    interface does (the command line maps ``epochs`` to ``--epochs``).

    Attributes:
        template: the message with ``{parameter}`` and ``{value}`` placeholders.
        values: the values filled in (never taken for parameter names).
        parameters: the parameters the message is about, in order of appearance.

    Example:
        >>> error = ParameterError("{epochs} must be at least 1, got {value}", value=0)
        >>> str(error), error.parameters
        ('epochs must be at least 1, got 0', ('epochs',))
        >>> error.render({"epochs": "--epochs"})
        '--epochs must be at least 1, got 0'
    """

    def __init__(self, template, **values):
        self.template, self.values = template, values
        names = [field for _, field, _, _ in string.Formatter().parse(template) if field]
        self.parameters = tuple(dict.fromkeys(n for n in names if n not in values))
        super().__init__(self.render())

    def render(self, names=None):
        """The message with each parameter shown as ``names[parameter]`` (default: itself).

        Example:
            >>> ParameterError("pass {resume} or {overwrite}").render({"resume": "--resume"})
            'pass --resume or overwrite'
        """
        names = names or {}
        shown = {parameter: names.get(parameter, parameter) for parameter in self.parameters}
        return self.template.format_map({**shown, **self.values})

    def __reduce__(self):
        return _rebuild, (type(self), self.template, self.values)


def _rebuild(cls, template, values):
    return cls(template, **values)


class ParameterError(ParameterMessage, InputError):
    """A refusal before any work that is about parameters (a value out of range, a clash).

    Example:
        >>> str(ParameterError("{learning_rate} must be positive, got {value}", value=0))
        'learning_rate must be positive, got 0'
    """


class BadDataError(ParameterMessage, ValueError):
    """A failure during the work on bad data, whose message may point at parameters.

    Example:
        >>> str(BadDataError("bad file; pass {skip_bad_files} to leave it out"))
        'bad file; pass skip_bad_files to leave it out'
    """


class ParameterWarning(ParameterMessage, UserWarning):
    """A note about parameters (e.g. those a resumed run ignores).

    Example:
        >>> str(ParameterWarning("resuming: {learning_rate} ignored"))
        'resuming: learning_rate ignored'
    """


class MaskFormatError(ParameterMessage, InputError):
    """A mask its format cannot turn into labels: a JPEG mask, an unknown colour or label.

    Refused before any work (the command line exits with status 2); the message names the
    file and what is wrong in it.

    Example:
        >>> str(MaskFormatError("{path}: JPEG mask refused", path="m.jpg"))
        'm.jpg: JPEG mask refused'
    """
