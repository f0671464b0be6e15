"""FCNs: build + load_weights vs OpenCV's Caffe importer on the same random caffemodel."""

import numpy as np
import pytest

import keras_seg

from caffe_files import FCN, opencv_forward, reference_or_skip, relative_error, write_reference_pair

SMALL = {64: 4, 128: 8, 256: 16, 512: 32, 4096: 64}
SMALL_WIDTHS = (4, 8, 16, 32, 32, 64)
VARIANTS = {"fcn32s": "voc-fcn32s", "fcn16s": "voc-fcn16s", "fcn8s": "voc-fcn8s",
            "fcn8s_atonce": "voc-fcn8s-atonce"}


def _compare(tmp_path, name, size, v1, widths=None, width_map=None, num_classes=5, seed=0):
    source = reference_or_skip(FCN / VARIANTS[name] / "val.prototxt")
    height, width = size
    prototxt, caffemodel, _ = write_reference_pair(
        tmp_path, source, height=height, width=width, widths=width_map, num_classes=num_classes,
        v1=v1, seed=seed)
    x = np.random.default_rng(seed).uniform(-120, 120, (1, height, width, 3)).astype("float32")
    expected = opencv_forward(prototxt, caffemodel, x)
    overrides = {"widths": widths} if widths else {}
    model = keras_seg.build(name, num_classes=num_classes, **overrides)
    report = keras_seg.load_weights(model, caffemodel, prototxt=prototxt)
    assert report.complete and report.assigned
    actual = np.asarray(model(x))
    assert actual.shape == expected.shape == (1, height, width, num_classes)
    return relative_error(actual, expected)


# FCN-8s at-once has Scale layers, which the legacy V1 format cannot express.
FORMATS = [(name, v1) for name in VARIANTS for v1 in (False, True)
           if not (v1 and name == "fcn8s_atonce")]


@pytest.mark.parametrize("size", [(97, 131), (224, 160)], ids=["97x131", "224x160"])
@pytest.mark.parametrize("name,v1", FORMATS, ids=[f"{n}-{'v1' if v else 'v2'}" for n, v in FORMATS])
def test_fcn_matches_opencv(tmp_path, name, v1, size):
    assert _compare(tmp_path, name, size, v1, SMALL_WIDTHS, SMALL) < 1e-4


@pytest.mark.slow
def test_fcn8s_full_width_matches_opencv(tmp_path):
    assert _compare(tmp_path, "fcn8s", (67, 89), v1=False, num_classes=21) < 1e-4
