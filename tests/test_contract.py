"""The model contract on every registered network, and the README's 'adding a network'."""

import re
from pathlib import Path

import numpy as np
import pytest

import keras_seg
from keras_seg import registry

from family_checks import check_family_contract

VGG_NARROW = (4, 8, 8, 8, 8, 16)
#: Narrow builder arguments and an accepted input size, per registered model.
CASES = {
    "fcn32s": ({"num_classes": 3, "widths": VGG_NARROW}, (45, 38)),
    "fcn16s": ({"num_classes": 3, "widths": VGG_NARROW}, (45, 38)),
    "fcn8s": ({"num_classes": 3, "widths": VGG_NARROW}, (45, 38)),
    "fcn8s_atonce": ({"num_classes": 3, "widths": VGG_NARROW}, (45, 38)),
    "dilation8_pascal_voc": ({"num_classes": 3, "widths": VGG_NARROW}, (380, 396)),
    "dilation8_camvid": ({"num_classes": 3, "widths": VGG_NARROW}, (380, 396)),
    "dilation7_kitti": ({"num_classes": 3, "widths": VGG_NARROW}, (380, 396)),
    "dilation10_cityscapes": ({"num_classes": 3, "widths": VGG_NARROW}, (380, 396)),
    "unet": ({"num_classes": 3, "widths": (4, 8, 8, 16, 16), "last_upconv": 8}, (188, 220)),
    "unet_padded": ({"num_classes": 3, "widths": (4, 8, 16, 32, 64)}, (37, 45)),
    "segnet": ({"num_classes": 3, "widths": (4, 8, 8, 8, 8)}, (45, 61)),
    "bayesian_segnet": ({"num_classes": 3, "widths": (4, 8, 8, 8, 8)}, (45, 61)),
    "segnet_basic": ({"num_classes": 3, "width": 4}, (27, 35)),
    "bayesian_segnet_basic": ({"num_classes": 3, "width": 4}, (27, 35)),
    "fc_densenet56": ({"num_classes": 3}, (37, 45)),
    "fc_densenet67": ({"num_classes": 3}, (32, 32)),
    "fc_densenet103": ({"num_classes": 3, "batch_norm": "batch"}, (32, 32)),
}


def test_every_registered_model_has_a_contract_case():
    assert set(keras_seg.list_models()) == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_family_contract(name, tmp_path):
    arguments, size = CASES[name]
    check_family_contract(name, arguments, size, tmp_path)


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
