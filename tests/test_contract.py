"""The model contract on every registered network, and the README's 'adding a network'."""

import re
from pathlib import Path

import numpy as np
import pytest

import keras_seg
from keras_seg import registry

from family_checks import CASES, SAME_LAYERS_AS, check_family_contract


def test_every_registered_model_has_a_contract_case():
    assert set(keras_seg.list_models()) == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_family_contract(name, tmp_path):
    arguments, size = CASES[name]
    check_family_contract(name, arguments, size, tmp_path,
                          round_trip=name not in SAME_LAYERS_AS)


def test_the_readme_example_adds_a_network(tmp_path, monkeypatch):
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme[readme.index("## Adding a network"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.setattr(registry, "_MODELS", dict(registry._MODELS))  # leave no trace
    exec(compile(code, "README.md", "exec"), {"keras_seg": keras_seg})
    assert "tiny_net" in keras_seg.list_models()
    model = check_family_contract("tiny_net", {}, (20, 30), tmp_path)
    image = np.random.default_rng(0).integers(0, 256, (20, 30, 3), np.uint8)
    assert keras_seg.predict(model, image).shape == (20, 30)
