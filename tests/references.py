"""The original releases' definition files that the parity tests read, and how to get them.

The reference files (prototxts, dataset JSONs, split lists of the FCN, DilatedNet and SegNet
releases) are not part of keras-seg: ``tests/references.json`` lists each one by source
repository, pinned commit, path and SHA-256, and ``fetch`` downloads them from
raw.githubusercontent.com into a folder laid out as ``owner+repo/path`` (with a
``SOURCE_COMMIT`` file per repository), checking every digest::

    python tests/references.py fetch                  # into $KERAS_SEG_REFERENCE or .references/
    python tests/references.py fetch --into /data/ref  # then: export KERAS_SEG_REFERENCE=/data/ref
    python tests/references.py where                  # the folder the tests read

The tests read the first of: ``$KERAS_SEG_REFERENCE`` (when set, whether or not it exists),
``../shared/reference`` beside the clone (where CI keeps a copy), ``.references/`` in the
clone (``fetch``'s default target, ignored by git). Tests that need a file that is absent
skip, saying so; ``make test`` ends with one line counting them.

Each download goes to a temporary file beside its target and is renamed into place only once
its digest matches, so a failed or interrupted fetch leaves no partial file; a file already
present with the right digest is not downloaded again. ``--base-url`` (or
``$KERAS_SEG_REFERENCE_URL``) replaces ``https://raw.githubusercontent.com``, e.g. with a
mirror or a local server laid out as ``<owner>/<repo>/<commit>/<path>``.

U-Net is not here: its release prototxt (``phseg_v5-train.prototxt``) is published only in
the authors' archive ``u-net-release-2015-10-02.tar.gz`` on lmb.informatik.uni-freiburg.de,
not in a GitHub repository of theirs, so there is no pinned commit to fetch it from; the
U-Net tests build their reference from the paper instead.

Only the standard library is used, so this runs before ``make install``.
"""

import argparse
import hashlib
import json
import os
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = Path(__file__).resolve().with_name("references.json")
SHARED = ROOT.parent / "shared" / "reference"
LOCAL = ROOT / ".references"
BASE_URL = "https://raw.githubusercontent.com"
ENV_FOLDER = "KERAS_SEG_REFERENCE"
ENV_URL = "KERAS_SEG_REFERENCE_URL"
SKIP_PREFIX = "reference files absent"
_CHUNK = 1 << 16

#: Paths requested through :func:`reference_or_skip` since the last :func:`drain`.
_requested = []


class FetchError(RuntimeError):
    """A reference file could not be downloaded, or its digest is not the manifest's."""


def reference_root(environ=None):
    """The folder the tests read reference files from.

    Args:
        environ: a mapping standing for ``os.environ`` (the default).

    Returns:
        ``$KERAS_SEG_REFERENCE`` when set; else ``../shared/reference`` beside the clone if
        it exists; else ``.references`` in the clone, where ``fetch`` puts them by default.

    Example:
        >>> reference_root({"KERAS_SEG_REFERENCE": "/data/ref"})
        PosixPath('/data/ref')
    """
    environ = os.environ if environ is None else environ
    if environ.get(ENV_FOLDER):
        return Path(environ[ENV_FOLDER])
    return SHARED if SHARED.is_dir() else LOCAL


def reference_or_skip(path):
    """Return ``path`` if it exists, else skip the calling test, saying how to get it.

    Every test that reads a reference file goes through here: the request is recorded, so
    the run's summary can count the reference-parity tests that ran and those that skipped.

    Args:
        path: a file or folder under :func:`reference_root`.

    Returns:
        ``Path(path)``.

    Example:
        >>> source = reference_or_skip(reference_root() / "fyu+dilation")  # doctest: +SKIP
    """
    import pytest

    path = Path(path)
    _requested.append(str(path))
    if not path.exists():
        pytest.skip(f"{SKIP_PREFIX}: {path} (get them with `python tests/references.py "
                    f"fetch`, or point {ENV_FOLDER} at a folder holding them)")
    return path


def drain():
    """Return and forget the paths requested since the last call (for the test hooks)."""
    paths = list(_requested)
    _requested.clear()
    return paths


def load_manifest(path=MANIFEST):
    """Read a manifest: ``{"sources": [{"repo", "commit", "files": [{"path", "sha256"}]}]}``."""
    return json.loads(Path(path).read_text())["sources"]


def sha256(path):
    """The hex SHA-256 digest of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch(into, *, manifest=MANIFEST, base_url=None, log=print):
    """Download every file of ``manifest`` that ``into`` lacks, checking its digest.

    Args:
        into: the target folder; files go to ``into/<owner>+<repo>/<path>``.
        manifest: the manifest file (see :func:`load_manifest`).
        base_url: replaces ``https://raw.githubusercontent.com`` (default
            ``$KERAS_SEG_REFERENCE_URL`` or that).
        log: called with one line per downloaded file.

    Returns:
        The paths downloaded (an empty list when everything was already there).

    Raises:
        FetchError: a download failed or a digest differs (naming the file, the expected and
            the found digest); the failed file is not kept, earlier verified ones are.

    Example:
        >>> fetch("/tmp/reference")  # doctest: +SKIP
        []
    """
    base_url = (base_url or os.environ.get(ENV_URL) or BASE_URL).rstrip("/")
    into, downloaded = Path(into), []
    for source in load_manifest(manifest):
        folder = into / source["repo"].replace("/", "+")
        for entry in source["files"]:
            target = folder / entry["path"]
            if target.is_file() and sha256(target) == entry["sha256"]:
                continue
            url = "/".join([base_url, source["repo"], source["commit"],
                            urllib.parse.quote(entry["path"])])
            _download(url, target, entry["sha256"])
            downloaded.append(target)
            log(f"fetched {target}")
        stamp = folder / "SOURCE_COMMIT"
        if folder.is_dir() and _read(stamp) != f"commit {source['commit']}\n":
            _write_atomic(stamp, f"commit {source['commit']}\n".encode())
    return downloaded


def _download(url, target, expected):
    target.parent.mkdir(parents=True, exist_ok=True)
    request = urllib.request.Request(url, headers={"User-Agent": "keras-seg-tests"})
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    for chunk in iter(lambda: response.read(_CHUNK), b""):
                        digest.update(chunk)
                        out.write(chunk)
            except (urllib.error.URLError, OSError) as error:
                raise FetchError(f"{target}: download from {url} failed: {error}") from error
        if digest.hexdigest() != expected:
            raise FetchError(f"{target}: checksum mismatch for {url}: expected sha256 "
                             f"{expected}, found {digest.hexdigest()}; not kept")
        os.replace(temp, target)
    finally:
        if os.path.exists(temp):
            os.remove(temp)


def _write_atomic(path, data):
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(temp, path)


def _read(path):
    return path.read_text() if path.is_file() else None


def make_manifest(folder):
    """The manifest of a reference folder: each ``owner+repo`` with its ``SOURCE_COMMIT``.

    Args:
        folder: a folder laid out as ``fetch`` writes it.

    Returns:
        The manifest as a dict, files sorted by path.

    Example:
        >>> make_manifest("../shared/reference")["sources"][0]["repo"]  # doctest: +SKIP
        'alexgkendall/SegNet-Tutorial'
    """
    sources = []
    for stamp in sorted(Path(folder).glob("*/SOURCE_COMMIT")):
        files = sorted(p for p in stamp.parent.rglob("*") if p.is_file() and p != stamp)
        sources.append({
            "repo": stamp.parent.name.replace("+", "/", 1),
            "commit": stamp.read_text().split()[1],
            "files": [{"path": p.relative_to(stamp.parent).as_posix(), "sha256": sha256(p)}
                      for p in files]})
    return {"sources": sources}


def manifest_text(manifest):
    """``manifest`` as JSON text with one line per file (as ``references.json`` is kept)."""
    blocks = []
    for source in manifest["sources"]:
        files = ",\n".join(f"    {json.dumps(entry)}" for entry in source["files"])
        blocks.append(f'  {{"repo": {json.dumps(source["repo"])}, '
                      f'"commit": {json.dumps(source["commit"])},\n   "files": [\n{files}]}}')
    return '{"sources": [\n' + ",\n".join(blocks) + "]}\n"


def main(argv=None):
    """Command line: ``fetch [--into DIR] [--base-url URL]``, ``where``, ``manifest DIR``."""
    parser = argparse.ArgumentParser(prog="python tests/references.py",
                                     description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    get = commands.add_parser("fetch", help="download the reference files, checking digests")
    get.add_argument("--into", type=Path, default=None,
                     help=f"target folder (default: ${ENV_FOLDER} if set, else {LOCAL})")
    get.add_argument("--base-url", default=None,
                     help=f"instead of {BASE_URL} (default: ${ENV_URL} if set)")
    get.add_argument("--manifest", type=Path, default=MANIFEST, help=argparse.SUPPRESS)
    commands.add_parser("where", help="print the folder the tests read")
    make = commands.add_parser("manifest", help="print the manifest of a reference folder")
    make.add_argument("folder", type=Path)
    args = parser.parse_args(argv)

    if args.command == "where":
        print(reference_root())
    elif args.command == "manifest":
        print(manifest_text(make_manifest(args.folder)), end="")
    else:
        into = args.into or Path(os.environ.get(ENV_FOLDER) or LOCAL)
        try:
            done = fetch(into, manifest=args.manifest, base_url=args.base_url)
        except FetchError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        total = sum(len(s["files"]) for s in load_manifest(args.manifest))
        print(f"{len(done)} downloaded, {total - len(done)} already present, in {into}"
              + ("" if into.resolve() == reference_root().resolve() else
                 f" (for the tests: export {ENV_FOLDER}={into.resolve()})"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
