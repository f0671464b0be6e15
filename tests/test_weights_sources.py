"""Weights that last: nothing trusted before it converts, mirrors, Drive's confirmation page.

A local HTTP server on the loopback address plays the web of 2015-2017 links: a dead URL, an
HTML error page, a truncated file, a Drive-style "download anyway" page and the file itself.
"""

import dataclasses
import hashlib
import http.server
import threading
from urllib.parse import parse_qs, urlsplit

import pytest

import keras_seg
from keras_seg import ConversionError, InputError, cli, pretrained, registry
from keras_seg.convert.sniff import check_weights_file, describe

from caffe_files import caffemodel_from_model

NARROW = {"widths": (4, 8, 8, 8, 8, 16)}
NAME = "dilation8_camvid"
DRIVE_PAGE = """<!DOCTYPE html><html><head><title>Google Drive - Virus scan warning</title>
</head><body><p>Google Drive can't scan this file for viruses.</p>
<form id="download-form" action="/download" method="get">
<input type="submit" value="Download anyway"/>
<input type="hidden" name="id" value="0B9P1L"><input type="hidden" name="export" value="download">
<input type="hidden" name="confirm" value="t"><input type="hidden" name="uuid" value="u-1">
</form></body></html>"""


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_SEG_WEIGHTS", str(tmp_path / "cache"))
    monkeypatch.delenv("KERAS_SEG_MIRROR", raising=False)
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def releases(tmp_path_factory):
    """Two different narrow files in the release's layout: the published one and another."""
    folder = tmp_path_factory.mktemp("releases")
    model = keras_seg.build(NAME, **NARROW)
    paths = []
    for seed in (0, 1):
        path = folder / f"seed{seed}" / registry.get_weights_record(NAME).file
        path.parent.mkdir()
        caffemodel_from_model(model, path, seed=seed)
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def server(releases):
    """``/dead/``, ``/html/``, ``/truncated/``, ``/good/`` and Drive's ``/uc`` + ``/download``."""
    body = releases[0].read_bytes()
    pages = {"html": (200, "text/html", b"<html><body><h1>Site maintenance</h1></body></html>"),
             "truncated": (200, "application/octet-stream", body[: len(body) // 2]),
             "good": (200, "application/octet-stream", body),
             "uc": (200, "text/html; charset=utf-8", DRIVE_PAGE.encode())}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            url = urlsplit(self.path)
            first = url.path.strip("/").split("/")[0]
            if first == "download" and parse_qs(url.query).get("confirm") == ["t"]:
                first = "good"
            if first not in pages:
                self.send_error(404, "Not Found")
                return
            status, kind, data = pages[first]
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def _record(monkeypatch, url, mirrors=(), checksum=None):
    record = dataclasses.replace(registry.get_weights_record(NAME), url=url, mirrors=mirrors,
                                 checksum=checksum, builder_args=NARROW)
    monkeypatch.setitem(registry._WEIGHTS, NAME, record)
    return record


def _sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_fetch_falls_through_dead_links_and_pages_to_a_working_mirror(
        server, releases, monkeypatch, capsys, cache):
    file = registry.get_weights_record(NAME).file
    record = _record(monkeypatch, f"{server}/dead/{file}",
                     mirrors=(f"{server}/html/{file}", f"{server}/truncated/{file}",
                              f"{server}/good/{file}"))
    assert cli.main(["weights", "fetch", NAME]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 3, err  # one line per failure, in order
    assert err[0].startswith(f"could not use {record.url} (") and "404" in err[0]
    assert f"{server}/html/{file} (an HTML page, not a caffemodel" in err[1]
    assert "link may be dead" in err[1]
    assert f"{server}/truncated/{file} (a caffemodel cut short" in err[2]
    assert sorted(p.name for p in (cache / "downloads").iterdir()) == [file]
    assert (cache / "downloads" / file).read_bytes() == releases[0].read_bytes()
    assert _sha256(releases[0]) in (cache / "checksums.json").read_text()
    # every mirror is checked against the same lock: a different file is not taken
    (cache / "downloads" / file).unlink()
    with pytest.raises(InputError, match="cannot download .*differs from the locked"):
        pretrained.fetch(NAME, url=releases[1].as_uri())


def test_a_drive_confirmation_page_leads_to_the_file(server, releases, monkeypatch, cache):
    _record(monkeypatch, f"{server}/uc?id=0B9P1L&export=download",
            checksum=_sha256(releases[0]))
    assert pretrained.fetch(NAME) == cache / f"{NAME}.weights.h5"
    assert not (cache / "checksums.json").exists()  # a published checksum needs no lock


def test_the_organisations_mirror_comes_first(server, releases, monkeypatch, cache):
    file = registry.get_weights_record(NAME).file
    _record(monkeypatch, f"{server}/dead/{file}")
    monkeypatch.setenv("KERAS_SEG_MIRROR", str(releases[0].parent))  # a folder
    from keras_seg.mirrors import candidate_urls

    urls = candidate_urls(registry.get_weights_record(NAME))
    assert urls == [releases[0].as_uri(), f"{server}/dead/{file}"]
    monkeypatch.setenv("KERAS_SEG_MIRROR", f"{server}/good/")  # a URL prefix
    assert candidate_urls(registry.get_weights_record(NAME))[0] == f"{server}/good/{file}"
    pretrained.fetch(NAME)
    assert pretrained.is_converted(NAME)


@pytest.mark.parametrize("kind", ["html", "truncated", "empty", "jpeg"])
def test_a_bad_first_file_is_refused_and_never_trusted(kind, releases, monkeypatch, tmp_path,
                                                        cache):
    _record(monkeypatch, (tmp_path / "dead").as_uri())
    body = releases[0].read_bytes()
    bad = tmp_path / registry.get_weights_record(NAME).file
    bad.write_bytes({"html": b"\n<!DOCTYPE html>\n<html><title>404 Not Found</title></html>",
                     "truncated": body[: len(body) - 100], "empty": b"",
                     "jpeg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(500)}[kind])
    said = {"html": "an HTML page, not a caffemodel", "truncated": "a caffemodel cut short",
            "empty": "an empty file, not a caffemodel", "jpeg": "a JPEG image, not a caffemodel"}
    with pytest.raises(ConversionError, match=said[kind]):
        pretrained.fetch(NAME, source=bad)
    assert not (cache / "checksums.json").exists() and not pretrained.is_converted(NAME)
    pretrained.fetch(NAME, source=releases[0])  # the real file, given next, converts
    assert pretrained.is_converted(NAME)
    with pytest.raises(ConversionError, match="differs from the locked"):
        pretrained.fetch(NAME, source=releases[1])  # and a different one is still refused


def test_a_file_that_does_not_fit_is_not_locked(releases, monkeypatch, tmp_path, cache):
    _record(monkeypatch, (tmp_path / "dead").as_uri())
    other = tmp_path / "frontend.caffemodel"
    caffemodel_from_model(keras_seg.build(NAME, context=False, **NARROW), other)
    with pytest.raises(ConversionError, match="left unfilled"):
        pretrained.fetch(NAME, source=other)
    assert not (cache / "checksums.json").exists()


def test_kinds_are_told_from_their_first_bytes(tmp_path):
    assert describe(b"\x80\x02}q\x00") == "a pickle"
    assert describe(b"PK\x03\x04rest") == "a zip archive"
    assert describe(b"<?xml version='1.0'?><Error>AccessDenied</Error>") == "an XML document"
    cut = tmp_path / "cut.pth"
    cut.write_bytes(b"PK\x03\x04" + bytes(100))
    with pytest.raises(ConversionError, match="zip archive cut short at 104 bytes"):
        check_weights_file(cut, "pth")
    with pytest.raises(ConversionError, match=r"a zip archive, not a release archive \(.tar.gz\)"):
        check_weights_file(cut, "archive")
