"""Weight converters: readers of the original files, per-format rules, strict assignment."""

from keras_seg.convert.assign import LoadReport
from keras_seg.convert.load import load_weights, read_weights

__all__ = ["LoadReport", "load_weights", "read_weights"]
