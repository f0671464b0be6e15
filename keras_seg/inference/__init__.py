"""Inference: preprocessing, image I/O, the prediction pipeline."""

from keras_seg.inference.batch import predict_files, predict_folder
from keras_seg.inference.predict import predict
from keras_seg.inference.preprocess import preprocess
from keras_seg.inference.tiling import predict_tiled

__all__ = ["predict", "predict_files", "predict_folder", "predict_tiled", "preprocess"]
