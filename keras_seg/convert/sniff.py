r"""What a downloaded weights file really is, told from its first and last bytes.

A dead link rarely fails loudly: servers answer with an HTML error page, Google Drive with
its "cannot scan this file for viruses" page, a dropped connection leaves a truncated file.
:func:`check_weights_file` recognises these before the file is hashed or trusted, in one line
that says what the file is, so that nothing but a file of the expected format ever reaches a
checksum lock or the converter.

Example:
    >>> describe(b"<!DOCTYPE html><html><head><title>404</title>")
    'an HTML page'
    >>> describe(b"\xff\xd8\xff\xe0\x00\x10JFIF")
    'a JPEG image'
"""

import os
import zipfile
from pathlib import Path

from keras_seg.convert.protobuf import iter_fields
from keras_seg.errors import ConversionError

#: Leading bytes of the files a broken link or a wrong click most often gives instead.
SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a zip archive"),
    (b"PK\x05\x06", "an empty zip archive"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"BZh", "a bzip2 archive"),
    (b"\xfd7zXZ\x00", "an xz archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-zip archive"),
    (b"\x93NUMPY", "a NumPy .npy array"),
    (b"\x89HDF\r\n\x1a\n", "an HDF5 file"),
)
#: What each source format looks like on disk (``archive``: a release's ``.tar.gz``).
EXPECTED = {
    "pth": ("a zip archive", "a pickle"),  # torch.save's zip, or the legacy pickle stream
    "npz": ("a zip archive",),
    "archive": ("a gzip archive", "a tar archive"),
    "caffemodel": ("a protobuf message",),
}
#: How a refusal names each expected format.
FORMAT_NAMES = {"pth": "a PyTorch .pth file", "npz": "a Lasagne .npz file",
                "archive": "a release archive (.tar.gz)", "caffemodel": "a caffemodel"}
# First bytes of a NetParameter: the keys of fields 1-8 (name, layers, input, input_dim,
# force_backward, state, debug_info, input_shape) and of field 100 (layer), 0xA2 0x06.
_NET_PARAMETER_KEYS = {0x0A, 0x12, 0x1A, 0x20, 0x22, 0x28, 0x32, 0x38, 0x42, 0xA2}
_HEAD = 1024


def describe(head):
    r"""Name the kind of file whose first bytes are ``head`` (best effort).

    Returns:
        A phrase such as ``"an HTML page"``, ``"a JPEG image"``, ``"a pickle"``,
        ``"a protobuf message"``, ``"a text file starting 'Not Found'"``, ``"an empty file"``.

    Example:
        >>> describe(b"")
        'an empty file'
        >>> describe(b"Not Found\n")
        "a text file starting 'Not Found'"
    """
    if not head:
        return "an empty file"
    for signature, kind in SIGNATURES:
        if head.startswith(signature):
            return kind
    if len(head) > 262 and head[257:262] == b"ustar":
        return "a tar archive"
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "a pickle"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<!doctype html", b"<html")) or b"<html" in text or b"<head" in text:
        return "an HTML page"
    if text.startswith(b"<?xml") or text.startswith(b"<"):
        return "an XML document"
    if text[:1] in (b"{", b"["):
        return "a JSON document"
    if head[0] in _NET_PARAMETER_KEYS:
        return "a protobuf message"
    try:
        line = head.decode("utf-8").strip().splitlines()[0][:40]
    except (UnicodeDecodeError, IndexError):
        return "a file of unknown format"
    return f"a text file starting {line!r}" if line.isprintable() else "a file of unknown format"


def check_weights_file(path, expected):
    """Refuse a file that is not what a download of format ``expected`` should be.

    Recognised before hashing: an empty file, an HTML page (a dead link or a confirmation
    page), any other kind (an image, a text) that is not ``expected``, and a file cut short
    (a zip without its central directory, a caffemodel whose last field runs past the end).

    Args:
        path: the file.
        expected: ``"caffemodel"``, ``"pth"``, ``"npz"`` or ``"archive"`` (a ``.tar.gz``).

    Raises:
        ConversionError: one line: what the file is, what was expected, what to do.

    Example:
        >>> check_weights_file("fcn8s-heavy-pascal.caffemodel", "caffemodel")  # doctest: +SKIP
    """
    path = Path(path)
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        kind = describe(f.read(_HEAD))
    if kind not in EXPECTED[expected]:
        hint = {"an HTML page": "the link may be dead, or ask to confirm the download in a "
                                "browser; download it by other means",
                "an empty file": "the download did not complete; try again"}.get(
            kind, "the link may serve another file")
        raise ConversionError(f"{path}: {kind}, not {FORMAT_NAMES[expected]} ({size:,} bytes); "
                              f"{hint}")
    if kind == "a zip archive" and not zipfile.is_zipfile(path):
        raise ConversionError(f"{path}: a zip archive cut short at {size:,} bytes (no central "
                              "directory); the download did not complete")
    if kind == "a protobuf message":
        _check_message_ends(path, size)


def _check_message_ends(path, size):
    """Walk the top-level fields (layer headers only) and refuse one that runs past the end."""
    import mmap

    if size == 0:
        return
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        complete = 0
        try:
            for field in iter_fields(buf, 0, size):
                complete = field.end
        except ConversionError:
            raise ConversionError(
                f"{path}: a caffemodel cut short or corrupted at {size:,} bytes (the field at "
                f"byte {complete:,} runs past the end); the download did not complete"
            ) from None
