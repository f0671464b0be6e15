"""Fine-tuning end to end: loss goes down, a killed run resumes, evaluation writes JSON."""

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

import keras_seg
from keras_seg.samples import write_shapes_dataset
from keras_seg.training.checkpoints import read_state
from keras_seg.training.finetune import freeze_until, transfer_weights
from keras_seg.training.trainer import train

WIDTHS = (8, 16, 32, 32, 32, 64)


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    root = tmp_path_factory.mktemp("shapes")
    write_shapes_dataset(root / "train", 24, 64, 80, seed=1)
    write_shapes_dataset(root / "val", 4, 64, 80, seed=2)
    return root


def test_a_few_steps_reduce_the_loss(shapes, tmp_path):
    _, history = train("fcn8s", shapes / "train", val_dir=shapes / "val", num_classes=4,
                           checkpoint_dir=tmp_path, crop_size=(48, 48), batch_size=8,
                           epochs=3, learning_rate=0.01, class_weights="median",
                           model_args={"widths": WIDTHS}, verbose=0, tensorboard=False)
    losses = history.history["loss"]  # weighted and augmented: noisy from epoch to epoch
    assert np.mean(losses[-2:]) < losses[0]
    state = read_state(tmp_path)
    assert state["epoch"] == 3 and (tmp_path / state["last"]).exists()
    assert (tmp_path / "best.keras").exists() and (tmp_path / "log.csv").exists()
    assert sorted(p.name for p in tmp_path.glob("epoch-*.keras")) == ["epoch-3.keras"]


def test_mixed_precision_training(shapes, tmp_path):
    import keras

    try:
        model, history = train("fcn8s", shapes / "train", num_classes=4, checkpoint_dir=tmp_path,
                               crop_size=(48, 48), batch_size=4, epochs=1, steps_per_epoch=2,
                               mixed_precision=True, model_args={"widths": WIDTHS}, verbose=0,
                               tensorboard=False)
        assert model.get_layer("conv1_1").compute_dtype == "float16"
        assert model.get_layer("conv1_1").kernel.dtype == "float32"
        assert np.isfinite(history.history["loss"]).all()
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_transfer_to_a_new_head_and_freeze():
    source = keras_seg.build("fcn8s", widths=WIDTHS)
    target = keras_seg.build("fcn8s", num_classes=4, widths=WIDTHS)
    copied, kept = transfer_weights(source, target)
    assert "conv1_1" in copied and "fc7" in copied
    assert set(kept) == {"score_fr", "score_pool4", "score_pool3", "upscore2", "upscore_pool4",
                         "upscore8"}
    np.testing.assert_array_equal(target.get_layer("fc7").kernel.numpy(),
                                  source.get_layer("fc7").kernel.numpy())
    frozen = freeze_until(target, "pool5")
    assert frozen[-1] == "pool5" and not target.get_layer("conv5_3").trainable
    assert target.get_layer("fc6").trainable
    with pytest.raises(ValueError, match="no layer 'pool9'"):
        freeze_until(target, "pool9")


def test_fine_tune_from_a_file_of_ones_own_with_other_classes(tmp_path, capsys):
    """A checkpoint of 4 classes starts a 3-class run: the trunk loads, the head is new."""
    import keras

    from keras_seg.convert.load import load_matching
    from keras_seg.errors import ConversionError
    from keras_seg.training.config import TrainConfig
    from keras_seg.training.finetune import zero_new_classifier
    from keras_seg.training.recipes import make_optimizer
    from keras_seg.training.trainer import Trainer

    trainers = []

    def built(name, weights, **arguments):
        config = TrainConfig(name, "data", num_classes=3, checkpoint_dir=str(tmp_path / "c"),
                             weights=str(weights), model_args=arguments)
        trainers.append(Trainer(config))
        return trainers[-1].build_model()

    source = keras_seg.build("fcn8s", num_classes=4, widths=WIDTHS)
    source.save(tmp_path / "mine.keras")
    model = built("fcn8s", tmp_path / "mine.keras", widths=WIDTHS)
    np.testing.assert_array_equal(model.get_layer("fc7").kernel.numpy(),
                                  source.get_layer("fc7").kernel.numpy())
    fresh = keras_seg.build("fcn8s", num_classes=3, widths=WIDTHS)
    for name in ("score_fr", "upscore8"):  # zero and bilinear starts, as built
        np.testing.assert_array_equal(model.get_layer(name).kernel.numpy(),
                                      fresh.get_layer(name).kernel.numpy())
    assert capsys.readouterr().out == (
        f"from {tmp_path / 'mine.keras'}: score_fr, upscore2, score_pool4, upscore_pool4, "
        "score_pool3, upscore8 start afresh for 3 classes\n")

    # a classifier drawn at random starts at zero, as FCN's score layers do, and learns
    segnet = keras_seg.build("segnet_basic", num_classes=4, width=8)
    segnet.save_weights(tmp_path / "segnet.weights.h5")
    model = built("segnet_basic", tmp_path / "segnet.weights.h5", width=8)
    assert not model.get_layer("conv_classifier").kernel.numpy().any()
    assert capsys.readouterr().out.endswith("start afresh for 3 classes (conv_classifier at "
                                            "zero)\n")
    np.testing.assert_array_equal(model.get_layer("conv_decode1").kernel.numpy(),
                                  segnet.get_layer("conv_decode1").kernel.numpy())
    # the new layer learns at ten times the recipe's rate (SegNet's solver: SGD 1e-3)
    trainer = trainers[-1]
    assert trainer.new_layers == ("conv_classifier",)
    optimizer = make_optimizer(trainer.recipe(), 1, 1, trainer.new_layers)
    assert (type(optimizer).__name__, optimizer.layer_rates) == (
        "FanInSGD", {"conv_classifier": 10.0})
    import tensorflow as tf

    x = np.random.default_rng(0).normal(size=(1, 32, 32, 3)).astype("float32")
    with tf.GradientTape() as tape:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(
            np.ones((1, 32, 32)), model(x, training=True))
    kernel = model.get_layer("conv_classifier").kernel
    assert np.abs(tape.gradient(loss, kernel.value)).max() > 0
    # DilatedNet's final feeds the context module's ReLUs: at zero it would never learn
    dilation = keras_seg.build("dilation8_camvid", num_classes=3, widths=(4, 8, 8, 8, 8, 16))
    assert zero_new_classifier(dilation, ["final", "ctx_conv1_1", "ctx_final"]) is None

    # a trunk that does not fit is refused, naming the layer; nothing is loaded
    other = keras_seg.build("fcn8s", num_classes=3, widths=(*WIDTHS[:-1], 32))
    before = other.get_layer("conv1_1").kernel.numpy()
    with pytest.raises(ConversionError, match=r"(?s)not of this network.*layer fc6: .* should "
                                              r"have shape \(7, 7, 32, 32\), found \(7, 7, "
                                              r"32, 64\)"):
        load_matching(other, tmp_path / "mine.keras", 3)
    np.testing.assert_array_equal(other.get_layer("conv1_1").kernel.numpy(), before)
    with pytest.raises(ConversionError, match=r"layer conv2_1: .* should have shape"):
        load_matching(other, tmp_path / "segnet.weights.h5", 3)  # another network


def _train_command(shapes, ckpt, epochs, *extra):
    return [sys.executable, "-m", "keras_seg.cli", "train", "fcn8s", str(shapes / "train"),
            "--num-classes", "4", "--checkpoint-dir", str(ckpt), "--epochs", str(epochs),
            "--batch-size", "4", "--crop-size", "48", "--lr", "0.01",
            "--steps-per-epoch", "3", "--model-arg", f"widths={WIDTHS}", *extra]


def test_killed_run_resumes_from_its_last_checkpoint(shapes, tmp_path):
    """Killed while epoch 2's checkpoint is written (its file complete under the partial
    name): epoch 1 is kept, the partial file never trusted, and the run resumes.

    A kill between two saves leaves the same state without the partial file: nothing is
    written between checkpoints.
    """
    ckpt = tmp_path / "ckpt"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    script = os.path.join(os.path.dirname(__file__), "scripts", "train_killed.py")
    killed = subprocess.run([sys.executable, script, str(shapes / "train"), str(ckpt)],
                            env=env, capture_output=True, text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    state = read_state(ckpt)
    assert state["epoch"] == 1 and (ckpt / state["last"]).exists()
    assert not (ckpt / "epoch-2.keras").exists()  # a partial file may remain, never named
    from keras_seg import cli

    assert cli.main(_train_command(shapes, ckpt, 3, "--resume")[3:]) == 0
    resumed = read_state(ckpt)
    assert resumed["epoch"] == 3
    log = (ckpt / "log.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in log[1:]] == ["0", "1", "2"]  # CSV epochs count on
    import keras

    model = keras.saving.load_model(ckpt / resumed["last"])
    assert model.optimizer.iterations.numpy() == 3 * 3


def test_evaluate_writes_the_scores(shapes, tmp_path, capsys):
    from keras_seg import cli

    model = keras_seg.build("fcn8s", num_classes=4, widths=WIDTHS)
    model.save_weights(tmp_path / "m.weights.h5")
    out = tmp_path / "scores.json"
    assert cli.main(["evaluate", "fcn8s", str(shapes / "val"), "--weights",
                     str(tmp_path / "m.weights.h5"), "--num-classes", "4", "--json", str(out),
                     "--model-arg", f"widths={WIDTHS}"]) == 0
    result = json.loads(out.read_text())
    assert result["images"] == 4 and len(result["confusion"]) == 4
    assert "mean_iou" in capsys.readouterr().out


def _free_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_workers_finish_an_epoch_with_identical_weights(shapes, tmp_path):
    """Adversarial training, whose step is keras-seg's own, on two workers of a cluster.

    Both trainers run the same distributed loop under ``multiworker`` (Keras's ``fit`` fails
    there) with the strategy's scope, data and checkpoints; the adversarial one adds its own
    step, and the mirrored strategy on one machine shares all of it but the cluster.
    """
    import keras

    workers = [f"127.0.0.1:{_free_port()}" for _ in range(2)]
    script = os.path.join(os.path.dirname(__file__), "scripts", "train_mirrored.py")
    processes = []
    for index in range(2):
        config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        env = {**os.environ, "TF_CONFIG": json.dumps(config), "TF_CPP_MIN_LOG_LEVEL": "3"}
        processes.append(subprocess.Popen(
            [sys.executable, script, str(shapes / "train"), str(tmp_path), "multiworker",
             "adversarial"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outputs = [p.communicate(timeout=300) for p in processes]
    for process, (_, err) in zip(processes, outputs):
        assert process.returncode == 0, err[-2000:]
    results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    assert [r["replicas"] for r in results] == [2, 2]
    assert results[0]["loss"] == results[1]["loss"]
    chief, other = read_state(tmp_path), read_state(tmp_path / "worker-1")
    keras_seg.registration.register_with_keras()  # the classes the checkpoints name
    assert chief["epoch"] == other["epoch"] == 2
    a = keras.saving.load_model(tmp_path / chief["last"])
    b = keras.saving.load_model(tmp_path / "worker-1" / other["last"])
    for x, y in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(x, y)
