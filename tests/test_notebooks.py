"""The notebooks run top to bottom (small settings) and leave their figures behind."""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
FIGURES = {"01_dilatednet.ipynb": ["dilatednet/overlay.png", "dilatednet/class_areas.png",
                                   "dilatednet/large_tiles.png",
                                   "dilatednet/dilation8_camvid.RANDOM-STAND-IN.caffemodel"],
           "02_fine_tuning.ipynb": ["fine_tuning/scores.png", "fine_tuning/predictions.png",
                                    "fine_tuning/ckpt/curves.png"],
           "03_tiling.ipynb": ["tiling/seams.png", "tiling/big_probabilities.npy"],
           "04_model_zoo.ipynb": ["zoo/model_stats.md", "zoo/flops_vs_params.png",
                                  "zoo/field_by_layer.png"],
           "05_unet.ipynb": ["unet/overlap_tile.png", "unet/weight_map.png"],
           "06_segnet.ipynb": ["segnet/uncertainty.png"],
           "07_fc_densenet.ipynb": ["fc_densenet/fc_densenet56_tiramisu.pth",
                                    "fc_densenet/prediction.png"],
           "08_adversarial.ipynb": ["adversarial/losses.png", "adversarial/predictions.png"],
           "09_your_data.ipynb": ["your_data/classes.png", "your_data/scores.png",
                                  "your_data/predictions.png", "your_data/ckpt/curves.png",
                                  "your_data/train/labels.txt"]}
#: Calls that draw a figure: the cell that makes one must show it (inline backend).
DRAWS = ("plt.subplots(", "plt.figure(", "plt.show()", "display(ShowImage(")


def test_every_notebook_is_committed_without_outputs():
    nbformat = pytest.importorskip("nbformat", reason="the 'notebooks' extra is not installed")
    assert NOTEBOOKS
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        assert all(not cell.get("outputs") for cell in notebook.cells if "outputs" in cell)


#: Run first in the shared kernel: a clean namespace and Keras state, the test's folder as the
#: working directory (names nothing, so a notebook that forgets an import still fails).
SETUP = """get_ipython().run_line_magic("reset", "-f")
__import__("os").chdir({folder!r})
__import__("matplotlib.pyplot").pyplot.close("all")
if "keras" in __import__("sys").modules:
    __import__("keras").backend.clear_session()"""


@pytest.fixture(scope="module")
def kernel():
    """One kernel for every notebook: TensorFlow and the kernel start once, not ten times.

    Each notebook starts in a reset namespace, in its own folder (:data:`SETUP`).
    """
    pytest.importorskip("nbclient", reason="the 'notebooks' extra is not installed")
    from jupyter_client import KernelManager

    manager = KernelManager(kernel_name="python3")
    manager.start_kernel(env={**os.environ, "KERAS_SEG_NOTEBOOK_FAST": "1",
                              "TF_CPP_MIN_LOG_LEVEL": "3"})
    yield manager
    manager.shutdown_kernel(now=True)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path, kernel):
    import nbclient
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    notebook.cells.insert(0, nbformat.v4.new_code_cell(SETUP.format(folder=str(tmp_path))))
    client = nbclient.NotebookClient(notebook, km=kernel, timeout=300)
    try:
        client.execute()
    finally:
        if client.kc is not None:
            client.kc.stop_channels()
    for figure in FIGURES[path.name]:
        assert (tmp_path / "build" / "notebooks" / figure).exists(), figure
    drawing = [cell for cell in notebook.cells if cell.cell_type == "code"
               and any(call in cell.source for call in DRAWS)]
    assert drawing, "no figure drawn"
    for cell in drawing:  # a saved file is not a shown figure
        assert any("image/png" in output.get("data", {}) for output in cell.outputs), \
            cell.source[:200]
