"""The one-call prediction pipeline: image in, label map out."""

import numpy as np

from keras_seg.inference.common import softmax
from keras_seg.inference.images import as_rgb_uint8
from keras_seg.inference.preprocess import preprocess
from keras_seg.registry import build, get_spec


def predict(name_or_model, image, *, weights=None, return_probabilities=False, batch_size=1,
            progress=False, tile_size=None, overlap=0.25, blend="gaussian", tta=None):
    """Segment one RGB image the way the original release does, or with blended tiles.

    Without ``tile_size``, FCN runs on the whole image at once and DilatedNet follows
    fyu/dilation: 186-pixel reflect-101 margin, deploy-size tiles, softmax, bilinear zoom
    by 8 (not for Cityscapes). With ``tile_size``, :func:`keras_seg.predict_tiled` runs with
    the model's registered geometry, blending overlapping tiles in probability space (and
    DilatedNet's zoom after it): bounded memory for images of any size.

    Args:
        name_or_model: a registered name, or a model built by :func:`keras_seg.build`
            (its name selects the preprocessing and pipeline).
        image: (H, W, 3) uint8 RGB (grayscale, RGBA and 16-bit are converted with a warning).
        weights: a weights file to load first (any format of :func:`keras_seg.load_weights`).
        return_probabilities: also return the (H, W, C) class probabilities.
        batch_size: tiles per forward pass (tiled pipelines).
        progress: show a progress bar over the tiles.
        tile_size: int or (h, w) input tile for blended tiling (None: the original pipeline).
        overlap: tile overlap for blended tiling, in [0, 1).
        blend: ``"gaussian"``, ``"cosine"`` or ``"constant"``.
        tta: None, ``"flips"`` or ``"dihedral"`` test-time augmentation.

    Returns:
        (H, W) int32 labels, and the probabilities when asked.

    Example:
        >>> labels = keras_seg.predict("dilation8_camvid", image,
        ...                            weights="dilation8_camvid.weights.h5")  # doctest: +SKIP
    """
    from keras_seg.convert import load_weights

    if isinstance(name_or_model, str):
        spec, model = get_spec(name_or_model), build(name_or_model)
    else:
        model = name_or_model
        spec = get_spec(model.name)
    if weights is not None:
        load_weights(model, weights)
    x = preprocess(spec, as_rgb_uint8(image))
    if tile_size is not None:
        from keras_seg.inference.deploy_tiles import interp_map
        from keras_seg.inference.tiling import predict_tiled

        probabilities = predict_tiled(
            model, x, tile_size=tile_size, overlap=overlap, batch_size=batch_size, blend=blend,
            tta=tta, activation="softmax", geometry=spec.geometry, progress=progress)
        if spec.zoom > 1:
            probabilities = interp_map(probabilities, spec.zoom, *x.shape[:2])
    elif spec.pipeline == "dilation_tiles":
        from keras_seg.inference.deploy_tiles import predict_deploy_tiles

        probabilities = predict_deploy_tiles(model, spec, x, batch_size=batch_size,
                                             progress=progress)
    else:
        probabilities = softmax(model(x[None], training=False))[0]
    labels = np.argmax(probabilities, axis=-1).astype(np.int32)
    return (labels, probabilities) if return_probabilities else labels
