"""Write ``.caffemodel`` files: a built model's weights in a Caffe release's names and layout.

The inverse of :mod:`keras_seg.convert.caffe`'s rules: every blob ``"<layer>/<i>"`` that
:func:`~keras_seg.convert.caffe.caffe_transfers` would read is written back in Caffe's layout
(convolutions (out, in, kh, kw), deconvolutions (in, out, kh, kw), the SegNet fork's ``BN``
blobs 1xCx1x1), under the Keras layer's name, which is the original layer's name. The
protobuf wire format is encoded by hand (``NetParameter``: name 1, layer 100 or legacy V1
layers 2; ``BlobProto``: shape 7 with packed data 5, or legacy num/channels/height/width
1-4 with unpacked floats); large blobs are streamed to the file, not copied.

Used for random-weight stand-ins of published files (:func:`keras_seg.pretrained.write_stand_in`)
and by the tests, whose files OpenCV's Caffe importer reads as well.

Example:
    >>> model = keras_seg.build("fcn8s", widths=(4, 8, 8, 8, 8, 16))  # doctest: +SKIP
    >>> save_caffemodel(model, "fcn8s.caffemodel")  # doctest: +SKIP
"""

from pathlib import Path

import numpy as np

from keras_seg.files import atomic_path

#: ``V1LayerParameter.LayerType`` of the weighted layer types a legacy file can hold (V1 has
#: no ``Scale`` or ``BN``).
V1_TYPES = {"Convolution": 4, "Deconvolution": 39, "InnerProduct": 14}
_NET_NAME, _NET_LAYERS_V1, _NET_LAYER = 1, 2, 100
_LENGTH_DELIMITED, _FIXED32 = 2, 5


def caffe_layers(model):
    """The model's current weights as Caffe layers, in the model's layer order.

    Returns:
        ``[(layer name, Caffe type, [arrays in Caffe's layout])]``, exactly what
        :func:`keras_seg.load_weights` reads back into the same model.

    Example:
        >>> layers = caffe_layers(keras_seg.build("fcn8s"))  # doctest: +SKIP
        >>> layers[0][0], layers[0][1], layers[0][2][0].shape  # doctest: +SKIP
        ('conv1_1', 'Convolution', (64, 3, 3, 3))
    """
    return _layers(model, lambda transfer: np.asarray(transfer.variable, np.float32))


def random_caffe_layers(model, seed=0, std=None):
    """Caffe layers of ``model``'s layout filled with random values (not the model's own).

    Args:
        model: a model from :func:`keras_seg.build`.
        seed: seed of the values.
        std: None: He-scaled normal kernels (std sqrt(2 / fan-in)), scales around 1, biases
            and shifts normal with std 0.05, so that activations keep their size through a
            deep network; a number: every blob normal with that std.

    Returns:
        ``[(layer name, Caffe type, [arrays])]`` as :func:`caffe_layers`.

    Example:
        >>> layers = random_caffe_layers(keras_seg.build("unet"), seed=1)  # doctest: +SKIP
    """
    rng = np.random.default_rng(seed)

    def value(transfer):
        shape = transfer.layout.source_shape(tuple(transfer.variable.shape))
        if std is not None:
            return rng.normal(0, std, shape).astype(np.float32)
        role = transfer.variable.name
        if role == "kernel":
            fan_in = int(np.prod(shape[1:]))
            kernel = rng.standard_normal(shape, np.float32)
            kernel *= np.float32(np.sqrt(2.0 / fan_in))  # in place: no float64 copy
            return kernel
        if role == "gamma":
            return rng.uniform(0.5, 1.5, shape).astype(np.float32)
        return rng.normal(0, 0.05, shape).astype(np.float32)

    return _layers(model, value, keras_layout=False)


def save_caffemodel(model, path, *, v1=False, net_name=None):
    """Write ``model``'s current weights as a ``.caffemodel`` of the original layout.

    Args:
        model: a model from :func:`keras_seg.build` (layer names are the original ones).
        path: the file to write (replaced atomically).
        v1: write the legacy ``V1LayerParameter`` format (convolutions only).
        net_name: the ``NetParameter.name`` stored in the file (default: the model's name).

    Returns:
        ``path``.

    Example:
        >>> save_caffemodel(keras_seg.build("fcn8s"), "random.caffemodel")  # doctest: +SKIP
    """
    return write_caffemodel(path, caffe_layers(model), v1=v1, net_name=net_name or model.name)


def write_caffemodel(path, layers, *, v1=False, net_name="keras-seg"):
    """Write ``[(name, type, [arrays])]`` (optionally ``bottoms, tops`` after the arrays).

    Blobs are written as float32 in their given shapes; the file appears only when complete.

    Args:
        path: the file to write.
        layers: the layers with weights, in file order.
        v1: the legacy format (types from :data:`V1_TYPES`, unpacked floats).
        net_name: ``NetParameter.name``.

    Returns:
        ``path``.

    Example:
        >>> write_caffemodel("one.caffemodel",
        ...                  [("conv1", "Convolution", [np.ones((2, 3, 1, 1))])])  # doctest: +SKIP
    """
    path = Path(path)
    with atomic_path(path) as partial, open(partial, "wb") as f:
        f.write(bytes_field(_NET_NAME, net_name.encode()))
        for name, type_, blobs, *connections in layers:
            bottoms, tops = [*connections, (), ()][:2]
            for part in _layer_parts(name, type_, blobs, bottoms, tops, v1):
                f.write(part)
    return path


def encode_layer(name, type_, blobs, bottoms=(), tops=(), v1=False):
    """One ``LayerParameter`` (field 100 of NetParameter) or ``V1LayerParameter`` (field 2).

    Example:
        >>> encode_layer("fc", "InnerProduct", [np.zeros((1, 1))])[:2].hex()
        'a206'
    """
    return b"".join(bytes(part) for part in _layer_parts(name, type_, blobs, bottoms, tops, v1))


def encode_blob(array, legacy=False):
    """``BlobProto``: ``shape`` + packed floats, or legacy num/channels/height/width + unpacked.

    Example:
        >>> encode_blob(np.zeros(1)).hex()
        '3a030a01012a0400000000'
    """
    head, data = _blob_parts(array, legacy)
    return head + bytes(data)


def varint(value):
    """A non-negative integer as a protobuf varint.

    Example:
        >>> list(varint(150))
        [150, 1]
    """
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def field_key(number, wire):
    """The key of field ``number`` with wire type ``wire``."""
    return varint(number << 3 | wire)


def bytes_field(number, payload):
    """A length-delimited field."""
    return field_key(number, _LENGTH_DELIMITED) + varint(len(payload)) + payload


def int_field(number, value):
    """A varint field."""
    return field_key(number, 0) + varint(value)


def _layers(model, value, keras_layout=True):
    """Group the model's Caffe transfers by layer, with ``value(transfer)`` as each blob."""
    from keras_seg.convert.caffe import caffe_transfers

    layers, index = [], {}
    for transfer in caffe_transfers(model):
        array = value(transfer)
        if keras_layout and transfer.layout.permutation is not None:
            array = np.transpose(array, np.argsort(transfer.layout.permutation))
        if transfer.source_type == "BN":  # the SegNet fork stores per-channel blobs 1xCx1x1
            array = array.reshape(1, -1, 1, 1)
        if transfer.layer not in index:
            index[transfer.layer] = len(layers)
            layers.append((transfer.layer, transfer.source_type, []))
        layers[index[transfer.layer]][2].append(np.ascontiguousarray(array, np.float32))
    return layers


def _blob_parts(array, legacy):
    """(header bytes, payload buffer) of a BlobProto; the payload is not copied."""
    array = np.ascontiguousarray(array, dtype="<f4")
    if not legacy:
        dims = b"".join(varint(d) for d in array.shape)
        shape = bytes_field(7, bytes_field(1, dims))
        return shape + field_key(5, _LENGTH_DELIMITED) + varint(array.nbytes), memoryview(
            array.reshape(-1)).cast("B")
    dims = (1,) * (4 - array.ndim) + array.shape
    head = b"".join(int_field(n, d) for n, d in zip((1, 2, 3, 4), dims))
    records = np.empty((array.size, 5), np.uint8)
    records[:, 0] = 5 << 3 | _FIXED32
    records[:, 1:] = array.reshape(-1).view(np.uint8).reshape(-1, 4)
    return head, memoryview(records.reshape(-1))


def _layer_parts(name, type_, blobs, bottoms, tops, v1):
    """The pieces of one layer message, in order (header first, then each blob's data)."""
    blob_parts = [_blob_parts(blob, legacy=v1) for blob in blobs]
    if v1:
        if type_ not in V1_TYPES:
            raise ValueError(f"layer {name}: the legacy V1 format has no {type_} layers")
        head = b"".join(bytes_field(2, b.encode()) for b in bottoms)
        head += b"".join(bytes_field(3, t.encode()) for t in tops)
        head += bytes_field(4, name.encode()) + int_field(5, V1_TYPES[type_])
        number, blob_field = _NET_LAYERS_V1, 6
    else:
        head = bytes_field(1, name.encode()) + bytes_field(2, type_.encode())
        head += b"".join(bytes_field(3, b.encode()) for b in bottoms)
        head += b"".join(bytes_field(4, t.encode()) for t in tops)
        number, blob_field = _NET_LAYER, 7
    pieces = [head]
    for blob_head, data in blob_parts:
        size = len(blob_head) + data.nbytes
        pieces += [field_key(blob_field, _LENGTH_DELIMITED) + varint(size) + blob_head, data]
    body = sum(len(p) if isinstance(p, bytes) else p.nbytes for p in pieces)
    return [field_key(number, _LENGTH_DELIMITED) + varint(body), *pieces]
