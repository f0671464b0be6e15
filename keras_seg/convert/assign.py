"""One strict routine that places source arrays into a model's variables, all or nothing."""

from dataclasses import dataclass, field

import keras
import numpy as np

from keras_seg.errors import ConversionError


@dataclass(frozen=True)
class Layout:
    """How a source array's axes map onto a Keras variable's axes.

    ``permutation`` reorders source axes into Keras order (``None`` keeps them); the inverse
    gives the shape the source must have, which error messages quote.
    """

    name: str
    permutation: tuple | None = None

    def source_shape(self, keras_shape):
        """The shape a source array must have to fill a variable of ``keras_shape``."""
        if self.permutation is None:
            return tuple(keras_shape)
        inverse = np.argsort(self.permutation)
        return tuple(keras_shape[i] for i in inverse)

    def to_keras(self, array):
        """The source array in the variable's layout."""
        return array if self.permutation is None else np.transpose(array, self.permutation)


KEEP = Layout("as is")
#: Caffe/PyTorch convolution (out, in, kh, kw) -> Keras (kh, kw, in, out); the same axes
#: turn a Caffe deconvolution (in, out, kh, kw) into Keras's transposed kernel (kh, kw, out, in).
OIHW_TO_HWIO = Layout("OIHW", (2, 3, 1, 0))
#: Fully connected (out, in) -> Keras Dense (in, out).
OI_TO_IO = Layout("OI", (1, 0))


@dataclass(frozen=True)
class Transfer:
    """Fill ``variable`` of ``layer`` from source ``key``, converting with ``layout``.

    ``source_type`` (optional) is the layer type the source must have (Caffe's
    ``Convolution``...), checked when the reader knows the types. ``transform`` (optional)
    changes the values after the layout: a spatial flip, or a fold such as Lasagne's inverse
    standard deviation into a variance.
    """

    key: str
    layer: str
    variable: keras.Variable
    layout: Layout = KEEP
    source_type: str | None = None
    transform: object = None


@dataclass
class LoadReport:
    """What a weight load did: variables filled, sources not used, variables left as they were."""

    source: str
    assigned: list = field(default_factory=list)
    unused: list = field(default_factory=list)
    unfilled: list = field(default_factory=list)

    @property
    def complete(self):
        """True when every variable was filled and every source used."""
        return not self.unused and not self.unfilled

    def differences(self):
        """Lines naming (the first few) unfilled variables and unused sources."""
        lines = []
        if self.unfilled:
            lines.append(f"left unfilled ({len(self.unfilled)}): {_first(self.unfilled)}")
        if self.unused:
            lines.append(f"not used ({len(self.unused)}): {_first(self.unused)}")
        return lines

    def __str__(self):
        return "\n".join([f"{self.source}: {len(self.assigned)} arrays assigned",
                          *self.differences()])


def _first(names, count=5):
    """The first ``count`` names, and how many more."""
    more = f" ... and {len(names) - count} more" if len(names) > count else ""
    return ", ".join(names[:count]) + more


def assign(transfers, sources, *, source_name, strict=True, source_types=None, dropped=()):
    """Check every transfer, then assign them all; on any problem assign nothing.

    All names, types and shapes are checked before the first assignment; arrays are then
    converted and assigned one at a time, so memory peaks at the model plus one layer.

    Args:
        transfers: the :class:`Transfer` list of a model (from a family's rules).
        sources: flat ``{key: array}`` read from the file.
        source_name: the file, for messages.
        strict: raise when a variable has no source or a source has no variable; otherwise
            only report them.
        source_types: optional ``{layer name in the file: layer type}``.
        dropped: source keys the rules leave out on purpose (not reported as unused).

    Returns:
        A :class:`LoadReport`.

    Raises:
        ConversionError: naming each layer with a problem, its expected and found shape.

    Example:
        >>> report = assign(caffe_transfers(model), read_caffemodel(path),
        ...                 source_name=path)  # doctest: +SKIP
    """
    source_types = source_types or {}
    report, problems, values, used = LoadReport(str(source_name)), [], [], set()
    for transfer in transfers:
        source_layer = transfer.key.rsplit("/", 1)[0]
        if transfer.key not in sources:
            report.unfilled.append(f"{transfer.variable.path} (from {transfer.key})")
            continue
        used.add(transfer.key)
        found_type = source_types.get(source_layer)
        if transfer.source_type and found_type and found_type != transfer.source_type:
            problems.append(
                f"layer {transfer.layer}: expected a {transfer.source_type} layer in the file, "
                f"found {source_layer!r} of type {found_type}"
            )
            continue
        expected = transfer.layout.source_shape(tuple(transfer.variable.shape))
        array = _fit(sources[transfer.key], expected)
        if array is None:
            problems.append(
                f"layer {transfer.layer}: {transfer.key} should have shape {expected} "
                f"({transfer.layout.name}), found {tuple(sources[transfer.key].shape)}"
            )
            continue
        values.append((transfer, array))  # converted one at a time below: no second copy
    used.update(dropped)
    for key in sources:
        if key not in used:
            layer = key.rsplit("/", 1)[0]
            kind = f" ({source_types[layer]})" if layer in source_types else ""
            report.unused.append(f"{key}{kind}")
    if problems:
        shown = problems[:2] + ([f"... and {len(problems) - 2} more"] if len(problems) > 2 else [])
        raise ConversionError(f"{source_name}: nothing loaded, {len(problems)} arrays do not "
                              "fit:\n  " + "\n  ".join(shown))
    if strict and not report.complete:
        raise ConversionError(
            f"{source_name}: nothing loaded (strict): the file and the model differ\n"
            + "\n".join(report.differences()) + "\n"
            "  pass strict=False to load the matching part only"
        )
    for transfer, array in values:
        value = transfer.layout.to_keras(array)
        if transfer.transform is not None:
            value = transfer.transform(np.asarray(value, np.float64))
        transfer.variable.assign(np.asarray(value, dtype=transfer.variable.dtype))
        report.assigned.append(transfer.variable.path)
    return report


@dataclass(frozen=True)
class Misfit:
    """A variable the source cannot fill.

    ``found`` is None where the key is missing, else the shape the source has (empty with
    ``reason`` when the source's layer is of another type).
    """

    transfer: Transfer
    expected: tuple
    found: tuple | None
    reason: str

    def follows_classes(self, num_classes):
        """Whether the source's array differs only along axes of size ``num_classes``.

        Such a layer is a head trained on another number of classes.
        """
        if self.found is None or self.reason:
            return False
        expected = tuple(d for d in self.expected if d != 1)  # Caffe's legacy 4-D padding
        found = tuple(d for d in self.found if d != 1)
        return len(found) == len(expected) and all(
            e == num_classes for e, f in zip(expected, found) if e != f)

    def line(self):
        """One line naming the layer, the key, the expected and the found shape."""
        t = self.transfer
        if self.found is None:
            return f"layer {t.layer}: {t.key} is not in the file"
        if self.reason:
            return f"layer {t.layer}: {self.reason}"
        return f"layer {t.layer}: {t.key} should have shape {self.expected}, found {self.found}"


def fitting_transfers(transfers, sources, source_types=None):
    """Split ``transfers`` into those of layers that fit ``sources`` whole and the misfits.

    Args:
        transfers: the :class:`Transfer` list of a model.
        sources: flat ``{key: array}`` read from a file.
        source_types: optional ``{layer name in the file: layer type}``.

    Returns:
        (the transfers of the layers whose every array is in ``sources`` in a shape that
        fits and of the expected type, a :class:`Misfit` per array that is not).

    Example:
        >>> fitting, misfits = fitting_transfers(keras_transfers(model), arrays)  # doctest: +SKIP
        >>> [m.line() for m in misfits]  # doctest: +SKIP
        ['layer score_fr: layers/conv2d_15/vars/0 should have shape (1, 1, 128, 3), found ...']
    """
    source_types, misfits = source_types or {}, []
    for transfer in transfers:
        expected = transfer.layout.source_shape(tuple(transfer.variable.shape))
        found_type = source_types.get(transfer.key.rsplit("/", 1)[0])
        if transfer.key not in sources:
            misfits.append(Misfit(transfer, expected, None, ""))
        elif transfer.source_type and found_type and found_type != transfer.source_type:
            misfits.append(Misfit(transfer, expected, (), f"expected a {transfer.source_type} "
                                                        f"layer in the file, found {found_type}"))
        elif _fit(sources[transfer.key], expected) is None:
            misfits.append(Misfit(transfer, expected, tuple(sources[transfer.key].shape), ""))
    unfit = {m.transfer.layer for m in misfits}
    return [t for t in transfers if t.layer not in unfit], misfits


def _fit(array, expected):
    """``array`` in shape ``expected``, allowing Caffe's 4-D padding of smaller blobs.

    Legacy blobs pad with leading 1s (1x1x1xC); per-channel blobs of the SegNet fork's ``BN``
    layer are 1xCx1x1.
    """
    shape = tuple(array.shape)
    if shape == expected:
        return array
    legacy = (1,) * (4 - len(expected)) + expected if len(expected) < 4 else None
    if legacy is not None and shape == legacy:
        return array.reshape(expected)
    if len(expected) == 1 and shape == (1, expected[0], 1, 1):  # per-channel 1xCx1x1 blobs
        return array.reshape(expected)
    return None


def weighted_layers(model):
    """Every layer of ``model`` that owns variables, nested models flattened, in order."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from weighted_layers(layer)
        elif layer.weights:
            yield layer
