"""DilatedNet: build + load_weights vs OpenCV's Caffe importer on the released layouts."""

import numpy as np
import pytest

import keras_seg

from caffe_files import (
    DILATION,
    opencv_forward,
    reference_or_skip,
    relative_error,
    write_reference_pair,
)

NARROW = (4, 8, 16, 32, 32, 64)
VGG_MAP = {64: 4, 128: 8, 256: 16, 512: 32, 4096: 64}
RELEASES = {  # name: (classes, deploy size, a smaller valid size, last blob before "prob")
    "dilation8_pascal_voc": (21, (900, 900), (397, 421), "ct_final"),
    "dilation8_camvid": (11, (900, 1100), (389, 447), "ctx_final"),
    "dilation7_kitti": (11, (852, 1640), (401, 395), "ctx_final"),
    "dilation10_cityscapes": (19, (1396, 1396), (405, 389), "ctx_upsample"),
}


def _compare(tmp_path, name, size, num_classes, widths=None, width_map=None, v1=False):
    classes, *_, scores = RELEASES[name]
    source = reference_or_skip(DILATION / "models" / f"{name}_deploy.prototxt")
    width_map = dict(width_map or {})
    if name == "dilation8_pascal_voc":  # the large context module: 2C ... 32C wide
        width_map.update({m * classes: m * num_classes for m in (2, 4, 8, 16, 32)})
    prototxt, caffemodel, _ = write_reference_pair(
        tmp_path, source, height=size[0], width=size[1], widths=width_map,
        num_classes=num_classes, scores=classes, v1=v1)
    x = np.random.default_rng(0).uniform(-120, 120, (1, *size, 3)).astype("float32")
    expected = opencv_forward(prototxt, caffemodel, x, scores)  # the model stops before prob
    model = keras_seg.build(name, num_classes=num_classes, **({"widths": widths} if widths else {}))
    report = keras_seg.load_weights(model, caffemodel, prototxt=prototxt)
    assert report.complete
    actual = np.asarray(model(x))
    assert actual.shape == expected.shape
    return actual.shape, relative_error(actual, expected)


@pytest.mark.parametrize("which", ["deploy", "smaller"])
@pytest.mark.parametrize("name", sorted(RELEASES))
def test_dilation_matches_opencv(tmp_path, name, which):
    _, deploy, smaller, _ = RELEASES[name]
    size = deploy if which == "deploy" else smaller
    shape, error = _compare(tmp_path, name, size, 5, NARROW, VGG_MAP)
    assert error < 1e-4
    if name != "dilation10_cityscapes" and which == "deploy":
        assert shape[1:3] == ((size[0] - 372) // 8, -(-(size[1] - 372) // 8))


@pytest.mark.slow
def test_dilation8_pascal_voc_full_width_matches_opencv(tmp_path):
    shape, error = _compare(tmp_path, "dilation8_pascal_voc", (452, 468), 21)
    assert error < 1e-4 and shape == (1, 10, 12, 21)
