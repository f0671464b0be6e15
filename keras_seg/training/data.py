"""Datasets for fine-tuning: image/mask folders as ``tf.data`` pipelines, with augmentation.

Masks are read with Pillow as class indices: a palette PNG gives its indices (not its
colours, the classic cause of wrong scores), a grayscale PNG its values.
"""

from pathlib import Path

import numpy as np

from keras_seg.errors import BadDataError, InputError
from keras_seg.images import IMAGE_SUFFIXES, read_image
from keras_seg.training.config import Augment  # noqa: F401  (its home before)
from keras_seg.training.custom_augment import CustomAugment
from keras_seg.training.mask_formats import IndexMasks, read_index_mask


def read_mask(path):
    """A label mask as (H, W) int32 class indices (palette or grayscale PNG, 8 or 16 bit).

    Raises:
        ValueError: unreadable file; a JPEG mask, or a colour (RGB) mask, whose colours are
            not indices (:class:`~keras_seg.errors.MaskFormatError`).

    Example:
        >>> labels = read_mask("masks/0001.png")  # doctest: +SKIP
    """
    return read_index_mask(path)


def folder_pairs(root, images="images", masks="masks"):
    """Match ``root/images/<stem>.*`` with ``root/masks/<stem>.*``.

    Returns:
        (pairs, unmatched): sorted list of (image path, mask path) and the paths without a
        partner.

    Raises:
        ValueError: a missing folder, or no pair at all.

    Example:
        >>> pairs, unmatched = folder_pairs("data/train")  # doctest: +SKIP
    """
    root = Path(root)
    found = {}
    for kind in (images, masks):
        folder = root / kind
        if not folder.is_dir():
            raise InputError(f"{folder}: no such folder (expected {root}/{images} and "
                             f"{root}/{masks})")
        found[kind] = {p.stem: p for p in sorted(folder.iterdir())
                       if p.suffix.lower() in IMAGE_SUFFIXES}
    stems = sorted(set(found[images]) & set(found[masks]))
    unmatched = sorted(str(p) for kind in (images, masks)
                       for stem, p in found[kind].items() if stem not in stems)
    if not stems:
        raise InputError(f"{root}: no image has a mask with the same name")
    return [(found[images][s], found[masks][s]) for s in stems], unmatched


def load_pair(image_path, mask_path, num_classes, ignore_label=255, label_map=None,
              masks=None):
    """Read one image and its mask, checking sizes and label values (naming the file).

    ``label_map`` (256 entries) turns stored values into labels (e.g. Cityscapes labelIds
    into trainIds); ``masks``, a reader of :mod:`~keras_seg.training.mask_formats`, reads
    ``mask_path`` in its format instead (colour, labelme, COCO).

    Example:
        >>> image, labels = load_pair("images/a.png", "masks/a.png", 5)  # doctest: +SKIP
    """
    masks = masks if masks is not None else IndexMasks(label_map)
    image, mask = read_image(image_path), masks.read(mask_path)
    if image.shape[:2] != mask.shape:
        raise ValueError(f"{mask_path}: mask is {mask.shape[1]}x{mask.shape[0]} but the image "
                         f"is {image.shape[1]}x{image.shape[0]}")
    check_mask_values(mask, mask_path, num_classes, ignore_label)
    return image, mask


def check_mask_values(mask, mask_path, num_classes, ignore_label=255):
    """Refuse label values that are neither classes nor the ignore label, naming the file.

    Example:
        >>> check_mask_values(np.array([[0, 1, 255]]), "a.png", 2)
        >>> check_mask_values(np.array([[0, 7]]), "a.png", 2)
        Traceback (most recent call last):
        ...
        ValueError: a.png: label values [7] are not classes (0..1) nor the ignore label 255
    """
    bad = (mask >= num_classes) & (mask != ignore_label) | (mask < 0)
    if bad.any():
        raise ValueError(f"{mask_path}: label values {sorted(np.unique(mask[bad]).tolist())[:10]}"
                         f" are not classes (0..{num_classes - 1}) nor the ignore label "
                         f"{ignore_label}")


def verify_folder(pairs, num_classes=None, ignore_label=255, label_map=None, unmatched=()):
    """Check a dataset: unreadable files, size mismatches, unknown labels, class histogram.

    Args:
        pairs: (image, mask) paths.
        num_classes: classes expected (labels outside it and not ``ignore_label`` are
            reported); None reports every value found.
        ignore_label: the ignore value.
        label_map: optional lookup applied to the stored values.
        unmatched: files without a partner, to include in the report.

    Returns:
        A dict: ``pairs``, ``unmatched``, ``problems`` (one line per bad file),
        ``histogram`` (label -> pixels) and ``ok``.

    Example:
        >>> report = verify_folder(*folder_pairs("data/train"), num_classes=5)  # doctest: +SKIP
    """
    from PIL import Image

    histogram, problems = {}, []
    for image_path, mask_path in pairs:
        try:
            with Image.open(image_path) as pil:
                size = pil.size
            mask = read_mask(mask_path)
        except (OSError, ValueError) as error:
            problems.append(f"{image_path}: {error}")
            continue
        if label_map is not None and mask.min(initial=0) >= 0 and mask.max(initial=0) <= 255:
            mask = np.asarray(label_map)[mask]
        if (mask.shape[1], mask.shape[0]) != size:
            problems.append(f"{mask_path}: mask is {mask.shape[1]}x{mask.shape[0]}, image "
                            f"{size[0]}x{size[1]}")
        values, counts = np.unique(mask, return_counts=True)
        for value, count in zip(values.tolist(), counts.tolist()):
            histogram[value] = histogram.get(value, 0) + count
        if num_classes is not None:
            bad = [v for v in values.tolist() if v != ignore_label and not 0 <= v < num_classes]
            if bad:
                problems.append(f"{mask_path}: label values {bad[:10]} are not classes "
                                f"0..{num_classes - 1} nor {ignore_label}")
    return {"pairs": len(pairs), "unmatched": list(unmatched), "problems": problems,
            "histogram": dict(sorted(histogram.items())),
            "ok": not problems and not unmatched}


class BadFiles:
    """Files that failed to load in a dataset pipeline, recorded instead of raised.

    An error raised inside a ``tf.data`` worker leaves TensorFlow's map-and-batch iterator
    unable to shut down (the process hangs at exit), so the pipeline never raises: a bad
    pair is recorded here and replaced by a stand-in (an all-ignore mask) or, with
    ``skip``, left out. :meth:`check` (called after every step by
    :class:`BadFilesCallback`) raises one clear error from the main thread instead.

    Args:
        skip: leave bad pairs out and count them rather than stop.
        total: number of pairs; when every one of them is bad, even ``skip`` stops.

    Example:
        >>> bad = BadFiles()
        >>> bad.record("a.png", ValueError("a.png: cannot read the image"))
        >>> bad.failures
        {'a.png': 'a.png: cannot read the image'}
    """

    def __init__(self, skip=False, total=None):
        self.skip, self.total, self.failures, self.fatal = skip, total, {}, {}

    def record(self, path, error, fatal=False):
        """Note that ``path`` failed with ``error`` (thread-safe: one dict assignment).

        ``fatal``: a failure that is not the file's (the user's augmentation raised), which
        stops the run even when bad files are skipped.
        """
        (self.fatal if fatal else self.failures)[str(path)] = str(error)

    def keep_going(self):
        """Whether a pipeline may go on dropping bad pairs."""
        return (self.skip and not self.fatal
                and (self.total is None or len(self.failures) < self.total))

    def check(self):
        """Raise :class:`ValueError` naming the first bad file, unless skipping is allowed.

        Raises:
            ValueError: one line: the file, the cause, and how many others failed.
        """
        if self.fatal:
            path, cause = next(iter(self.fatal.items()))
            raise BadDataError("{cause} (on {path})", cause=cause, path=path)
        if not self.failures or self.keep_going():
            return
        cause = next(iter(self.failures.values()))
        others = len(self.failures) - 1
        more = f" (and {others} more bad file{'s' * (others > 1)})" if others else ""
        everything = " every training pair is bad;" if self.skip else ""
        hint = "" if self.skip else "; fix it, or pass {skip_bad_files} to leave bad pairs out"
        raise BadDataError("bad training data:{everything} {cause}{more}" + hint,
                           everything=everything, cause=cause, more=more)

    def summary(self):
        """One line counting the skipped files, or an empty string."""
        if not self.failures:
            return ""
        causes = "; ".join(list(self.failures.values())[:3])
        return f"skipped {len(self.failures)} bad file(s): {causes}"


def segmentation_dataset(pairs, *, num_classes, preprocess, batch_size=8, augment=None,
                         ignore_label=255, shuffle=True, seed=0, repeat=False, label_map=None,
                         bad_files=None, weight_map=None, target=None, masks=None,
                         shard=None):
    """A ``tf.data`` pipeline of (preprocessed image, int32 mask) batches.

    Decoding runs in parallel (Pillow in ``tf.numpy_function``); the order and randomness
    are stateless, a function of the seed and the position in the stream, so a seed gives
    the same batches on every run and every iterator. A pair that cannot
    be read (truncated image, wrong mask size, unknown label) never raises inside the
    pipeline: it is recorded in ``bad_files`` (also available as ``dataset.bad_files``),
    whose :meth:`BadFiles.check` raises the error from the caller's thread.

    Args:
        pairs: (image path, mask path) list (see :func:`folder_pairs`).
        num_classes: classes; other label values than ``ignore_label`` are refused.
        preprocess: function from a float32 RGB 0-255 tensor (H, W, 3) to the model's input,
            such as the model's :class:`~keras_seg.input_conventions.InputConvention`; applied
            after augmentation.
        batch_size: images per batch.
        augment: an :class:`Augment`, or None for whole images (batch_size 1 unless all
            images have one size). Its ``custom`` function runs on each crop last, in the
            workers, with a per-crop seed.
        ignore_label: label value skipped by losses and metrics.
        shuffle: shuffle the pairs every epoch.
        seed: seed of shuffling and augmentation.
        repeat: repeat forever (new augmentations each pass).
        label_map: optional 256-entry lookup from stored mask values to labels.
        masks: the mask format's reader (:mod:`~keras_seg.training.mask_formats`; default
            index masks through ``label_map``).
        bad_files: a :class:`BadFiles` recorder (default: a new one that does not skip).
        weight_map: optional ``f(image_path, mask_path, mask) -> (H, W) float32`` pixel
            weights (U-Net's map); they follow the mask through the augmentation and come
            third in each element, where Keras takes them as ``sample_weight``.
        target: ``(margin, stride)`` of a network whose output is smaller than its input
            (U-Net: 92, 1; DilatedNet: 186, 8): masks and weights are cropped by the margin
            and sampled every ``stride`` pixels (at each block's centre), so they line up
            with the output; None keeps them whole.
        shard: ``(index, count)``: this process's share of each batch, for ``count``
            processes training on one global batch of ``batch_size``: elements
            ``index * n`` to ``(index + 1) * n - 1`` of every batch, ``n = batch_size //
            count``, with the seeds they have in the whole stream (the other elements are
            never decoded), so the shares of all processes, put side by side, are the
            batches of one process; None: every batch whole.

    Returns:
        A ``tf.data.Dataset`` of (image, mask) or (image, mask, weights) batches, with a
        ``bad_files`` attribute.

    Example:
        >>> ds = segmentation_dataset(pairs, num_classes=21, batch_size=4,
        ...                           preprocess=keras_seg.get_spec("fcn8s").input,
        ...                           augment=Augment((320, 320)))  # doctest: +SKIP
    """
    import tensorflow as tf

    bad_files = bad_files if bad_files is not None else BadFiles(total=len(pairs))
    custom = augment.custom if augment is not None else None
    hook = CustomAugment(custom) if custom is not None else None
    positions = tf.data.Dataset.counter() if repeat else tf.data.Dataset.range(len(pairs))
    if shard is not None:
        positions, batch_size = _share(positions, batch_size, *shard)
    # plain tracing: no Python branch here depends on a tensor, and AutoGraph's conversion of
    # these functions took 2.5 s of every training run's start
    plain = tf.autograph.experimental.do_not_convert
    ds = positions.map(plain(_stream(pairs, shuffle, seed)))

    def read(image_path, mask_path):
        image_path, mask_path = image_path.decode(), mask_path.decode()
        try:
            image, mask = load_pair(image_path, mask_path, num_classes, ignore_label, label_map,
                                    masks)
            weights = (np.asarray(weight_map(image_path, mask_path, mask), np.float32)
                       if weight_map else np.zeros(mask.shape, np.float32))
        except (OSError, ValueError) as error:
            bad_files.record(image_path, error)
            stand_in = (np.zeros((1, 1, 3), np.float32), np.full((1, 1), ignore_label, np.int32),
                        np.zeros((1, 1), np.float32))
            return (*stand_in, not bad_files.keep_going())
        return image.astype(np.float32), mask, weights, True

    def augment_custom(image, mask, element_seed, image_path):
        try:
            return hook(image, mask, element_seed)
        except ValueError as error:  # never raise in a worker: stop from the main thread
            bad_files.record(image_path.decode(), error, fatal=True)
            return image, mask

    def load(paths, element_seed):
        image, mask, weights, keep = tf.numpy_function(
            read, list(paths), [tf.float32, tf.int32, tf.float32, tf.bool])
        image.set_shape([None, None, 3])
        mask.set_shape([None, None])
        weights.set_shape([None, None])
        keep.set_shape([])
        return image, mask, weights, keep, element_seed, paths[0]

    def example(image, mask, weights, keep, element_seed, image_path):
        if augment is not None:
            image, mask, weights = _augment(image, mask, augment, ignore_label, element_seed,
                                            weights if weight_map else None)
        if hook is not None:
            shape = image.shape
            image, mask = tf.numpy_function(augment_custom,
                                            [image, mask, element_seed[0], image_path],
                                            [tf.float32, tf.int32])
            image.set_shape(shape)
            mask.set_shape(shape[:2])
        if target is not None:
            margin, stride = target
            start = margin + stride // 2
            mask = mask[start : tf.shape(mask)[0] - margin : stride,
                        start : tf.shape(mask)[1] - margin : stride]
            if weight_map:
                weights = weights[start : tf.shape(weights)[0] - margin : stride,
                                  start : tf.shape(weights)[1] - margin : stride]
        if weight_map:
            return preprocess(image), mask, weights
        return preprocess(image), mask

    ds = ds.map(plain(load), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if bad_files.skip:  # filtering loses the cardinality that Keras uses for validation
        ds = ds.filter(lambda image, mask, weights, keep, element_seed, path: keep)
    ds = ds.map(plain(example), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
    ds.bad_files = bad_files
    return ds


def _stream(pairs, shuffle, seed):
    """Position in the stream -> ((image path, mask path), seed of its randomness).

    A function of the position alone, with no state: every iterator of the dataset, in
    every process, sees the same stream. Pass ``k`` over the pairs is the permutation
    keyed by ``(seed, k)``; each position gets a seed of its own.
    """
    import tensorflow as tf

    images = tf.constant([str(p) for p, _ in pairs])
    mask_refs = tf.constant([str(p) for _, p in pairs])
    count = tf.constant(len(pairs), tf.int64)

    def element(position):
        slot, lap = position % count, position // count
        if shuffle:
            slot = tf.random.experimental.index_shuffle(
                slot, seed=tf.stack([tf.constant(seed, tf.int64), lap]), max_index=count - 1)
        element_seed = tf.random.stateless_uniform(
            [2], seed=tf.stack([tf.constant(seed, tf.int64), position]), minval=None,
            maxval=None, dtype=tf.int64)
        return (images[slot], mask_refs[slot]), element_seed

    return element


def _share(positions, batch_size, index, count):
    """Process ``index``'s share of every batch of ``batch_size`` (see ``shard``)."""
    share = batch_size // count
    return positions.filter(lambda position: position % batch_size // share == index), share


def _augment(image, mask, augment, ignore_label, seed, weights=None):
    """Augment image and mask (and pixel weights, carried as a second mask channel)."""
    import tensorflow as tf

    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 8)
    mask = mask[..., None]
    if weights is not None:  # labels are exact in float32; one transform moves both
        mask = tf.concat([tf.cast(mask, tf.float32), weights[..., None]], axis=-1)
    if augment.scale is not None and tuple(augment.scale) != (1.0, 1.0):
        factor = tf.random.stateless_uniform([], seeds[0], *augment.scale)
        size = tf.cast(tf.round(tf.cast(tf.shape(image)[:2], tf.float32) * factor), tf.int32)
        size = tf.maximum(size, 1)
        image = tf.image.resize(image, size, method="bilinear")
        mask = tf.image.resize(mask, size, method="nearest")
    if augment.rotation:
        angle = tf.random.stateless_uniform([], seeds[1], -1.0, 1.0) * augment.rotation
        angle = angle * np.pi / 180
        image, mask = _rotate(image, mask, angle, ignore_label)
    if augment.elastic:
        image, mask = _elastic(image, mask, *augment.elastic, ignore_label, seeds[6])
    if augment.flip:
        flip = tf.random.stateless_uniform([], seeds[2]) < 0.5
        image = tf.cond(flip, lambda: image[:, ::-1], lambda: image)
        mask = tf.cond(flip, lambda: mask[:, ::-1], lambda: mask)
    if augment.brightness:
        image = image + tf.random.stateless_uniform([], seeds[3], -1.0, 1.0) * augment.brightness
    if augment.contrast:
        factor = 1 + tf.random.stateless_uniform([], seeds[4], -1.0, 1.0) * augment.contrast
        mean = tf.reduce_mean(image, axis=(0, 1), keepdims=True)
        image = (image - mean) * factor + mean
    image = tf.clip_by_value(image, 0.0, 255.0)
    crop_h, crop_w = augment.crop_size
    height, width = tf.shape(image)[0], tf.shape(image)[1]
    pad_h, pad_w = tf.maximum(crop_h - height, 0), tf.maximum(crop_w - width, 0)
    # pad images with their mean colour (0 after mean subtraction) and labels with ignore
    mean_colour = tf.reduce_mean(image, axis=(0, 1))
    image = tf.pad(image - mean_colour, [[0, pad_h], [0, pad_w], [0, 0]]) + mean_colour
    mask = tf.pad(mask, [[0, pad_h], [0, pad_w], [0, 0]],
                  constant_values=tf.cast(ignore_label, mask.dtype))
    stacked = tf.concat([image, tf.cast(mask, tf.float32)], axis=-1)
    channels = 5 if weights is not None else 4
    stacked = tf.image.stateless_random_crop(stacked, [crop_h, crop_w, channels], seeds[5])
    image, mask = stacked[..., :3], tf.cast(stacked[..., 3], tf.int32)
    image.set_shape([crop_h, crop_w, 3])
    mask.set_shape([crop_h, crop_w])
    if weights is not None:
        weights = stacked[..., 4]
        weights.set_shape([crop_h, crop_w])
    return image, mask, weights


def _elastic(image, mask, grid, sigma, ignore_label, seed):
    import tensorflow as tf

    size = tf.shape(image)[:2]
    coarse = tf.random.stateless_normal([1, grid, grid, 2], seed, stddev=float(sigma))
    flow = tf.image.resize(coarse, size, method="bicubic")[0]
    rows, cols = tf.meshgrid(tf.range(size[0], dtype=tf.float32),
                             tf.range(size[1], dtype=tf.float32), indexing="ij")
    y, x = rows + flow[..., 0], cols + flow[..., 1]
    high_y, high_x = tf.cast(size[0] - 1, tf.float32), tf.cast(size[1] - 1, tf.float32)
    # image: bilinear, repeating its edge where the flow points outside
    yc, xc = tf.clip_by_value(y, 0.0, high_y), tf.clip_by_value(x, 0.0, high_x)
    y0, x0 = tf.floor(yc), tf.floor(xc)
    y1, x1 = tf.minimum(y0 + 1, high_y), tf.minimum(x0 + 1, high_x)
    wy, wx = (yc - y0)[..., None], (xc - x0)[..., None]

    def at(ry, rx):
        return tf.gather_nd(image, tf.cast(tf.stack([ry, rx], -1), tf.int32))

    image = ((1 - wy) * ((1 - wx) * at(y0, x0) + wx * at(y0, x1))
             + wy * ((1 - wx) * at(y1, x0) + wx * at(y1, x1)))
    # labels: nearest, the ignore value outside
    ry, rx = tf.round(y), tf.round(x)
    outside = (ry < 0) | (ry > high_y) | (rx < 0) | (rx > high_x)
    index = tf.cast(tf.stack([tf.clip_by_value(ry, 0.0, high_y),
                              tf.clip_by_value(rx, 0.0, high_x)], -1), tf.int32)
    labels = tf.where(outside[..., None], tf.cast(ignore_label, mask.dtype),
                      tf.gather_nd(mask, index))
    return image, labels


def _rotate(image, mask, angle, ignore_label):
    import tensorflow as tf

    height = tf.cast(tf.shape(image)[0], tf.float32)
    width = tf.cast(tf.shape(image)[1], tf.float32)
    cos, sin = tf.cos(angle), tf.sin(angle)
    cy, cx = (height - 1) / 2, (width - 1) / 2
    # output (x, y) samples input (a0 x + a1 y + a2, b0 x + b1 y + b2): rotation about the centre
    transform = tf.stack([cos, -sin, cx - cos * cx + sin * cy,
                          sin, cos, cy - sin * cx - cos * cy, 0.0, 0.0])[None]
    size = tf.shape(image)[:2]
    image = tf.raw_ops.ImageProjectiveTransformV3(
        images=image[None], transforms=transform, output_shape=size, fill_value=0.0,
        interpolation="BILINEAR", fill_mode="REFLECT")[0]
    rotated = tf.raw_ops.ImageProjectiveTransformV3(
        images=tf.cast(mask[None], tf.float32), transforms=transform, output_shape=size,
        fill_value=float(ignore_label), interpolation="NEAREST", fill_mode="CONSTANT")[0]
    return image, tf.cast(rotated, mask.dtype)
