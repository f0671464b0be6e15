"""Datasets as users have them: ``keras_seg.data``, image/mask pairs, masks and their check.

Example:
    >>> from keras_seg.data import folder_pairs, verify_folder  # doctest: +SKIP
    >>> pairs, unmatched = folder_pairs("data/train")  # doctest: +SKIP
    >>> print(verify_folder(pairs, num_classes=5))  # doctest: +SKIP
"""

from keras_seg.training.data import IMAGE_SUFFIXES, folder_pairs, read_mask, verify_folder
from keras_seg.training.layouts import dataset_pairs

__all__ = ["IMAGE_SUFFIXES", "dataset_pairs", "folder_pairs", "read_mask", "verify_folder"]
