"""Importing is free of side effects on Keras; keras-seg's files reload after ``import keras_seg``.

Each check runs in a fresh process (this one has imported everything already), with this
process's environment, so that it imports the keras-seg under test.
"""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

import keras_seg


def _python(code, *args):
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *map(str, args)],
                            capture_output=True, text=True, env=dict(os.environ), timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    """A narrow FCN-8s (keras-seg's layers and model class) saved as ``.keras``."""
    path = tmp_path_factory.mktemp("registration") / "tiny.keras"
    keras_seg.build("fcn8s", num_classes=3, widths=(4, 8, 8, 8, 8, 16)).save(path)
    return path


def test_import_keras_seg_imports_neither_keras_nor_tensorflow():
    out = _python("""
        import sys
        import keras_seg
        print(sorted(name for name in sys.modules if name.split(".")[0] in
                     ("keras", "tensorflow", "keras_seg")))
    """)
    assert out.strip() == "['keras_seg', 'keras_seg.errors', 'keras_seg.registration']"


def test_import_keras_alone_then_keras_seg_reads_a_keras_seg_file(saved_model):
    """``import keras`` imports nothing of keras-seg; ``import keras_seg`` is all loading needs."""
    out = _python("""
        import sys
        import keras
        print(sorted(name for name in sys.modules if name.startswith("keras_seg")))
        import keras_seg
        model = keras.saving.load_model(sys.argv[1])
        print(type(model).__name__, model.metadata["model"])
    """, saved_model)
    assert out.splitlines() == ["[]", "SegmentationModel fcn8s"]


def test_the_command_line_loads_a_keras_seg_file_in_a_fresh_process(saved_model, tmp_path):
    image = tmp_path / "image.png"
    Image.fromarray(np.full((40, 52, 3), 128, np.uint8)).save(image)
    result = subprocess.run(
        [sys.executable, "-m", "keras_seg.cli", "predict", str(saved_model), str(image),
         "--out", str(tmp_path / "labels.png")],
        capture_output=True, text=True, env=dict(os.environ), timeout=600)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "labels.png").is_file()
    assert result.stderr.strip() == ""  # TensorFlow's start-up lines hidden (see test_cli)


def test_building_a_model_registers_the_training_classes():
    out = _python("""
        import keras_seg
        import keras
        keras_seg.build("fcn8s", num_classes=3, widths=(4, 8, 8, 8, 8, 16))
        names = keras.saving.get_custom_objects()
        print("keras_seg>SegmentationModel" in names, "keras_seg>AdversarialTrainer" in names)
    """)
    assert out.split() == ["True", "True"]
