"""Inference: preprocessing, image I/O, the prediction pipeline."""

from keras_seg.inference.predict import predict
from keras_seg.inference.preprocess import preprocess

__all__ = ["predict", "preprocess"]
