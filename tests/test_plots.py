"""Pictures drawn without touching matplotlib's backend; notebook 02 shows its figures."""

import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
RESULT = {"confusion": [[5, 1, 0, 0], [0, 4, 1, 0], [0, 0, 3, 0], [1, 0, 0, 2]],
          "per_class_iou": {"background": 0.8, "disc": 0.6, "box": 0.7, "triangle": 0.5},
          "mean_iou": 0.65}


def test_no_module_switches_the_backend():
    found = subprocess.run(["grep", "-rn", "matplotlib.use", str(ROOT / "keras_seg")],
                           capture_output=True, text=True)
    assert found.stdout == ""


def test_plots_leave_the_backend_and_pyplot_alone(tmp_path):
    import matplotlib

    from keras_seg.plots import draw_scores, plot_scores

    before = matplotlib.get_backend()
    matplotlib.use("svg")  # stands for a notebook's inline backend
    try:
        path = plot_scores(RESULT, tmp_path / "scores.png")
        assert matplotlib.get_backend() == "svg"
        assert "matplotlib.pyplot" not in sys.modules or not sys.modules[
            "matplotlib.pyplot"].get_fignums()  # no figure left open in pyplot
    finally:
        matplotlib.use(before)
    with Image.open(path) as picture:
        assert picture.format == "PNG" and np.asarray(picture.convert("L")).std() > 10
    assert draw_scores(RESULT).get_axes()  # a Figure, for display(figure) in a notebook


def test_the_summary_has_the_truth_and_a_legend(tmp_path):
    from keras_seg.plots import draw_summary, plot_summary
    from keras_seg.samples import SHAPE_CLASSES, SHAPE_PALETTE, shapes_example

    image, truth = shapes_example(96, 128, seed=3)
    assert (truth == 255).any()
    labels = np.where(truth == 255, 0, truth)
    figure = draw_summary(image, labels, image, RESULT, SHAPE_PALETTE, SHAPE_CLASSES, truth)
    titles = [axis.get_title() for axis in figure.get_axes()]
    assert titles[:4] == ["input", "ground truth", "prediction", "overlay"]
    legend = [text.get_text() for text in figure.legends[0].get_texts()]
    assert legend == [*SHAPE_CLASSES, "ignored (not scored)"]
    truth_panel = figure.get_axes()[1].get_images()[0].get_array()
    assert (np.asarray(truth_panel)[truth == 255] == 255).all()  # the ignore label: white
    plot_summary(image, labels, image, RESULT, tmp_path / "s.png", SHAPE_PALETTE,
                 SHAPE_CLASSES, truth)
    with Image.open(tmp_path / "s.png") as picture:
        assert picture.size[0] > 3 * picture.size[1]  # five panels side by side
