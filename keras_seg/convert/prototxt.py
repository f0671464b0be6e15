"""Read Caffe ``.prototxt`` network definitions (protobuf text format) without Caffe.

A message becomes a dict from field name to the list of its values (every field may repeat
in the text format); nested messages are dicts of the same kind. :func:`net_layers` gives the
layers of a ``NetParameter`` in a uniform shape, whether it uses ``layer`` or legacy
``layers`` (with enum types).
"""

import os
import re

from keras_seg.convert.caffemodel import V1_LAYER_TYPES
from keras_seg.errors import ConversionError

_TOKEN = re.compile(
    r"""\s+|\#[^\n]*
    |(?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
    |(?P<punct>[{}:<>\[\],;])
    |(?P<word>[^\s{}:<>\[\],;"'\#]+)""",
    re.VERBOSE,
)
_CLOSING = {"{": "}", "<": ">"}
_V1_NAMES = dict(V1_LAYER_TYPES.values())


def parse_prototxt(text):
    """Parse protobuf text format into nested ``{field: [values]}`` dicts.

    Scalars become int, float, bool (``true``/``false``), or str (quoted strings and enum
    identifiers such as ``MAX``).

    Args:
        text: the file's contents.

    Returns:
        The top-level message.

    Raises:
        ConversionError: the text is not valid text format (with the line number).

    Example:
        >>> parse_prototxt('name: "n" layer { name: "c" convolution_param { pad: 1 } }')
        {'name': ['n'], 'layer': [{'name': ['c'], 'convolution_param': [{'pad': [1]}]}]}
    """
    tokens = _tokenize(text)
    return _parse_message(tokens, 0, closing=None)[0]


def load_prototxt(path):
    """Parse the ``.prototxt`` file at ``path`` (see :func:`parse_prototxt`)."""
    with open(os.fspath(path), encoding="utf-8") as f:
        try:
            return parse_prototxt(f.read())
        except ConversionError as error:
            raise ConversionError(f"{path}: {error}") from None


def net_layers(net):
    """The layers of a parsed ``NetParameter`` as dicts with ``type`` as a V2 type string.

    Legacy ``layers`` entries get their enum type (``CONVOLUTION``) turned into the string of
    the current format (``Convolution``).

    Example:
        >>> net_layers(parse_prototxt('layers { name: "c" type: CONVOLUTION }'))[0]["type"]
        ['Convolution']
    """
    layers = list(net.get("layer", []))
    for layer in net.get("layers", []):
        layer = dict(layer)
        kind = first(layer, "type", "")
        layer["type"] = [_V1_NAMES.get(kind, kind)]
        layers.append(layer)
    return layers


def first(message, name, default=None):
    """The first value of field ``name``, or ``default`` when it is absent."""
    values = message.get(name)
    return values[0] if values else default


def _tokenize(text):
    tokens, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            line = text.count("\n", 0, pos) + 1
            raise ConversionError(f"line {line}: cannot read {text[pos:pos + 20]!r}")
        if match.lastgroup:
            line = text.count("\n", 0, pos) + 1
            tokens.append((match.lastgroup, match.group(match.lastgroup), line))
        pos = match.end()
    return tokens


def _parse_message(tokens, pos, closing):
    message = {}
    while pos < len(tokens):
        kind, value, line = tokens[pos]
        if kind == "punct" and value == closing:
            return message, pos + 1
        if kind != "word":
            raise ConversionError(f"line {line}: expected a field name, found {value!r}")
        name, pos = value, pos + 1
        if pos < len(tokens) and tokens[pos][1] == ":":
            pos += 1
        if pos >= len(tokens):
            raise ConversionError(f"line {line}: field {name!r} has no value")
        kind, value, line = tokens[pos]
        if kind == "punct" and value in _CLOSING:
            field_value, pos = _parse_message(tokens, pos + 1, _CLOSING[value])
        elif kind == "punct" and value == "[":
            field_value, pos = _parse_list(tokens, pos + 1)
            message.setdefault(name, []).extend(field_value)
            pos = _skip_separator(tokens, pos)
            continue
        elif kind == "punct":
            raise ConversionError(f"line {line}: unexpected {value!r} after {name!r}")
        else:
            field_value, pos = _scalar(kind, value), pos + 1
        message.setdefault(name, []).append(field_value)
        pos = _skip_separator(tokens, pos)
    if closing is not None:
        raise ConversionError(f"unexpected end of text: a {closing!r} is missing")
    return message, pos


def _parse_list(tokens, pos):
    values = []
    while pos < len(tokens):
        kind, value, line = tokens[pos]
        if value == "]" and kind == "punct":
            return values, pos + 1
        if value == "," and kind == "punct":
            pos += 1
            continue
        if kind == "punct" and value in _CLOSING:
            item, pos = _parse_message(tokens, pos + 1, _CLOSING[value])
        elif kind == "punct":
            raise ConversionError(f"line {line}: unexpected {value!r} in a list")
        else:
            item, pos = _scalar(kind, value), pos + 1
        values.append(item)
    raise ConversionError("unexpected end of text: a ']' is missing")


def _skip_separator(tokens, pos):
    if pos < len(tokens) and tokens[pos][0] == "punct" and tokens[pos][1] in ",;":
        return pos + 1
    return pos


def _scalar(kind, text):
    if kind == "string":
        body = text[1:-1]
        if "\\" in body:
            body = body.encode("latin-1", "backslashreplace").decode("unicode_escape")
        return body
    if text in ("true", "True"):
        return True
    if text in ("false", "False"):
        return False
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    if text.lower().startswith("0x"):
        return int(text, 16)
    return text
