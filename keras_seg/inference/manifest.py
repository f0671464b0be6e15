"""The Parquet manifest of a distributed prediction: one row per image, kept across runs.

``OUT/manifest.parquet`` has a row per image of the source, in its order:

========== ==============================================================================
path       the image (local path or URI)
output     its label PNG
height     image height in pixels (null where the image could not be read)
width      image width in pixels
bytes      size of the image file
status     ``ok``; ``error: <reason>`` (unreadable, unpredictable or unwritable: the run
           went on); ``exists`` (its label PNG was there before, with no record of it)
seconds    time a worker spent on it: reading, predicting (a batched forward's time
           shared by its images) and writing
histogram  pixels of each class in its label map (list of int64)
finished   when the worker was done with it (Unix time, seconds)
worker     ``host:pid`` of the worker that predicted it
========== ==============================================================================

While a run goes, the driver writes each block of rows it receives as a part,
``OUT/.manifest/<run>-<n>.parquet``, so a run killed halfway leaves its rows behind; the
next run reads the manifest and the parts (a later row for an image wins), keeps the rows of
the images it skips, and writes ``manifest.parquet`` whole at its end, removing the parts.

Example:
    >>> rows = previous_rows("labels/")  # doctest: +SKIP
    >>> write_manifest("labels/", [rows[p] for p in images if p in rows])  # doctest: +SKIP
"""

import contextlib
import io
import os
import time

from keras_seg.inference.locations import existing, filesystem, join, make_folder, write_bytes

#: The manifest's file name in the output folder.
MANIFEST = "manifest.parquet"
#: The folder of the parts written while a run goes (hidden: no image listing sees it).
PARTS = ".manifest"
#: The manifest's columns, in order.
COLUMNS = ("path", "output", "height", "width", "bytes", "status", "seconds", "histogram",
           "finished", "worker")


def schema():
    """The manifest's ``pyarrow`` schema.

    Example:
        >>> schema().names == list(COLUMNS)
        True
    """
    import pyarrow as pa

    return pa.schema([("path", pa.string()), ("output", pa.string()), ("height", pa.int32()),
                      ("width", pa.int32()), ("bytes", pa.int64()), ("status", pa.string()),
                      ("seconds", pa.float64()), ("histogram", pa.list_(pa.int64())),
                      ("finished", pa.float64()), ("worker", pa.string())])


def as_table(rows):
    """Rows (dicts; missing columns null) as a table of the manifest's schema.

    Example:
        >>> as_table([{"path": "a.jpg", "status": "ok"}]).num_rows
        1
    """
    import pyarrow as pa

    return pa.Table.from_pylist([{column: row.get(column) for column in COLUMNS}
                                 for row in rows], schema=schema())


def run_name():
    """A name for this run's parts that sorts after earlier runs' (time, then process).

    Example:
        >>> len(run_name().split("-"))
        2
    """
    return f"{time.time_ns():020d}-{os.getpid()}"


def write_part(out, table, run, number):
    """Write one block of rows as ``OUT/.manifest/<run>-<number>.parquet`` (whole or not).

    Example:
        >>> write_part("labels", as_table(rows), run_name(), 0)  # doctest: +SKIP
    """
    parts = join(out, PARTS)
    make_folder(parts)
    write_bytes(join(parts, f"{run}-{number:06d}.parquet"), _parquet(table))


def previous_rows(out):
    """``{path: row}`` from the manifest and the parts of earlier runs (later parts win).

    Example:
        >>> rows = previous_rows("labels")  # doctest: +SKIP
    """
    tables = []
    if MANIFEST in existing(out):
        tables.append(_read(join(out, MANIFEST)))
    parts = join(out, PARTS)
    tables += [_read(join(parts, name)) for name in sorted(existing(parts))
               if name.endswith(".parquet") and not name.startswith(".")]
    rows = {}
    for table in tables:
        for row in table.to_pylist():
            rows[row["path"]] = row
    return rows


def write_manifest(out, rows):
    """Write ``OUT/manifest.parquet`` (whole or not), then remove the parts.

    Returns:
        The manifest's location.

    Example:
        >>> write_manifest("labels", rows)  # doctest: +SKIP
        'labels/manifest.parquet'
    """
    location = join(out, MANIFEST)
    write_bytes(location, _parquet(as_table(rows)))
    filesystem_, parts = filesystem(join(out, PARTS))
    with contextlib.suppress(FileNotFoundError):
        filesystem_.delete_dir(parts)
    return location


def _parquet(table):
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def _read(location):
    import pyarrow.parquet as pq

    filesystem_, path = filesystem(location)
    return pq.read_table(path, filesystem=filesystem_, schema=schema())
