"""The public namespace: every name users, the README and the notebooks rely on."""

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

import keras_seg

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", sorted(keras_seg.__all__))
def test_every_public_name_resolves(name):
    value = getattr(keras_seg, name)
    assert value is not None and name in dir(keras_seg)


def test_the_public_names_are_the_library_s_objects():
    from keras_seg.export import export_model
    from keras_seg.training.evaluate import evaluate_folder
    from keras_seg.training.losses import MaskedSparseCrossEntropy

    assert keras_seg.evaluate is evaluate_folder and keras_seg.export_model is export_model
    assert keras_seg.losses.MaskedSparseCrossEntropy is MaskedSparseCrossEntropy
    assert keras_seg.export is importlib.import_module("keras_seg.export")
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        keras_seg.nothing  # noqa: B018


def test_importing_keras_seg_loads_no_framework():
    code = ("import sys, json, keras_seg; print(json.dumps(sorted(m for m in "
            "('keras', 'tensorflow', 'torch', 'jax') if m in sys.modules)))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert json.loads(result.stdout) == []


def test_notebooks_and_readme_import_only_the_public_namespace():
    """Users learn from them: internal modules may move behind ``keras_seg.*``."""
    allowed = tuple(f"keras_seg.{module}" for module in keras_seg._MODULES)
    texts = {path.name: path.read_text() for path in (ROOT / "notebooks").glob("*.ipynb")}
    texts["README.md"] = (ROOT / "README.md").read_text()
    offences = []
    for name, text in texts.items():
        if name.endswith(".ipynb"):
            text = "".join("".join(cell["source"]) + "\n" for cell in json.loads(text)["cells"]
                           if cell["cell_type"] == "code")
        for line in text.splitlines():
            line = line.strip()
            if line.startswith(("from keras_seg.", "import keras_seg.")):
                module = line.split()[1]
                if not module.startswith(allowed):
                    offences.append(f"{name}: {line}")
    assert not offences, "\n".join(offences)
