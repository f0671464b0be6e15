"""What keras-seg knows of each layer class, declared beside the class, found in one place.

Every part of the library that treats layers one by one asks this registry, by layer
class, for one *aspect* of a :class:`LayerSupport` record:

- ``onnx``: the layer's ONNX form, ``convert(graph, layer, inputs) -> [output names]``,
  written against the graph builder it is given (``graph.op``, ``graph.constant``,
  ``graph.shape``; NCHW tensor names), or :class:`Refused` with the reason;
- ``tflite``: a stand-in class computing the same values with TFLite's built-in operators,
  or :data:`AS_IS`;
- ``geometry``: a :class:`SpatialRule`, how its output pixels read its input pixels (the
  receptive-field walk of :mod:`keras_seg.model_stats`), or :data:`POINTWISE`;
- ``caffe_check``: a :class:`CaffeCounterpart`, the Caffe layer types it stands for and
  the check of a prototxt layer against it, or :data:`NO_CAFFE_LAYER`;
- ``precision``: ``"float32"`` (keeps float32 under a bfloat16 policy), ``"policy"``
  (computes in the policy's dtype) or a function of the layer giving one of these.

A keras-seg layer's module calls :func:`register_support` right after the class, with all
five aspects: adding a layer is one file and its test (``tests/test_layer_support.py``
names any keras-seg layer lacking an aspect). The stock Keras layers the networks use are
declared the same way in :mod:`keras_seg.layers.keras_layers`. The forms are written
against what they are handed (a graph builder, a parsed prototxt message), so this package
imports nothing of ``export``, ``convert``, ``inference`` or ``model_stats``: those look the
aspects up here, as ``torch.onnx`` asks an autograd function for its ``symbolic``.

Example:
    >>> from keras_seg.layers import CaffeCrop
    >>> support_of(CaffeCrop).caffe_check.types
    ('Crop',)
"""

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

#: The aspects of a :class:`LayerSupport`, in declaration order.
ASPECTS = ("onnx", "tflite", "geometry", "caffe_check", "precision")
#: ``tflite``: the layer converts with TFLite's built-in operators as it is.
AS_IS = "as is"
#: Precision rules: keeps float32 under bfloat16, or computes in its policy's dtype.
PRECISIONS = ("float32", "policy")


class _Missing:
    """The value of an aspect nobody declared."""

    def __repr__(self):
        return "MISSING"


MISSING = _Missing()


@dataclass(frozen=True)
class Refused:
    """``onnx``: the layer could be written but is refused, for ``reason``."""

    reason: str


@dataclass(frozen=True)
class SpatialRule:
    """``geometry``: how output pixels read input pixels along one spatial axis.

    Attributes:
        rule: ``rule(layer, axis, n_in, n_out)`` giving ``("window", k, s, d, before)``,
            ``("transposed", k, s, d, before)``, ``("upsample", s, bilinear)``,
            ``("shift", first input pixel of output pixel 0)`` or None (pixel to pixel);
            None for a layer that never changes the spatial layout.
        shape_only_inputs: positions of the inputs read only for their shape (the
            reference of a crop), which do not add to the receptive field.
    """

    rule: Callable | None = None
    shape_only_inputs: frozenset = frozenset()


#: ``geometry``: output pixel i reads input pixel i (the fields of several inputs join).
POINTWISE = SpatialRule()


@dataclass(frozen=True)
class CaffeCounterpart:
    """``caffe_check``: the Caffe layer types a layer stands for, and how to check one.

    Attributes:
        types: Caffe layer type names (``"Crop"``, ``"Deconvolution"``...).
        check: ``check(spec, layer, model_layers)`` yielding ``(field, prototxt value,
            model value)`` for the parsed prototxt layer ``spec`` (a dict of repeated
            fields, see :func:`caffe_first`), the Keras ``layer`` of the same name and all
            model layers by name; or None (nothing to compare).
        accepts: ``accepts(spec)``, whether this class is the counterpart of that
            prototxt layer (SegNet's two-top ``Pooling`` is index pooling); default all.
    """

    types: tuple = ()
    check: Callable | None = None
    accepts: Callable | None = None

    def stands_for(self, spec, kind):
        """Whether this counterpart stands for the prototxt layer ``spec`` of type ``kind``."""
        return kind in self.types and (self.accepts is None or self.accepts(spec))


#: ``caffe_check``: no Caffe layer of its own (written by the builders, or a Keras idiom).
NO_CAFFE_LAYER = CaffeCounterpart()


@dataclass(frozen=True)
class LayerSupport:
    """The five aspects of one layer class (see the module docstring); unset is MISSING.

    Example:
        >>> LayerSupport(precision="float32").precision
        'float32'
    """

    onnx: Any = MISSING
    tflite: Any = MISSING
    geometry: Any = MISSING
    caffe_check: Any = MISSING
    precision: Any = MISSING


_REGISTRY = {}


def register_support(layer_class, **aspects):
    """Declare aspects of ``layer_class``; each aspect of a class is declared once.

    Args:
        layer_class: a ``keras.layers.Layer`` subclass.
        **aspects: any of :data:`ASPECTS`.

    Raises:
        ValueError: an unknown aspect name, an invalid value, or an aspect declared twice.

    Example:
        >>> import keras
        >>> class Twice(keras.layers.Layer):
        ...     def call(self, x):
        ...         return 2 * x
        >>> register_support(Twice, geometry=POINTWISE, precision="policy")  # doctest: +SKIP
    """
    unknown = sorted(set(aspects) - set(ASPECTS))
    if unknown:
        raise ValueError(f"{layer_class.__name__}: unknown aspects {unknown}; expected some "
                         f"of {list(ASPECTS)}")
    _check_values(layer_class, aspects)
    old = _REGISTRY.get(layer_class, LayerSupport())
    twice = [name for name in aspects if getattr(old, name) is not MISSING]
    if twice:
        raise ValueError(f"{layer_class.__name__}: aspects {twice} are declared already")
    merged = {f.name: getattr(old, f.name) for f in fields(LayerSupport)} | aspects
    _REGISTRY[layer_class] = LayerSupport(**merged)


def _check_values(layer_class, aspects):
    expected = {"geometry": SpatialRule, "caffe_check": CaffeCounterpart}
    for name, kind in expected.items():
        if name in aspects and not isinstance(aspects[name], kind):
            raise ValueError(f"{layer_class.__name__}: {name} must be a {kind.__name__}, got "
                             f"{aspects[name]!r}")
    precision = aspects.get("precision", "policy")
    if not callable(precision) and precision not in PRECISIONS:
        raise ValueError(f"{layer_class.__name__}: precision must be one of {PRECISIONS} or "
                         f"a function of the layer, got {precision!r}")


def support_of(layer_or_class):
    """The record declared for exactly this class (all MISSING if none).

    Example:
        >>> from keras_seg.layers import LRN
        >>> support_of(LRN).precision
        'float32'
    """
    kind = layer_or_class if isinstance(layer_or_class, type) else type(layer_or_class)
    return _REGISTRY.get(kind, LayerSupport())


def aspect_of(layer_or_class, aspect, *, inherit):
    """One aspect of a layer: of its own class, or (``inherit``) of its nearest base class.

    ``inherit=False`` for forms that mirror ``call`` (ONNX, TFLite): a subclass may change
    ``call``. ``inherit=True`` for what a subclass keeps (geometry, Caffe type, precision).

    Returns:
        The declared value, or :data:`MISSING`.

    Example:
        >>> from keras_seg.layers import GroupedConv2DTranspose
        >>> aspect_of(GroupedConv2DTranspose, "geometry", inherit=True).rule is not None
        True
    """
    kind = layer_or_class if isinstance(layer_or_class, type) else type(layer_or_class)
    for cls in kind.__mro__ if inherit else (kind,):
        value = getattr(_REGISTRY.get(cls, LayerSupport()), aspect)
        if value is not MISSING:
            return value
    return MISSING


def missing_aspects(layer_class):
    """The aspects ``layer_class`` itself has not declared, in :data:`ASPECTS` order.

    Example:
        >>> import keras
        >>> missing_aspects(type("NewLayer", (keras.layers.Layer,), {}))
        ['onnx', 'tflite', 'geometry', 'caffe_check', 'precision']
    """
    record = support_of(layer_class)
    return [name for name in ASPECTS if getattr(record, name) is MISSING]


def precision_of(layer):
    """``"float32"`` or ``"policy"`` for ``layer`` (inherited; undeclared: ``"policy"``).

    Example:
        >>> from keras_seg.layers import LRN
        >>> precision_of(LRN())
        'float32'
    """
    rule = aspect_of(layer, "precision", inherit=True)
    if rule is MISSING:
        return "policy"
    return rule(layer) if callable(rule) else rule


def caffe_counterparts(kind):
    """The classes declaring Caffe layer type ``kind``, with their counterparts.

    Example:
        >>> [cls.__name__ for cls, _ in caffe_counterparts("Crop")]
        ['CaffeCrop']
    """
    return [(cls, record.caffe_check) for cls, record in _REGISTRY.items()
            if isinstance(record.caffe_check, CaffeCounterpart)
            and kind in record.caffe_check.types]


def caffe_first(message, name, default=None):
    """The first value of field ``name`` of a parsed prototxt message, or ``default``.

    A parsed message is a dict from field names to lists of values (fields repeat).

    Example:
        >>> caffe_first({"offset": [4, 8]}, "offset"), caffe_first({}, "axis", 2)
        (4, 2)
    """
    values = message.get(name)
    return values[0] if values else default


def caffe_pair(param, name, default):
    """Caffe's (h, w) of a spatial parameter: ``<x>_h``/``<x>_w`` or (repeated) ``name``.

    Example:
        >>> caffe_pair({"kernel_h": [3], "kernel_w": [5]}, "kernel_size", None)
        (3, 5)
    """
    prefix = name.removesuffix("_size")
    if f"{prefix}_h" in param or f"{prefix}_w" in param:
        return (caffe_first(param, f"{prefix}_h", default),
                caffe_first(param, f"{prefix}_w", default))
    values = param.get(name, [default])
    return (values[0], values[-1])


def registered_classes():
    """The layer classes with a record, in registration order.

    Example:
        >>> import keras
        >>> keras.layers.Conv2D in registered_classes()
        True
    """
    return list(_REGISTRY)
