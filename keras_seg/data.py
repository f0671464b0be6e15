"""Datasets as users have them: ``keras_seg.data``, image/mask pairs, masks and their check.

Example:
    >>> from keras_seg.data import folder_pairs, verify_folder  # doctest: +SKIP
    >>> pairs, unmatched = folder_pairs("data/train")  # doctest: +SKIP
    >>> print(verify_folder(pairs, num_classes=5))  # doctest: +SKIP
    >>> source = open_dataset("shots", "labelme")  # doctest: +SKIP
    >>> survey(source).formats  # doctest: +SKIP
    Counter({'labelme JSON': 24})
"""

from keras_seg.training.data import IMAGE_SUFFIXES, folder_pairs, read_mask, verify_folder
from keras_seg.training.dataset_survey import survey
from keras_seg.training.layouts import DatasetSource, dataset_pairs, open_dataset

__all__ = ["IMAGE_SUFFIXES", "DatasetSource", "dataset_pairs", "folder_pairs", "open_dataset",
           "read_mask", "survey", "verify_folder"]
