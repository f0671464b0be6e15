"""DilatedNet's original prediction pipeline (fyu/dilation ``predict.py``), batched.

The image is mean-subtracted, given a ``label_margin`` border by ``BORDER_REFLECT_101``, cut
into deploy-size tiles whose centres (deploy size minus twice the margin) do not overlap,
each tile short of the deploy size being reflect-padded on its bottom/right; the tiles'
probabilities are concatenated, zoomed by bilinear interpolation and cropped to the image.
Reflection commutes with the per-pixel input convention, so the tiles are cut from the RGB
pixels and converted inside the compiled forward, one graph per deploy tile batch.
"""

import math

import numpy as np

from keras_seg.inference.common import progress_bar


def predict_deploy_tiles(model, spec, image, *, batch_size=1, progress=False, preprocess=None,
                         precision="float32"):
    """Class probabilities of an image with the original tiling of a DilatedNet release.

    Args:
        model: the network; a Keras model from (N, tile_h, tile_w, 3) to scores.
        spec: the model's ``ModelSpec`` (tile size, margin, zoom).
        image: (H, W, 3): RGB pixels (uint8) with ``preprocess``, else the network's input
            (float32, BGR, mean-subtracted).
        batch_size: tiles per forward pass.
        progress: show a progress bar over the tiles.
        preprocess: the model's :class:`~keras_seg.input_conventions.InputConvention`, run
            inside the compiled forward; None when ``image`` is preprocessed already.
        precision: ``"float32"`` or ``"bfloat16"``.

    Returns:
        (H, W, C) float32 probabilities.

    Example:
        >>> probs = predict_deploy_tiles(model, get_spec("dilation8_camvid"), x)  # doctest: +SKIP
    """
    import cv2

    from keras_seg.inference.forward import compiled_forward

    height, width = image.shape[:2]
    margin, (tile_h, tile_w) = spec.geometry.margin, spec.tile_size
    step_h, step_w = tile_h - 2 * margin, tile_w - 2 * margin
    padded = cv2.copyMakeBorder(image, margin, margin, margin, margin,
                                cv2.BORDER_REFLECT_101)
    grid = [(i, j) for i in range(math.ceil(height / step_h))
            for j in range(math.ceil(width / step_w))]
    rows = None
    batch_size = min(batch_size, len(grid))  # one batch shape, one graph
    forward = compiled_forward(model, input_shape=(batch_size, tile_h, tile_w, image.shape[2]),
                               input_dtype=image.dtype, preprocess=preprocess,
                               precision=precision)
    bar = progress_bar(len(grid), progress)
    for start in range(0, len(grid), batch_size):
        cells = grid[start : start + batch_size]
        tiles = [_tile(padded, i * step_h, j * step_w, tile_h, tile_w) for i, j in cells]
        tiles += [tiles[-1]] * (batch_size - len(tiles))  # the last batch, filled up
        probs = np.asarray(forward(np.stack(tiles)))
        if rows is None:
            out_h, out_w = probs.shape[1:3]
            n_h, n_w = grid[-1][0] + 1, grid[-1][1] + 1
            rows = np.empty((n_h * out_h, n_w * out_w, probs.shape[3]), np.float32)
        for (i, j), prob in zip(cells, probs):
            rows[i * out_h : (i + 1) * out_h, j * out_w : (j + 1) * out_w] = prob
        bar.update(len(cells))
    bar.close()
    if spec.zoom > 1:
        return interp_map(rows, spec.zoom, height, width)
    return np.ascontiguousarray(rows[:height, :width])


def interp_map(prob, zoom, height, width):
    """fyu/dilation's ``util.interp_map``: pixel (h, w) samples ``prob`` at (h/zoom, w/zoom).

    Bilinear, without the half-pixel offset of ``cv2.resize``; the original reads one row
    or column past the map when the image reaches its last ``zoom`` pixels, where this
    version repeats the last row or column instead.

    Args:
        prob: (h, w, C) map.
        zoom: integer upsampling factor.
        height: output height.
        width: output width.

    Returns:
        (height, width, C) float32.

    Example:
        >>> interp_map(np.array([[[0.0], [8.0]]]), 8, 1, 4)[0, :, 0].tolist()
        [0.0, 1.0, 2.0, 3.0]
    """
    prob = np.asarray(prob, np.float32)
    for axis, size in ((0, height), (1, width)):
        index = np.arange(size)
        lower = index // zoom
        upper = np.minimum(lower + 1, prob.shape[axis] - 1)
        weight = (index / zoom - lower).astype(np.float32)
        weight = weight[:, None, None] if axis == 0 else weight[None, :, None]
        prob = np.take(prob, lower, axis) * (1 - weight) + np.take(prob, upper, axis) * weight
    return prob


def _tile(padded, top, left, tile_h, tile_w):
    import cv2

    tile = padded[top : top + tile_h, left : left + tile_w]
    short_h, short_w = tile_h - tile.shape[0], tile_w - tile.shape[1]
    if short_h or short_w:
        tile = cv2.copyMakeBorder(tile, 0, short_h, 0, short_w, cv2.BORDER_REFLECT_101)
    return tile
