"""Where a published weights file can be downloaded: its URLs in turn, and Drive's extra step.

A record lists the original URL first and then any mirrors (:attr:`WeightsRecord.mirrors`);
``$KERAS_SEG_MIRROR``, a URL prefix or a folder, puts an organisation's own copy before them
all (``<prefix>/<file name>``). Google Drive answers a large file with a "cannot scan this
file for viruses" page whose form (or, on older pages, ``confirm=`` link) leads to the file;
:func:`download` follows it.

Example:
    >>> from keras_seg.registry import get_weights_record
    >>> candidate_urls(get_weights_record("fcn8s"))[0]
    'http://dl.caffe.berkeleyvision.org/fcn8s-heavy-pascal.caffemodel'
"""

import os
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlencode, urljoin

from keras_seg.errors import InputError

MIRROR_VARIABLE = "KERAS_SEG_MIRROR"
_SCHEMES = ("http://", "https://", "file://", "ftp://")


def candidate_urls(record, url=None):
    """The URLs to try for ``record``, in order.

    Args:
        record: a :class:`~keras_seg.registry.WeightsRecord`.
        url: one explicit origin (``--url``): then only it is tried.

    Returns:
        A list of URLs: ``$KERAS_SEG_MIRROR``'s copy, the record's URL, its mirrors.

    Example:
        >>> from keras_seg.registry import get_weights_record
        >>> os.environ[MIRROR_VARIABLE] = "https://mirror.example.org/weights"
        >>> candidate_urls(get_weights_record("fcn8s"))[0]
        'https://mirror.example.org/weights/fcn8s-heavy-pascal.caffemodel'
        >>> del os.environ[MIRROR_VARIABLE]
    """
    if url is not None:
        return [url]
    urls = [record.url, *record.mirrors]
    mirror = os.environ.get(MIRROR_VARIABLE, "").strip()
    if mirror:
        if mirror.startswith(_SCHEMES):
            urls.insert(0, f"{mirror.rstrip('/')}/{record.file}")
        else:
            urls.insert(0, (Path(mirror).expanduser().resolve() / record.file).as_uri())
    return list(dict.fromkeys(urls))


def download(url, target):
    """Download ``url`` to ``target`` (Keras's downloader), through Drive's confirmation.

    Args:
        url: an ``http(s)://``, ``ftp://`` or ``file://`` URL.
        target: the file to write (replaced; removed again when the download fails).

    Returns:
        ``target``.

    Raises:
        InputError: the download failed; the message is the reason alone (no URL).
    """
    _get(url, target)
    confirmed = drive_confirmation(target, url)
    if confirmed is not None:
        _get(confirmed, target)
    return target


def drive_confirmation(path, url):
    """The URL behind a Google-Drive-style "download anyway" page, or None for other files.

    Recognises the page's ``download-form`` (its action and hidden fields) and the older
    pages' ``href`` carrying ``confirm=``.

    Example:
        >>> import tempfile
        >>> page = Path(tempfile.mkdtemp()) / "uc"
        >>> _ = page.write_text('<html><form id="download-form" action="/download">'
        ...     '<input type="hidden" name="id" value="X"><input type="hidden" name="confirm"'
        ...     ' value="t"></form></html>')
        >>> drive_confirmation(page, "https://drive.google.com/uc?id=X")
        'https://drive.google.com/download?id=X&confirm=t'
    """
    with open(path, "rb") as f:
        head = f.read(1 << 20)
    if b"<html" not in head[:4096].lower() or (b"download-form" not in head
                                                 and b"confirm=" not in head):
        return None
    parser = _ConfirmationParser()
    parser.feed(head.decode("utf-8", "replace"))
    if parser.action is not None:
        query = urlencode(parser.fields)
        return urljoin(url, parser.action) + ("?" + query if query else "")
    if parser.link is not None:
        return urljoin(url, parser.link)
    return None


class _ConfirmationParser(HTMLParser):
    """Reads Drive's ``<form id="download-form">`` and any ``href`` with ``confirm=``."""

    def __init__(self):
        super().__init__()
        self.action = self.link = None
        self.fields = {}
        self._in_form = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and attrs.get("id") == "download-form":
            self.action, self._in_form = attrs.get("action") or "", True
        elif tag == "input" and self._in_form and attrs.get("type") == "hidden":
            self.fields[attrs.get("name")] = attrs.get("value") or ""
        elif tag == "a" and "confirm=" in (attrs.get("href") or "") and self.link is None:
            self.link = attrs["href"]

    def handle_endtag(self, tag):
        if tag == "form":
            self._in_form = False


def _get(url, target):
    import keras

    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        keras.utils.get_file(target.name, url, cache_dir=str(target.parent), cache_subdir="",
                             force_download=True)
    except Exception as error:  # get_file wraps every network failure in a bare Exception
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        reason = reason.replace(f"URL fetch failure on {url}: ", "")
        reason = reason.removeprefix("None -- ")  # get_file's "{errno} -- {reason}", no errno
        target.unlink(missing_ok=True)
        raise InputError(reason) from None
