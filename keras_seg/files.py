"""Writing files whole or not at all: a partial file beside the target, renamed when done.

Example:
    >>> from pathlib import Path
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "model.weights.h5"
    >>> with atomic_path(target) as partial:
    ...     _ = partial.write_bytes(b"weights")
    ...     partial.name
    '.model.partial.weights.h5'
    >>> target.read_bytes()
    b'weights'
"""

import contextlib
import os
from pathlib import Path


def partial_path(path):
    """Where :func:`atomic_path` writes ``path`` first: ``.<name>.partial<suffixes>``, same folder.

    The suffixes stay last, so writers that choose the format by suffix (``.keras``,
    ``.weights.h5``, ``.png``) write the right one; the leading dot hides the file.

    Example:
        >>> partial_path("run/best.keras").as_posix()
        'run/.best.partial.keras'
    """
    path = Path(path)
    suffixes = "".join(path.suffixes)
    stem = path.name[:len(path.name) - len(suffixes)]
    return path.with_name(f".{stem}.partial{suffixes}")


@contextlib.contextmanager
def atomic_path(path):
    """Yield a partial path to write ``path`` through: renamed to ``path`` if the block ends.

    If the block raises (or is interrupted), the partial file is removed and ``path`` is
    left as it was: absent, or its previous content. The rename (``os.replace``) is atomic
    on one file system, so readers see the old file or the new one, never half of one.

    Args:
        path: the file to write (``str`` or ``Path``).

    Yields:
        The partial ``Path`` (see :func:`partial_path`); the block writes it.

    Example:
        >>> with atomic_path("run/best.keras") as partial:  # doctest: +SKIP
        ...     model.save(partial)
    """
    partial = partial_path(path)
    try:
        yield partial
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
