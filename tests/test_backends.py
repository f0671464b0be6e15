"""The networks under Keras's JAX and PyTorch backends give TensorFlow's outputs.

Every registered network is built here under TensorFlow (narrow, random non-zero weights,
the contract's awkward size) and its weights and outputs saved; a process per backend
(``tests/scripts/backend_check.py``, both at once) builds it again, loads the weights, runs
it, saves and reloads it as ``.keras`` (one network per builder), runs the prediction
pipeline and (FCN-8s) the ONNX export, trains a narrow
SegNet-Basic (index unpooling's gradients) and predicts with it. The TensorFlow outputs are
themselves checked against OpenCV and torch references by the family tests.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import keras_seg

from family_checks import CASES, randomise

BACKENDS = ("jax", "torch")
SCRIPT = Path(__file__).parent / "scripts" / "backend_check.py"
#: One network per builder and layout runs under the other backends: the networks that
#: differ from one of those only in sizes (FCN-16s/32s as FCN-8s, the other DilatedNets'
#: front-end and context as CamVid's and Cityscapes', Bayesian SegNet-Basic as SegNet-Basic's
#: layers, FC-DenseNet 67 and 103 as 56 with more layers) add seconds of compiling (XLA under
#: JAX) and no layer.
LEAVES_OUT = ("fcn16s", "fcn32s", "dilation8_pascal_voc", "dilation7_kitti",
              "bayesian_segnet_basic", "fc_densenet67", "fc_densenet103")
#: Networks saved as ``.keras`` and reloaded under the backend: one per builder, between them
#: every custom layer (a reload compiles once more under JAX).
RELOADED = {"fcn8s", "dilation8_camvid", "unet", "unet_padded", "segnet_basic", "fc_densenet56"}
#: Networks also run through ``keras_seg.predict`` (input convention and softmax inside).
PIPELINES = ("fcn8s", "segnet_basic")
#: float32 on other kernels: the deep DilatedNets differ by up to 1.4e-5 of their range
TOLERANCE = 2e-5


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Write the TensorFlow side, start one process per backend; yield their results."""
    pytest.importorskip("jax", reason="the jax extra is not installed (pip install .[jax])")
    pytest.importorskip("torch", reason="the torch extra is not installed (pip install .[torch])")
    work = tmp_path_factory.mktemp("backends")
    for name, (arguments, size) in CASES.items():
        if name in LEAVES_OUT:
            continue
        model = randomise(keras_seg.build(name, **arguments))
        model.save_weights(work / f"{name}.weights.h5")
        x = np.random.default_rng(1).normal(0, 20, (1, *size, model.input_shape[-1]))
        np.save(work / f"{name}-input.npy", x.astype("float32"))
        np.save(work / f"{name}-expected.npy", np.asarray(model(x.astype("float32"))))
        if name in PIPELINES:
            image = np.random.default_rng(2).integers(0, 256, (*size, 3), dtype=np.uint8)
            np.save(work / f"{name}-image.npy", image)
            _, probabilities = keras_seg.predict(model, image, return_probabilities=True)
            np.save(work / f"{name}-expected-probabilities.npy", probabilities)
    processes = {}
    for backend in BACKENDS:
        folder = work / backend
        folder.mkdir()
        names = [n for n in CASES if n not in LEAVES_OUT]
        for name in names:
            for suffix in (".weights.h5", "-input.npy", "-image.npy"):
                if (work / f"{name}{suffix}").exists():
                    os.link(work / f"{name}{suffix}", folder / f"{name}{suffix}")
        (folder / "cases.json").write_text(json.dumps({n: CASES[n][0] for n in names}))
        (folder / "reloaded.json").write_text(json.dumps(sorted(RELOADED)))
        # XLA's optimisation passes only cost compile time on these tiny networks
        env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3",
               "XLA_FLAGS": "--xla_backend_optimization_level=0",
               "CUDA_VISIBLE_DEVICES": ""}
        processes[backend] = subprocess.Popen(
            [sys.executable, str(SCRIPT), str(folder / "cases.json"), str(folder)], env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    results = {}
    for backend, process in processes.items():
        out, err = process.communicate(timeout=600)
        assert process.returncode == 0, f"{backend}: {err[-3000:]}"
        lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        results[backend] = (work, work / backend, lines)
    return results


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_network_gives_tensorflows_outputs(runs, backend):
    work, folder, lines = runs[backend]
    assert lines[0] == {"backend": backend}
    ran = [line["network"] for line in lines if "network" in line]
    assert ran == [n for n in CASES if n not in LEAVES_OUT]
    for name in ran:
        expected = np.load(work / f"{name}-expected.npy")
        got = np.load(folder / f"{name}-output.npy")
        assert got.shape == expected.shape, name
        error = np.abs(got - expected).max() / np.abs(expected).max()
        assert error < TOLERANCE, f"{name} under {backend}: relative error {error:.2e}"
        if name in RELOADED:
            np.testing.assert_allclose(np.load(folder / f"{name}-reloaded.npy"), got,
                                       rtol=1e-6, atol=1e-6,
                                       err_msg=f"{name} reloaded under {backend}")
    assert set(ran) >= RELOADED
    onnx = np.load(folder / "fcn8s-onnx.npy")  # exported under this backend
    np.testing.assert_allclose(onnx, np.load(work / "fcn8s-expected.npy"), atol=1e-4)
    for name in PIPELINES:  # the ONNX check's tolerance: these random networks' logits span
        # tens, so float32 on other kernels moves a probability near 0.5 by ~1e-5 (seen 1.03e-5)
        np.testing.assert_allclose(np.load(folder / f"{name}-probabilities.npy"),
                                   np.load(work / f"{name}-expected-probabilities.npy"),
                                   atol=1e-4, err_msg=f"predict({name}) under {backend}")


@pytest.mark.parametrize("backend", BACKENDS)
def test_training_and_prediction_run_and_tensorflow_only_parts_refuse(runs, backend):
    _, _, lines = runs[backend]
    trained = next(line for line in lines if "loss" in line)
    assert trained["loss"][-1] < trained["loss"][0], trained
    assert trained["labels"] == [61, 70]
    refused = next(line for line in lines if "refusals" in line)
    for what in ("adversarial", "strategy"):
        assert "needs Keras's TensorFlow backend" in refused["refusals"][what], refused
        assert f"KERAS_BACKEND is {backend}" in refused["refusals"][what]
    assert "run it with KERAS_BACKEND=tensorflow" in refused["refusals"]["tflite"]
    assert "adversarial" not in refused["folders"] and "mirrored" not in refused["folders"]


def test_torch_parameter_names_keep_the_layer_names():
    """Dots of the original module names are written as underscores for torch only."""
    from keras_seg.backends import torch_parameter_key

    assert torch_parameter_key("down1.maxpool_conv.1/kernel") == "down1_maxpool_conv_1/kernel"
