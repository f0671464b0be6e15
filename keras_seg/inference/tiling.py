"""Sliding-window inference for images of any size: overlap, blending, bounded memory.

One public function, :func:`predict_tiled`, and its settings, :class:`Tiling`. A model maps
NHWC tiles to NHWC maps whose output pixel ``j`` stands for the ``stride``-pixel block at
input pixel ``margin + j * stride`` of its tile (``margin`` = 0, ``stride`` = 1 for
"same"-padded networks; U-Net 2015 has margin 92; DilatedNet margin 186, stride 8). Tiles
are laid out in output space so every output pixel is computed with its full context, the
image is padded where tiles run past its border, and overlapping predictions are blended
with a weight window whose sum normalises the result. Only the output (which may be a memory
map) and one batch of tiles are held.

A Keras model runs as one compiled graph per tile batch shape (see
:func:`~keras_seg.inference.forward.compiled_forward`), with the input convention and the
softmax inside it: tiles of one image, and of the next image cut into the same tiles, reuse
it without retracing.
"""

import math
from dataclasses import dataclass

import numpy as np

from keras_seg.inference.common import progress_bar, softmax

BLENDS = ("constant", "gaussian", "cosine")
PAD_MODES = ("reflect", "constant", "edge")
_MIN_WEIGHT = 1e-3  # windows are clamped away from zero so every pixel gets weight


@dataclass(frozen=True)
class Tiling:
    """How an image is cut into tiles and the tiles' predictions blended: one settings object.

    Attributes:
        tile_size: int or (h, w), the input size of each forward pass.
        overlap: fraction of a tile's output shared with its neighbour, in [0, 1).
        batch_size: tiles per forward pass.
        blend: ``"constant"`` (plain averaging), ``"gaussian"`` (importance weights with
            sigma 1/8 of the tile) or ``"cosine"`` (a Hann window); all clamped away from 0.
        pad_mode: how the image is extended where tiles run past it: ``"reflect"``
            (reflect-101, as ``cv2.BORDER_REFLECT_101``), ``"constant"`` (zeros of the
            network's input) or ``"edge"``.
        tta: None, ``"flips"`` (identity, horizontal, vertical, both) or ``"dihedral"``
            (the eight flips and transposes; square tiles only); averaged after the
            activation.
        scales: image scales for multi-scale inference; results are resized to the scale-1
            output and averaged after the activation.
        margin: extra context in input pixels each tile sees beyond the pixels it predicts
            (its outer ``margin / stride`` output pixels are dropped); use the network's
            receptive-field radius to make tiled and whole-image predictions agree.
        geometry: (model margin, output stride) or (margin, stride, alignment): tiles start
            at multiples of ``alignment`` input pixels (a network with pooling is
            equivariant only to shifts by its total pooling factor: 16 for U-Net); measured
            once from the model when None (alignment then defaults to the stride).

    Raises:
        ValueError: a value out of its range, or dihedral TTA with a tile that is not square.

    Example:
        >>> Tiling(256, overlap=0.5, blend="cosine").tile
        (256, 256)
    """

    tile_size: int | tuple
    overlap: float = 0.25
    batch_size: int = 1
    blend: str = "gaussian"
    pad_mode: str = "reflect"
    tta: str | None = None
    scales: tuple = (1.0,)
    margin: int = 0
    geometry: tuple | None = None

    def __post_init__(self):
        tile = self.tile
        if len(tile) != 2 or min(tile) < 1:
            raise ValueError(f"tile_size must be positive, got {self.tile_size}")
        if not 0 <= self.overlap < 1:
            raise ValueError(f"overlap must be in [0, 1), got {self.overlap}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")
        if self.blend not in BLENDS:
            raise ValueError(f"blend must be one of {BLENDS}, got {self.blend!r}")
        if self.pad_mode not in PAD_MODES:
            raise ValueError(f"pad_mode must be one of {PAD_MODES}, got {self.pad_mode!r}")
        if self.tta not in _TTA:
            raise ValueError(f"tta must be None, 'flips' or 'dihedral', got {self.tta!r}")
        if self.tta == "dihedral" and tile[0] != tile[1]:
            raise ValueError(f"dihedral TTA needs square tiles, got {tile}")

    @property
    def tile(self):
        """(h, w) of a tile."""
        size = self.tile_size
        return (size, size) if isinstance(size, int) else tuple(size)


def predict_tiled(model, image, tiling=None, *, activation=None, preprocess=None,
                  precision="float32", out=None, progress=False, image_shape=None, **settings):
    """Predict a map for an image of any size by blending predictions on tiles.

    Args:
        model: a Keras model or any callable from (N, h, w, C_in) to (N, h', w', C_out).
        image: (H, W, C_in) array, an ``np.memmap``, any object with ``shape`` and numpy
            slicing, or a reader callback ``read(top, bottom, left, right) -> array`` (with
            ``image_shape``); only the rows and columns of one tile are read at a time.
        tiling: a :class:`Tiling`; or give its fields as keywords (``tile_size=``,
            ``overlap=``, ``batch_size=``, ``blend=``, ``pad_mode=``, ``tta=``, ``scales=``,
            ``margin=``, ``geometry=``).
        activation: None (blend the raw outputs) or ``"softmax"`` over the last axis.
        preprocess: an :class:`~keras_seg.input_conventions.InputConvention`: the image holds RGB
            0-255 pixels and each tile is converted inside the compiled forward (constant
            padding is then the pixel the convention maps to zero); None: the image is the
            network's input.
        precision: ``"float32"`` or ``"bfloat16"`` (a Keras model's compute precision; see
            :func:`~keras_seg.inference.forward.compute_precision`).
        out: optional (H', W', C_out) float32 array (e.g. ``np.lib.format.open_memmap``) to
            write the result into.
        progress: show a progress bar.
        image_shape: (H, W, C_in) of a reader callback.
        **settings: the :class:`Tiling` fields, without ``tiling``.

    Returns:
        (ceil(H / stride), ceil(W / stride), C_out) float32 array (``out`` when given).

    Raises:
        ValueError: empty image, a setting out of range, unknown precision, bfloat16 for a
            model that is not a Keras model, or a tile too small for the model's context.

    Example:
        >>> identity = lambda x: x
        >>> image = np.random.rand(511, 237, 3).astype("float32")
        >>> y = predict_tiled(identity, image, tile_size=128, overlap=0.5)
        >>> bool(np.allclose(y, image, atol=1e-5))
        True
    """
    if tiling is None:
        tiling = Tiling(**settings)
    elif settings:
        raise TypeError(f"give the tiling or its fields, not both: {', '.join(settings)}")
    if callable(image) and not hasattr(image, "shape"):
        if image_shape is None:
            raise ValueError("a reader callback needs image_shape=(height, width, channels)")
        image = _CallbackImage(image, image_shape)
    if len(image.shape) != 3 or min(image.shape) == 0:
        raise ValueError(f"expected a non-empty (H, W, C) image, got shape {image.shape}")
    if activation not in (None, "softmax"):
        raise ValueError(f"activation must be None or 'softmax', got {activation!r}")
    run = _runner(model, preprocess, activation, precision)
    fill = _neutral_pixel(preprocess) if tiling.pad_mode == "constant" and preprocess else None
    layout = _TileLayout(tiling, _geometry(model, tiling, preprocess, image), fill)
    if tuple(tiling.scales) == (1.0,):
        return _predict_one_scale(run, image, layout, out, progress)
    return _multi_scale(run, image, layout, out, progress)


@dataclass(frozen=True)
class _TileLayout:
    """One image's tiling: the :class:`Tiling`, (margin, stride, alignment), the padding pixel.

    ``fill`` is the pixel that constant padding writes (None: zeros).
    """

    tiling: Tiling
    geometry: tuple
    fill: object = None


def _geometry(model, tiling, preprocess, image):
    """(margin, stride, alignment): the tiling's, else measured from the model; checked."""
    geometry = tiling.geometry
    if geometry is None:
        channels = preprocess.channels if preprocess is not None else image.shape[-1]
        geometry = measure_geometry(model, tiling.tile, channels)
    geometry = tuple(geometry) if len(geometry) == 3 else (*geometry, geometry[1])
    _, stride, align = geometry
    if align % stride:
        raise ValueError(f"alignment {align} must be a multiple of the output stride {stride}")
    if tiling.margin % stride:
        raise ValueError(f"margin {tiling.margin} must be a multiple of the output stride "
                         f"{stride}")
    return geometry


def measure_geometry(model, tile, channels):
    """(margin, stride) of a model, from its outputs on two probe sizes near ``tile``.

    Example:
        >>> measure_geometry(lambda x: x[:, 2:-2, 2:-2], (32, 32), 1)
        (2, 1)
    """
    sizes = []
    for extra in (0, 16):
        probe = np.zeros((1, tile[0] + extra, tile[1] + extra, channels), np.float32)
        sizes.append(np.asarray(_call(model, probe)).shape[1:3])
    (h0, w0), (h1, w1) = sizes
    if h1 <= h0 or w1 <= w0:
        raise ValueError(f"cannot measure the model's geometry: outputs {sizes} for inputs "
                         f"{tile} and 16 pixels more; pass geometry=(margin, stride)")
    stride = 16 // (h1 - h0)
    margin = (tile[0] - h0 * stride) // 2
    if stride * (h1 - h0) != 16 or (w1 - w0) * stride != 16 or margin < 0:
        raise ValueError(f"the model's output {sizes} is not a fixed crop and stride of its "
                         "input; pass geometry=(margin, stride)")
    return margin, stride


def _predict_one_scale(run, image, layout, out, progress):
    tiling, (model_margin, stride, align) = layout.tiling, layout.geometry
    tile, margin, batch_size = tiling.tile, tiling.margin, tiling.batch_size
    transforms = _TTA[tiling.tta]
    drop = margin // stride  # output pixels dropped at each tile side facing another tile
    outputs = tuple((t - 2 * model_margin) // stride for t in tile)
    kept = tuple(n - 2 * drop for n in outputs)
    if min(kept) < 1:
        raise ValueError(
            f"tile {tile} is too small: the model uses {model_margin} pixels of context and "
            f"{margin} more were asked each side, leaving {kept} output pixels per tile"
        )
    height, width = image.shape[:2]
    size = (math.ceil(height / stride), math.ceil(width / stride))
    axes = [_layout(n, o, k, drop, tiling.overlap, tiling.blend, align // stride)
            for n, o, k in zip(size, outputs, kept)]
    # the layout is a grid, so the sum of the weights is separable
    norm = [_coverage(n, axis) for n, axis in zip(size, axes)]
    cells = [(row, col) for row in axes[0] for col in axes[1]]
    bar = progress_bar(len(cells), progress)
    for first in range(0, len(cells), batch_size):
        batch_cells = cells[first : first + batch_size]
        tiles = [_read(image, i * stride - model_margin, j * stride - model_margin, tile,
                       tiling.pad_mode, layout.fill) for (i, _), (j, _) in batch_cells]
        if first and len(tiles) < batch_size:  # keep one batch shape: no retracing
            tiles += [np.zeros_like(tiles[0])] * (batch_size - len(tiles))
        preds = _forward(run, np.stack(tiles), transforms)
        if out is None:
            out = np.zeros((*size, preds.shape[-1]), np.float32)
        elif first == 0:
            out[...] = 0
        for ((i, row_w), (j, col_w)), pred in zip(batch_cells, preds):
            h, w = min(outputs[0], size[0] - i), min(outputs[1], size[1] - j)
            weight = np.outer(row_w[:h], col_w[:w])[..., None]
            out[i : i + h, j : j + w] += pred[:h, :w] * weight
        bar.update(len(batch_cells))
    bar.close()
    for row in range(0, size[0], 256):  # normalise in row blocks (out may be a memory map)
        block = slice(row, row + 256)
        out[block] /= np.outer(norm[0][block], norm[1])[..., None]
    return out


def _layout(length, outputs, kept, drop, overlap, blend, align):
    """Tile starts along one axis (output pixels, multiples of ``align``) with their weights.

    Tiles lie inside the output where it is longer than a tile (the last one flush with its
    end, or just past it when alignment asks), so a tile side on the image border computes
    what a whole-image forward computes there; ``drop`` pixels are discarded only on sides
    that face another tile.
    """
    if length <= outputs:
        starts = [0]
    else:
        if kept < align:
            raise ValueError(f"tiles keep {kept} output pixels, fewer than the alignment {align}")
        step = max(align, int(kept * (1 - overlap)) // align * align)
        last = -(-(length - outputs) // align) * align
        starts = sorted({*range(0, last, step), last})
    window = _window(outputs, blend)
    layout = []
    for start in starts:
        weights = window.copy()
        if start > 0:
            weights[:drop] = 0
        if start + outputs < length:
            weights[outputs - drop :] = 0
        layout.append((start, weights))
    return layout


def _coverage(length, layout):
    """Sum of the tiles' weights at each output position along one axis."""
    total = np.zeros(length, np.float64)
    for start, weights in layout:
        end = min(start + len(weights), length)
        total[start:end] += weights[: end - start]
    return total.astype(np.float32)


def _window(length, blend):
    if blend == "constant":
        return np.ones(length, np.float32)
    t = np.arange(length, dtype=np.float64) + 0.5
    if blend == "gaussian":
        sigma = max(length * 0.125, 1e-6)
        window = np.exp(-0.5 * ((t - length / 2) / sigma) ** 2)
    else:
        window = np.sin(np.pi * t / length) ** 2
    return np.maximum(window / window.max(), _MIN_WEIGHT).astype(np.float32)


class _CallbackImage:
    """Array-like view of a reader callback: ``image[r0:r1, c0:c1]`` calls it once."""

    def __init__(self, read, shape):
        self.read, self.shape = read, tuple(int(n) for n in shape)

    def __getitem__(self, index):
        rows, cols = index
        block = np.asarray(self.read(rows.start, rows.stop, cols.start, cols.stop))
        expected = (rows.stop - rows.start, cols.stop - cols.start, self.shape[2])
        if block.shape != expected:
            raise ValueError(f"the reader returned {block.shape} for rows {rows.start}:"
                             f"{rows.stop}, columns {cols.start}:{cols.stop}; expected {expected}")
        return block


def _read(image, top, left, tile, pad_mode, fill=None):
    """The tile at (top, left) in image pixels, extended by ``pad_mode`` outside the image.

    Constant padding is zeros, or the ``fill`` pixel when given.
    """
    rows = _indices(top, tile[0], image.shape[0], pad_mode)
    cols = _indices(left, tile[1], image.shape[1], pad_mode)
    inside_r, inside_c = rows >= 0, cols >= 0
    result = np.zeros((*tile, image.shape[2]), np.float32)
    if fill is not None and not (inside_r.all() and inside_c.all()):
        result[:] = fill
    if not inside_r.any() or not inside_c.any():
        return result
    r0, r1 = rows[inside_r].min(), rows[inside_r].max() + 1
    c0, c1 = cols[inside_c].min(), cols[inside_c].max() + 1
    block = np.asarray(image[r0:r1, c0:c1], np.float32)  # one bounded read
    result[np.ix_(inside_r, inside_c)] = block[np.ix_(rows[inside_r] - r0, cols[inside_c] - c0)]
    return result


def _neutral_pixel(convention):
    """The RGB pixel that ``convention`` maps to zero (``p * scale = mean``), for padding."""
    mean = np.asarray(convention.mean, np.float64) / convention.scale
    if convention.colour_order == "gray":  # the luma weights sum to 1
        return np.repeat(mean, 3).astype(np.float32)
    return (mean[::-1] if convention.colour_order == "BGR" else mean).astype(np.float32)


def _indices(start, count, length, pad_mode):
    """Image indices of ``count`` positions from ``start``; -1 marks constant padding."""
    index = np.arange(start, start + count)
    if pad_mode == "constant":
        return np.where((index >= 0) & (index < length), index, -1)
    if pad_mode == "edge" or length == 1:
        return np.clip(index, 0, length - 1)
    period = 2 * (length - 1)
    index = np.mod(index, period)
    return np.where(index < length, index, period - index)


def _forward(run, tiles, transforms):
    total = None
    for forward, inverse in transforms:
        pred = inverse(run(np.ascontiguousarray(forward(tiles))))
        total = pred if total is None else total + pred
    return total / len(transforms) if len(transforms) > 1 else total


def _runner(model, preprocess, activation, precision):
    """A function from a batch of tiles (NumPy) to the model's outputs after ``activation``.

    A Keras model runs through its compiled forward for the batch's shape (preprocessing and
    softmax inside); any other callable gets the convention and softmax in NumPy.
    """
    import keras

    from keras_seg.inference.forward import check_precision, compiled_forward
    from keras_seg.input_conventions import InputConvention

    check_precision(precision)
    if preprocess is not None and not isinstance(preprocess, InputConvention):
        raise ValueError(f"preprocess must be an InputConvention (preprocess the image first "
                         f"for other conversions), got {type(preprocess).__name__}")
    if isinstance(model, keras.Model):
        def run(batch):
            forward = compiled_forward(model, input_shape=batch.shape,
                                       input_dtype=batch.dtype, preprocess=preprocess,
                                       activation=activation, precision=precision)
            return np.asarray(forward(batch))
        return run
    if precision != "float32":
        raise ValueError(f"precision={precision!r} needs a Keras model, got "
                         f"{type(model).__name__}")

    def run(batch):
        pred = np.asarray(model(preprocess(batch) if preprocess else batch), np.float32)
        return softmax(pred) if activation == "softmax" else pred
    return run


def _call(model, batch):
    import keras

    if isinstance(model, keras.Model):
        return model(batch, training=False)
    return model(batch)


def _flip(axes):
    return lambda x: np.flip(x, axes) if axes else x


def _transpose(x):
    return np.swapaxes(x, 1, 2)


_FLIPS = [(_flip(a), _flip(a)) for a in ((), (2,), (1,), (1, 2))]
_TTA = {
    None: [(_flip(()), _flip(()))],
    "flips": _FLIPS,
    "dihedral": _FLIPS + [
        (lambda x, f=f: f(_transpose(x)), lambda y, g=g: _transpose(g(y))) for f, g in _FLIPS
    ],
}
#: The test-time augmentations ``tta`` takes (besides None).
TTA_MODES = tuple(mode for mode in _TTA if mode)


def _multi_scale(run, image, layout, out, progress):
    import cv2

    stride = layout.geometry[1]
    base = (math.ceil(image.shape[0] / stride), math.ceil(image.shape[1] / stride))
    total = None
    for scale in layout.tiling.scales:
        resized = np.asarray(image, np.float32)
        if scale != 1:
            size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
            resized = cv2.resize(resized, size, interpolation=cv2.INTER_LINEAR)
            resized = resized.reshape(size[1], size[0], image.shape[2])
        pred = _predict_one_scale(run, resized, layout, None, progress)
        if pred.shape[:2] != base:
            channels = pred.shape[2]
            pred = cv2.resize(pred, base[::-1], interpolation=cv2.INTER_LINEAR)
            pred = pred.reshape(*base, channels)
        total = pred if total is None else total + pred
    total /= len(layout.tiling.scales)
    if out is not None:
        out[...] = total
        return out
    return total
