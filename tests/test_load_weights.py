"""load_weights: strict, all-or-nothing, with messages that name layer and shapes."""

import numpy as np
import pytest

import keras_seg
from keras_seg import ConversionError

from caffe_files import (
    FCN,
    deploy_net,
    prototxt_text,
    random_blobs,
    reference_or_skip,
    write_caffemodel,
)

WIDTHS = (4, 8, 16, 32, 32, 64)
WIDTH_MAP = {64: 4, 128: 8, 256: 16, 512: 32, 4096: 64}


@pytest.fixture()
def fcn16s_files(tmp_path):
    source = reference_or_skip(FCN / "voc-fcn16s" / "val.prototxt")
    layers = deploy_net(source, widths=WIDTH_MAP, num_classes=3)
    prototxt = tmp_path / "deploy.prototxt"
    prototxt.write_text(prototxt_text(layers, 64, 64))
    return layers, prototxt, random_blobs(layers)


def _model():
    return keras_seg.build("fcn16s", num_classes=3, widths=WIDTHS)


def _snapshot(model):
    return [np.array(w) for w in model.get_weights()]


def _refused_and_unchanged(path, match):
    """load_weights refuses ``path`` with a message matching ``match``; nothing changes."""
    model = _model()
    before = _snapshot(model)
    with pytest.raises(ConversionError, match=match):
        keras_seg.load_weights(model, path)
    for old, new in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, new)
    return model


def test_loads_and_reports(tmp_path, fcn16s_files):
    _, prototxt, blobs = fcn16s_files
    path = write_caffemodel(tmp_path / "ok.caffemodel", blobs)
    model = _model()
    report = keras_seg.load_weights(model, path, prototxt=prototxt)
    assert report.complete and len(report.assigned) == len(model.weights)
    np.testing.assert_array_equal(model.get_layer("conv1_1").kernel.numpy(),
                                  blobs[0][2][0].transpose(2, 3, 1, 0))


def test_wrong_shape_names_layer_expected_and_found_and_changes_nothing(tmp_path, fcn16s_files):
    _, _, blobs = fcn16s_files
    bad = [(n, t, [b.copy() for b in bs]) for n, t, bs in blobs]
    index = [n for n, _, _ in bad].index("conv3_2")
    bad[index][2][0] = np.zeros((16, 15, 3, 3), "f4")
    path = write_caffemodel(tmp_path / "bad.caffemodel", bad)
    _refused_and_unchanged(path, r"conv3_2.*\(16, 16, 3, 3\).*found \(16, 15, 3, 3\)")


def test_truncated_file_changes_nothing(tmp_path, fcn16s_files):
    _, _, blobs = fcn16s_files
    data = write_caffemodel(tmp_path / "full.caffemodel", blobs).read_bytes()
    (tmp_path / "cut.caffemodel").write_bytes(data[: len(data) // 2])
    _refused_and_unchanged(tmp_path / "cut.caffemodel", "cut.caffemodel")


def test_strict_refuses_missing_and_extra_layers_non_strict_reports(tmp_path, fcn16s_files):
    _, _, blobs = fcn16s_files
    extra = np.ones((7,), "f4")
    partial = [b for b in blobs if b[0] != "score_pool4"] + [("fc8", "InnerProduct", [extra])]
    path = write_caffemodel(tmp_path / "partial.caffemodel", partial)
    model = _refused_and_unchanged(path, r"(?s)score_pool4/kernel.*fc8/0 \(InnerProduct\)")
    report = keras_seg.load_weights(model, path, strict=False)
    assert not report.complete
    assert any("score_pool4" in item for item in report.unfilled)
    assert report.unused == ["fc8/0 (InnerProduct)"]
    np.testing.assert_array_equal(model.get_layer("fc7").bias.numpy(),
                                  dict((n, b) for n, _, b in blobs)["fc7"][1])


def test_layer_of_another_type_is_refused(tmp_path, fcn16s_files):
    _, _, blobs = fcn16s_files
    swapped = [(n, "Deconvolution" if n == "fc7" else t, b) for n, t, b in blobs]
    path = write_caffemodel(tmp_path / "swap.caffemodel", swapped)
    with pytest.raises(ConversionError, match="fc7: expected a Convolution layer.*Deconvolution"):
        keras_seg.load_weights(_model(), path)


def test_prototxt_that_does_not_match_is_refused(tmp_path, fcn16s_files):
    layers, _, blobs = fcn16s_files
    path = write_caffemodel(tmp_path / "ok.caffemodel", blobs)
    text = prototxt_text(layers, 64, 64)
    other = tmp_path / "other.prototxt"
    other.write_text(text.replace("offset: 27", "offset: 26").replace("pad: 100", "pad: 99"))
    expected = (r"(?s)conv1_1: prototxt pad \(99, 99\), model has \(100, 100\)"
                r".*score: prototxt offset \(26, 26\)")
    with pytest.raises(ConversionError, match=expected):
        keras_seg.load_weights(_model(), path, prototxt=other)
    # the full-width prototxt against a narrow model: widths differ
    wide = tmp_path / "wide.prototxt"
    source = reference_or_skip(FCN / "voc-fcn16s" / "val.prototxt")
    wide.write_text(prototxt_text(deploy_net(source), 64, 64))
    with pytest.raises(ConversionError, match="conv1_1: prototxt num_output 64, model has 4"):
        keras_seg.load_weights(_model(), path, prototxt=wide)


def test_unknown_layer_type_in_prototxt_is_refused(tmp_path, fcn16s_files):
    layers, _, blobs = fcn16s_files
    path = write_caffemodel(tmp_path / "ok.caffemodel", blobs)
    text = prototxt_text(layers, 64, 64) + 'layer {\n  name: "warp"\n  type: "Warp"\n}\n'
    (tmp_path / "warp.prototxt").write_text(text)
    with pytest.raises(ConversionError, match="warp: unknown layer type 'Warp'"):
        keras_seg.load_weights(_model(), path, prototxt=tmp_path / "warp.prototxt")


def test_keras_weights_round_trip_and_mismatch(tmp_path, fcn16s_files):
    _, _, blobs = fcn16s_files
    model = _model()
    keras_seg.load_weights(model, write_caffemodel(tmp_path / "ok.caffemodel", blobs))
    model.save_weights(tmp_path / "fcn16s.weights.h5")
    fresh = _model()
    report = keras_seg.load_weights(fresh, tmp_path / "fcn16s.weights.h5")
    assert report.complete and len(report.assigned) == len(model.weights)
    for a, b in zip(model.get_weights(), fresh.get_weights()):
        np.testing.assert_array_equal(a, b)
    arrays = keras_seg.read_weights(tmp_path / "fcn16s.weights.h5")
    assert len(arrays) == len(model.weights)
    other = keras_seg.build("fcn16s", num_classes=4, widths=WIDTHS)
    before = _snapshot(other)
    with pytest.raises(ConversionError, match=r"layer score_fr: layers/conv2d_15/vars/0 should "
                                              r"have shape \(1, 1, 64, 4\).*found \(1, 1, 64, 3\)"):
        keras_seg.load_weights(other, tmp_path / "fcn16s.weights.h5")
    for a, b in zip(before, other.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_keras_files_are_strict_like_every_format(tmp_path):
    import keras

    trained = _model()  # a training checkpoint: the .keras file also holds optimizer state
    trained.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9), loss="mse")
    trained.fit(np.ones((1, 40, 40, 3)), np.zeros((1, 40, 40, 3)), epochs=1, verbose=0)
    trained.save(tmp_path / "trained.keras")
    fresh = _model()
    report = keras_seg.load_weights(fresh, tmp_path / "trained.keras")
    assert report.complete and len(report.assigned) == len(trained.weights)
    for a, b in zip(trained.get_weights(), fresh.get_weights()):
        np.testing.assert_array_equal(a, b)
    fcn8s = keras_seg.build("fcn8s", num_classes=3, widths=WIDTHS)
    fcn8s.save(tmp_path / "fcn8s.keras")
    _refused_and_unchanged(tmp_path / "fcn8s.keras", "nothing loaded")
    frontend = keras_seg.build("dilation8_camvid", context=False, widths=WIDTHS)
    frontend.save_weights(tmp_path / "frontend.weights.h5")
    full = keras_seg.build("dilation8_camvid", widths=WIDTHS)
    before = _snapshot(full)
    with pytest.raises(ConversionError,
                       match=r"(?s)nothing loaded \(strict\).*left unfilled \(16\)"):
        keras_seg.load_weights(full, tmp_path / "frontend.weights.h5")
    for a, b in zip(before, full.get_weights()):
        np.testing.assert_array_equal(a, b)
    report = keras_seg.load_weights(full, tmp_path / "frontend.weights.h5", strict=False)
    assert len(report.unfilled) == 16 and not report.unused  # the context module's
    np.testing.assert_array_equal(full.get_layer("final").kernel,
                                  frontend.get_layer("final").kernel)


def test_a_caffemodel_with_two_layers_of_one_name_is_refused(tmp_path):
    blob = [np.zeros((2, 3, 3, 3), "f4")]
    path = write_caffemodel(tmp_path / "twice.caffemodel",
                            [("conv1_1", "Convolution", blob), ("conv1_1", "Convolution", blob)])
    _refused_and_unchanged(path, "two layers named 'conv1_1' carry weights")
