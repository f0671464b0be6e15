"""keras-seg's private-Keras wrappers (``keras_seg._keras_compat``) on the installed Keras.

The first test fails on a Keras upgrade: check every wrapper of ``_keras_compat`` against
the new release, then update ``KERAS_VERSION`` there and the pin in ``setup.cfg`` together.
"""

import configparser
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest

from keras_seg import _keras_compat as compat
from keras_seg.models.base import SegmentationModel


def test_the_installed_keras_is_the_one_the_compat_module_was_written_for():
    assert keras.__version__ == compat.KERAS_VERSION, (
        f"Keras {keras.__version__} is installed; keras_seg/_keras_compat.py was written for "
        f"{compat.KERAS_VERSION}: check each of its wrappers against this Keras, then update "
        "KERAS_VERSION there and the pin in setup.cfg")
    setup = configparser.ConfigParser()
    setup.read(Path(__file__).parents[1] / "setup.cfg")
    assert f"keras=={compat.KERAS_VERSION}" in setup["options"]["install_requires"].split()


def _tiny():
    x = keras.Input((4, 4, 3), name="image")
    y = keras.layers.Conv2D(2, 1, name="conv")(x)
    return SegmentationModel(x, keras.layers.ReLU(name="score")(y), name="tiny",
                             metadata={"model": "tiny"})


def test_graph_walk_wrappers():
    model = _tiny()
    assert compat.runs_graph(model) and not compat.runs_graph(keras.layers.Dense(2))
    assert compat.producing_layer(model.outputs[0]).name == "score"
    by_depth = compat.nodes_by_depth(model)
    in_order = [node.operation.name for depth in sorted(by_depth, reverse=True)
                for node in by_depth[depth]]
    assert in_order == ["image", "conv", "score"]
    called = []

    def operation_fn(layer):
        called.append(layer.name)
        return layer

    x = np.ones((1, 4, 4, 3), "float32")
    out = keras.tree.flatten(compat.run_graph(model, x, operation_fn))[0]
    np.testing.assert_allclose(np.asarray(out), np.asarray(model(x)), rtol=1e-6)
    assert called == ["conv", "score"]


def test_functional_from_config_rebuilds_the_subclass():
    model = _tiny()
    config = model.get_config()
    config.pop("metadata")
    rebuilt = compat.functional_from_config(SegmentationModel, config)
    assert type(rebuilt) is SegmentationModel and [layer.name for layer in rebuilt.layers] == [
        "image", "conv", "score"]


def test_training_wrappers():
    model = _tiny()
    schedule = keras.optimizers.schedules.PolynomialDecay(0.1, decay_steps=7)
    model.compile(optimizer=keras.optimizers.SGD(schedule), loss="mse")
    assert compat.learning_rate_schedule(model.optimizer) is schedule
    x, y = np.ones((2, 4, 4, 3), "float32"), np.full((2, 4, 4, 2), 5.0, "float32")
    compat.build_for_batch(model, (x, y))
    assert model.optimizer.built and model.built
    tracker = compat.loss_tracker(model)
    assert isinstance(tracker, keras.metrics.Metric)
    model.fit(x, y, epochs=1, verbose=0)
    assert float(tracker.result()) > 0
    loss = keras.ops.convert_to_tensor(3.0)
    assert float(compat.distribution_scaled_loss(loss)) == 3.0  # one replica
    assert float(compat.distribution_unscaled_loss(compat.distribution_scaled_loss(loss))) == 3.0


def test_snake_case_is_keras_weights_file_naming():
    assert compat.snake_case("CaffeBN") == "caffe_bn"
    assert compat.snake_case("Conv2D") == "conv2d"


def test_torch_parameter_keys_under_the_torch_backend(tmp_path):
    pytest.importorskip("torch", reason="the torch extra is not installed (pip install .[torch])")
    script = textwrap.dedent("""
        import keras
        from keras_seg._keras_compat import key_torch_parameters

        key_torch_parameters(lambda path: path.replace(".", "_"))
        x = keras.Input((3,))
        model = keras.Model(x, keras.layers.Dense(2, name="up.conv.0")(x))
        print(sorted(name for name, _ in model.named_parameters()))
    """)
    env = {**os.environ, "KERAS_BACKEND": "torch"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "up_conv_0/kernel" in result.stdout and "up.conv.0" not in result.stdout
