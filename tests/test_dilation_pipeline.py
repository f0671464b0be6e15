"""keras_seg.predict for DilatedNet vs the original pipeline run with OpenCV's Caffe forward."""

import math

import cv2
import numpy as np
import pytest

import keras_seg
from keras_seg.inference.deploy_tiles import interp_map
from keras_seg.registry import get_spec

from caffe_files import DILATION, reference_or_skip, write_reference_pair

VGG_MAP = {64: 4, 128: 8, 256: 16, 512: 32, 4096: 64}
NARROW = (4, 8, 16, 32, 32, 64)


def original_pipeline(prototxt, caffemodel, image_rgb, mean, zoom, tile, margin=186):
    """fyu/dilation predict.py, step by step, with OpenCV's dnn module in place of Caffe."""
    net = cv2.dnn.readNetFromCaffe(str(prototxt), str(caffemodel))
    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    image = image_rgb[..., ::-1].astype(np.float32) - np.array(mean, np.float32)
    height, width = image.shape[:2]
    out_h, out_w = tile[0] - 2 * margin, tile[1] - 2 * margin
    image = cv2.copyMakeBorder(image, margin, margin, margin, margin, cv2.BORDER_REFLECT_101)
    rows = []
    for h in range(math.ceil(height / out_h)):
        cols = []
        for w in range(math.ceil(width / out_w)):
            piece = image[out_h * h : out_h * h + tile[0], out_w * w : out_w * w + tile[1]]
            piece = cv2.copyMakeBorder(piece, 0, tile[0] - piece.shape[0], 0,
                                       tile[1] - piece.shape[1], cv2.BORDER_REFLECT_101)
            net.setInput(piece.transpose(2, 0, 1)[None].copy())
            cols.append(net.forward("prob")[0])
        rows.append(np.concatenate(cols, axis=2))
    prob = np.concatenate(rows, axis=1)  # C, h, w
    if zoom == 1:
        return prob[:, :height, :width].transpose(1, 2, 0)
    # util.interp_map, written pixel-wise (vectorised over pixels), last row/column clamped
    h, w = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    r0, c0 = h // zoom, w // zoom
    r1, c1 = np.minimum(r0 + 1, prob.shape[1] - 1), np.minimum(c0 + 1, prob.shape[2] - 1)
    rt, ct = h / zoom - r0, w / zoom - c0
    v0 = rt * prob[:, r1, c0] + (1 - rt) * prob[:, r0, c0]
    v1 = rt * prob[:, r1, c1] + (1 - rt) * prob[:, r0, c1]
    return ((1 - ct) * v0 + ct * v1).transpose(1, 2, 0)


@pytest.mark.parametrize("name,image_size,batch_size", [
    ("dilation8_pascal_voc", (600, 1100), 2),  # 2 x 3 tiles, zoom 8
    ("dilation10_cityscapes", (1030, 700), 1),  # 2 x 1 tiles, upsampled in the network
])
def test_predict_reproduces_the_original_tiling(tmp_path, name, image_size, batch_size):
    spec = get_spec(name)
    source = reference_or_skip(DILATION / "models" / f"{name}_deploy.prototxt")
    width_map = dict(VGG_MAP)
    if name == "dilation8_pascal_voc":
        width_map.update({m * 21: m * 5 for m in (2, 4, 8, 16, 32)})
    prototxt, caffemodel, _ = write_reference_pair(
        tmp_path, source, height=spec.tile_size[0], width=spec.tile_size[1], widths=width_map,
        num_classes=5, scores=spec.num_classes, seed=4)
    image = np.random.default_rng(1).integers(0, 256, (*image_size, 3), dtype=np.uint8)
    image = cv2.GaussianBlur(image, (0, 0), 3)  # some spatial structure
    expected = original_pipeline(prototxt, caffemodel, image, spec.input.mean, spec.zoom,
                                 spec.tile_size)
    model = keras_seg.build(name, num_classes=5, widths=NARROW)
    keras_seg.load_weights(model, caffemodel)
    labels, probs = keras_seg.predict(model, image, return_probabilities=True,
                                      batch_size=batch_size)
    assert probs.shape == expected.shape == (*image_size, 5)
    np.testing.assert_allclose(probs, expected, atol=1e-3)
    assert np.mean(labels == expected.argmax(-1)) >= 0.999
    assert len(np.unique(labels)) > 1


def test_small_odd_grayscale_image(tmp_path):
    model = keras_seg.build("dilation7_kitti", num_classes=3, widths=NARROW)
    with pytest.warns(UserWarning, match="grayscale"):
        labels, probs = keras_seg.predict(model, np.full((37, 23), 128, np.uint8),
                                          return_probabilities=True)
    assert labels.shape == (37, 23) and probs.shape == (37, 23, 3)
    np.testing.assert_allclose(probs.sum(-1), 1, rtol=1e-5)


def test_interp_map_is_exact_on_linear_maps():
    prob = np.add.outer(np.arange(5.0), 10 * np.arange(4.0))[..., None]
    zoomed = interp_map(prob, 8, 33, 25)
    expected = np.add.outer(np.arange(33) / 8, 10 * np.arange(25) / 8)
    np.testing.assert_allclose(zoomed[..., 0], expected, atol=1e-5)
