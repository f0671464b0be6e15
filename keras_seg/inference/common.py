"""Small helpers shared by the prediction pipelines."""

import numpy as np


def softmax(scores):
    """Softmax over the last axis of a NumPy array, computed in float32 in a new array.

    Example:
        >>> softmax(np.zeros((1, 2))).tolist()
        [[0.5, 0.5]]
    """
    scores = np.asarray(scores, np.float32)
    exp = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return exp / exp.sum(axis=-1, keepdims=True)


def progress_bar(total, enabled, unit="tile"):
    """A tqdm bar over ``total`` items; silent when disabled, for one item, or in a log file."""
    import sys

    from tqdm.auto import tqdm

    quiet = not enabled or total < 2 or not sys.stderr.isatty()
    return tqdm(total=total, unit=unit, disable=quiet, leave=False)
