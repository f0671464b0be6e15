"""Where images come from and results go: local paths, or any URI ``pyarrow.fs`` reads.

Distributed prediction (:mod:`keras_seg.inference.ray_predict`) hands each worker the
*locations* of its images, never their pixels: a local path (the same on every machine, a
shared file system) or a URI (``s3://bucket/photos/a.jpg``, ``gs://...``, ``hdfs://...``,
``file:///...``). The worker reads the image there and writes its results beside the
others. Local folders and list files are listed by :func:`keras_seg.inference.batch.list_images`,
so both batch modes take the same sources. Needs ``pyarrow`` (installed with Ray Data) for
URIs and for writing.

Example:
    >>> join("s3://bucket/labels", "a.png")
    's3://bucket/labels/a.png'
    >>> stem("s3://bucket/photos/a.b.jpg")
    'a.b'
"""

import contextlib
import io
import os
import posixpath

from keras_seg.errors import InputError
from keras_seg.files import partial_path
from keras_seg.images import IMAGE_SUFFIXES
from keras_seg.inference.batch import LIST_SUFFIXES


def is_uri(location):
    """Whether ``location`` is a URI for ``pyarrow.fs`` (``hf://`` presets are not).

    Example:
        >>> is_uri("s3://bucket/a.png"), is_uri("photos/a.png"), is_uri("hf://me/fcn")
        (True, False, False)
    """
    from keras_seg.presets import HUB_PREFIX

    return "://" in str(location) and not str(location).startswith(HUB_PREFIX)


def filesystem(location):
    """``(pyarrow FileSystem, path in it)`` of a local path or URI.

    Example:
        >>> fs, path = filesystem("s3://bucket/a.png")  # doctest: +SKIP
    """
    from pyarrow import fs

    if is_uri(location):
        try:
            return fs.FileSystem.from_uri(str(location))
        except (ValueError, OSError) as error:
            raise InputError(f"{location}: cannot open it ({error})") from None
    return fs.LocalFileSystem(), os.path.abspath(location)


def join(folder, name):
    """``folder/name`` for a local folder or a URI.

    Example:
        >>> join("labels", "a.png")
        'labels/a.png'
    """
    return f"{str(folder).rstrip('/')}/{name}" if is_uri(folder) else os.path.join(folder, name)


def stem(location):
    """The file name without its last suffix.

    Example:
        >>> stem("photos/street.jpg")
        'street'
    """
    return posixpath.splitext(posixpath.basename(str(location).replace(os.sep, "/")))[0]


def list_image_locations(source):
    """The images of a folder or list file, local or remote, as strings.

    A local source is listed as :func:`keras_seg.inference.batch.list_images` lists it; a
    URI naming a folder gives its image files sorted by name (no subfolders, no hidden
    files), one naming a list file gives its lines (relative ones relative to the list).

    Raises:
        InputError: no such folder or list file, or no image in it.

    Example:
        >>> images = list_image_locations("s3://bucket/photos")  # doctest: +SKIP
    """
    if not is_uri(source):
        from keras_seg.inference.batch import list_images

        return [str(path) for path in list_images(source)]
    from pyarrow import fs

    filesystem_, path = filesystem(source)
    info = filesystem_.get_file_info(path)
    if info.type == fs.FileType.Directory:
        infos = filesystem_.get_file_info(fs.FileSelector(path, recursive=False))
        names = sorted(i.base_name for i in infos if i.type == fs.FileType.File
                       and not i.base_name.startswith(".")
                       and posixpath.splitext(i.base_name)[1].lower() in IMAGE_SUFFIXES)
        if not names:
            raise InputError(f"{source}: no images in the folder (looked for "
                             f"{', '.join(IMAGE_SUFFIXES)})")
        return [join(source, name) for name in names]
    if info.type == fs.FileType.NotFound:
        raise InputError(f"{source}: no such folder or list file")
    if posixpath.splitext(path)[1].lower() not in LIST_SUFFIXES:
        raise InputError(f"{source}: neither a folder nor a list file (one image location per "
                         f"line, named {', '.join(LIST_SUFFIXES)})")
    with filesystem_.open_input_stream(path) as stream:
        lines = [line.strip() for line in stream.read().decode().splitlines()]
    folder = str(source).rsplit("/", 1)[0]
    locations = [line if is_uri(line) or line.startswith("/") else join(folder, line)
                 for line in lines if line and not line.startswith("#")]
    if not locations:
        raise InputError(f"{source}: the list names no image")
    return locations


def label_locations(images, out):
    """The label PNG of each image, ``out/<stem>.png``.

    Raises:
        InputError: two images with one stem, or a label that would replace an image.

    Example:
        >>> label_locations(["s3://b/photos/a.jpg"], "s3://b/labels")
        ['s3://b/labels/a.png']
    """
    if not is_uri(out) and not any(is_uri(image) for image in images):
        from keras_seg.inference.batch import output_paths

        return [str(path) for path in output_paths(images, out)]
    outputs, owner, inputs = [], {}, set(images)
    for image in images:
        label = join(out, f"{stem(image)}.png")
        if label in owner:
            raise InputError(f"{owner[label]} and {image} would both be written to {label}; "
                             "rename one of them")
        if label in inputs:
            raise InputError(f"{label}: the label image would replace the input image; choose "
                             "another output folder")
        owner[label] = image
        outputs.append(label)
    return outputs


def existing(folder):
    """The names of the files in ``folder`` (empty if it does not exist): one listing.

    Example:
        >>> "a.png" in existing("labels")  # doctest: +SKIP
        True
    """
    from pyarrow import fs

    filesystem_, path = filesystem(folder)
    selector = fs.FileSelector(path, recursive=False, allow_not_found=True)
    return {info.base_name for info in filesystem_.get_file_info(selector)
            if info.type == fs.FileType.File}


def make_folder(folder):
    """Create ``folder`` and its parents where needed (object stores need nothing).

    Example:
        >>> make_folder("labels/overlays")  # doctest: +SKIP
    """
    filesystem_, path = filesystem(folder)
    filesystem_.create_dir(path, recursive=True)


def read_bytes(location):
    """The content of a file.

    Example:
        >>> data = read_bytes("s3://bucket/photos/a.jpg")  # doctest: +SKIP
    """
    filesystem_, path = filesystem(location)
    with filesystem_.open_input_stream(path) as stream:
        return stream.read()


def read_image_at(location):
    """(H, W, 3) uint8 RGB of the image at a local path or URI, and its size in bytes.

    Raises:
        InputError: the file cannot be read or decoded (the message names ``location``).

    Example:
        >>> image, size = read_image_at("s3://bucket/photos/a.jpg")  # doctest: +SKIP
    """
    from keras_seg.images import read_image

    if not is_uri(location):
        size = os.path.getsize(location) if os.path.isfile(location) else 0
        return read_image(location), size
    try:
        data = read_bytes(location)
    except OSError as error:
        raise InputError(f"{location}: cannot read the image ({error})") from None
    return read_image(_Named(data, location)), len(data)


def write_bytes(location, data):
    """Write a file whole or not at all: a partial file beside it, moved into place.

    On a local file system the move is a rename (atomic); an object store's object
    appears only once complete anyway.

    Example:
        >>> write_bytes("labels/a.png", png_bytes)  # doctest: +SKIP
    """
    filesystem_, path = filesystem(location)
    partial = partial_path(path).as_posix()
    try:
        with filesystem_.open_output_stream(partial) as stream:
            stream.write(data)
        filesystem_.move(partial, path)
    except BaseException:
        with contextlib.suppress(OSError):
            filesystem_.delete_file(partial)
        raise


class _Named(io.BytesIO):
    """Bytes read from a location, named by it in Pillow's and keras-seg's messages."""

    def __init__(self, data, name):
        super().__init__(data)
        self.name = name

    def __str__(self):
        return self.name
