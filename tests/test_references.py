"""tests/references.py: fetching the reference files from a local server, and finding them."""

import functools
import hashlib
import http.server
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import references

GOOD, BAD = b'name: "good"\n', b'name: "tampered"\n'
COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def server(tmp_path):
    """A local stand-in for raw.githubusercontent.com: ``<owner>/<repo>/<commit>/<path>``."""
    root = tmp_path / "served" / "owner" / "repo" / COMMIT
    (root / "models").mkdir(parents=True)
    (root / "models" / "good deploy.prototxt").write_bytes(GOOD)
    (root / "bad.prototxt").write_bytes(BAD)
    requests = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            requests.append(self.path)

    handler = functools.partial(Handler, directory=str(tmp_path / "served"))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as httpd:
        thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{httpd.server_address[1]}", requests
        httpd.shutdown()


def _manifest(path, files):
    path.write_text(json.dumps({"sources": [{"repo": "owner/repo", "commit": COMMIT, "files": [
        {"path": name, "sha256": hashlib.sha256(data).hexdigest()} for name, data in files]}]}))
    return path


def test_fetch_lays_out_verified_files_once_and_refuses_a_wrong_digest(tmp_path, server,
                                                                        capsys):
    url, requests = server
    into = tmp_path / "ref"
    good = _manifest(tmp_path / "good.json", [("models/good deploy.prototxt", GOOD)])
    mixed = _manifest(tmp_path / "mixed.json", [("models/good deploy.prototxt", GOOD),
                                                ("bad.prototxt", GOOD)])  # served: BAD

    assert references.main(["fetch", "--into", str(into), "--base-url", url,
                            "--manifest", str(mixed)]) == 1
    error = capsys.readouterr().err
    assert str(into / "owner+repo" / "bad.prototxt") in error
    assert hashlib.sha256(GOOD).hexdigest() in error and hashlib.sha256(BAD).hexdigest() in error
    assert sorted(p.relative_to(into).as_posix() for p in into.rglob("*")) == [
        "owner+repo", "owner+repo/models", "owner+repo/models/good deploy.prototxt"]

    assert references.main(["fetch", "--into", str(into), "--base-url", url,
                            "--manifest", str(good)]) == 0
    assert (into / "owner+repo" / "models" / "good deploy.prototxt").read_bytes() == GOOD
    assert (into / "owner+repo" / "SOURCE_COMMIT").read_text() == f"commit {COMMIT}\n"
    assert "0 downloaded, 1 already present" in capsys.readouterr().out
    assert requests == [f"/owner/repo/{COMMIT}/models/good%20deploy.prototxt",
                        f"/owner/repo/{COMMIT}/bad.prototxt"]  # the rerun asked for nothing


def test_a_missing_file_on_the_server_is_named(tmp_path, server):
    url, _ = server
    manifest = _manifest(tmp_path / "m.json", [("models/absent.prototxt", GOOD)])
    with pytest.raises(references.FetchError, match=r"absent\.prototxt: download from .* 404"):
        references.fetch(tmp_path / "ref", manifest=manifest, base_url=url)
    assert not [p for p in (tmp_path / "ref").rglob("*") if p.is_file()]


def test_the_manifest_is_the_shared_reference_folder():
    if not references.SHARED.is_dir():
        pytest.skip(f"no {references.SHARED} to compare the manifest with")
    assert references.make_manifest(references.SHARED) == json.loads(
        references.MANIFEST.read_text())


def test_the_reference_folder_is_the_environment_variable_then_shared_then_local(tmp_path):
    assert references.reference_root({"KERAS_SEG_REFERENCE": str(tmp_path)}) == tmp_path
    assert references.reference_root({}) == (
        references.SHARED if references.SHARED.is_dir() else references.LOCAL)
    # a fresh interpreter, as a test session starts: the variable is read at import
    where = subprocess.run([sys.executable, str(Path(references.__file__)), "where"],
                           env={"KERAS_SEG_REFERENCE": str(tmp_path)}, capture_output=True,
                           text=True, check=True).stdout.strip()
    assert where == str(tmp_path)


def test_reference_or_skip_says_how_to_get_the_files(tmp_path):
    references.drain()
    with pytest.raises(pytest.skip.Exception, match="python tests/references.py fetch"):
        references.reference_or_skip(tmp_path / "absent.prototxt")
    assert references.drain() == [str(tmp_path / "absent.prototxt")]
