"""The one-call prediction pipeline: image in, label map out."""

import numpy as np

from keras_seg.inference.images import as_rgb_uint8
from keras_seg.inference.preprocess import preprocess
from keras_seg.registry import build, get_spec


def predict(name_or_model, image, *, weights=None, return_scores=False):
    """Segment one RGB image with a registered network.

    Args:
        name_or_model: a registered name, or a model built by :func:`keras_seg.build`
            (its name selects the preprocessing).
        image: (H, W, 3) uint8 RGB (grayscale, RGBA and 16-bit are converted with a warning).
        weights: a weights file to load first (any format of :func:`keras_seg.load_weights`).
        return_scores: also return the (H, W, C) score map.

    Returns:
        (H, W) int32 labels, and the scores when asked.

    Example:
        >>> labels = keras_seg.predict("fcn8s", image, weights="fcn8s.weights.h5")  # doctest: +SKIP
    """
    from keras_seg.convert import load_weights

    if isinstance(name_or_model, str):
        spec, model = get_spec(name_or_model), build(name_or_model)
    else:
        model = name_or_model
        spec = get_spec(model.name)
    if weights is not None:
        load_weights(model, weights)
    image = as_rgb_uint8(image)
    scores = np.asarray(model(preprocess(spec, image[None]), training=False))[0]
    labels = np.argmax(scores, axis=-1).astype(np.int32)
    return (labels, scores) if return_scores else labels
