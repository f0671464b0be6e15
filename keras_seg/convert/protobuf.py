"""A minimal reader of the protobuf wire format, over a buffer, without copying payloads.

Only what Caffe's files need: walking the fields of a message, varints, and the payload of
length-delimited and fixed-width fields as offsets into the buffer, so that large float
arrays become NumPy views. Every length is checked against the enclosing message before it
is used, so a corrupted or truncated file raises ``ConversionError`` instead of reading past
its end or allocating what a bad length field asks for.
"""

from typing import NamedTuple

import numpy as np

from keras_seg.errors import ConversionError

VARINT, FIXED64, LENGTH_DELIMITED, FIXED32 = 0, 1, 2, 5
_FIXED_SIZE = {FIXED64: 8, FIXED32: 4}
# Runs of unpacked fixed-width values (legacy Caffe floats) are measured this many at a time.
_RUN_CHUNK = 1 << 16


class Field(NamedTuple):
    """One field of a message.

    ``value`` is the integer of a varint; otherwise ``start:end`` is the payload in the
    buffer. ``count`` > 1 marks a run of ``count`` consecutive unpacked fixed-width values of
    the same field, each preceded by its one-byte key: value ``i`` starts at
    ``start + i * (size + 1)``.
    """

    number: int
    wire_type: int
    value: int
    start: int
    end: int
    count: int = 1


def read_varint(buf, pos, end):
    """Decode a varint at ``pos``; return (value, position after it)."""
    result = shift = 0
    while True:
        if pos >= end:
            raise ConversionError(f"truncated varint at byte {pos}: the message ends at {end}")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise ConversionError(f"malformed varint (more than 10 bytes) before byte {pos}")


def iter_fields(buf, start=0, end=None, *, context="message"):
    """Yield the :class:`Field` items of the message in ``buf[start:end]``.

    Args:
        buf: a bytes-like object indexable to ints (bytes, mmap, memoryview of bytes).
        start: first byte of the message.
        end: one past its last byte (``len(buf)`` by default).
        context: what is being read, for error messages.

    Yields:
        Field tuples in file order.

    Example:
        >>> [f.value for f in iter_fields(bytes([0x08, 0x96, 0x01]))]
        [150]
    """
    end = len(buf) if end is None else end
    pos = start
    while pos < end:
        key, pos = read_varint(buf, pos, end)
        number, wire = key >> 3, key & 7
        if wire == VARINT:
            value, after = read_varint(buf, pos, end)
            yield Field(number, wire, value, pos, after)
            pos = after
        elif wire == LENGTH_DELIMITED:
            length, pos = read_varint(buf, pos, end)
            if length > end - pos:
                raise ConversionError(
                    f"truncated or corrupted {context}: field {number} at byte {pos} declares "
                    f"{length} bytes but only {end - pos} remain"
                )
            yield Field(number, wire, 0, pos, pos + length)
            pos += length
        elif wire in _FIXED_SIZE:
            size = _FIXED_SIZE[wire]
            if size > end - pos:
                raise ConversionError(
                    f"truncated {context}: fixed-width field {number} at byte {pos}"
                )
            count = _run_length(buf, pos - 1, end, size + 1) if key < 0x80 else 1
            yield Field(number, wire, 0, pos, pos + size, count)
            pos += count * (size + 1) - 1
        else:
            raise ConversionError(
                f"corrupted {context}: wire type {wire} of field {number} before byte {pos}"
            )


def _run_length(buf, key_pos, end, record):
    """How many ``record``-byte (key + value) items repeat the key at ``key_pos``."""
    key, count = buf[key_pos], 0
    view = np.frombuffer(buf, np.uint8, count=end - key_pos, offset=key_pos)
    total = (end - key_pos) // record
    while count < total:
        stop = min(total, count + _RUN_CHUNK)
        keys = view[count * record : stop * record : record]
        mismatch = np.flatnonzero(keys != key)
        if mismatch.size:
            return count + int(mismatch[0])
        count = stop
    return count


def fixed_array(buf, field, dtype):
    """The values of a fixed-width field or run as an array (a view into ``buf``)."""
    dtype = np.dtype(dtype)
    if field.count == 1:
        return np.frombuffer(buf, dtype, count=1, offset=field.start)
    return np.ndarray(
        (field.count,), dtype, buffer=buf, offset=field.start, strides=(dtype.itemsize + 1,)
    )


def packed_array(buf, field, dtype):
    """The values of a packed repeated fixed-width field as an array (a view into ``buf``)."""
    dtype = np.dtype(dtype)
    nbytes = field.end - field.start
    if nbytes % dtype.itemsize:
        raise ConversionError(
            f"corrupted packed field {field.number}: {nbytes} bytes is not a multiple of "
            f"{dtype.itemsize}"
        )
    return np.frombuffer(buf, dtype, count=nbytes // dtype.itemsize, offset=field.start)


def packed_varints(buf, field):
    """The values of a packed repeated varint field."""
    values, pos = [], field.start
    while pos < field.end:
        value, pos = read_varint(buf, pos, field.end)
        values.append(value)
    return values


def string(buf, field):
    """A length-delimited field decoded as UTF-8."""
    return bytes(buf[field.start : field.end]).decode("utf-8", errors="replace")
