"""Adversarial training (Luc et al. 2016): inputs against NumPy, steps, lambda 0, resume."""

import keras
import numpy as np
import pytest

import keras_seg
from keras_seg.models.discriminators import build_adversary
from keras_seg.training.adversarial import AdversarialTrainer, adversary_inputs
from keras_seg.training.losses import MaskedSparseCrossEntropy

C = 3


def _data(n=4, size=16, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 255, (n, size, size, 3)).astype("f4")
    y = (x[..., 0] > 128).astype("i4") + (x[..., 1] > 180)
    y[:, :2, :2] = 255  # some ignored pixels
    return x, y


def _segmenter(seed=0):
    keras.utils.set_random_seed(seed)
    return keras_seg.build("segnet_basic", num_classes=C, width=4)  # no dropout


def _trainer(segmenter, kind="basic", adv_weight=0.1, adversary="small_fov_light",
             optimizer=lambda: keras.optimizers.SGD(0.01)):
    trainer = AdversarialTrainer(segmenter, build_adversary(adversary, C, kind),
                                 input_kind=kind, adv_weight=adv_weight)
    trainer.compile(optimizer=optimizer(), adversary_optimizer=optimizer(),
                    loss=MaskedSparseCrossEntropy())
    return trainer


def test_product_and_scaling_inputs_equal_numpy():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 4, 5, C)).astype("f4")
    p = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    labels = rng.integers(0, C, (2, 4, 5))
    valid = rng.uniform(size=(2, 4, 5)) > 0.2
    one_hot = np.eye(C, dtype="f4")[labels] * valid[..., None]
    image = rng.uniform(0, 255, (2, 4, 5, 3)).astype("f4")
    fake, real = (np.asarray(a) for a in adversary_inputs("scaling", p, one_hot, image, valid))
    s = (p * np.eye(C)[labels]).sum(-1, keepdims=True)
    top = np.maximum(0.9, s)
    expected = np.where(np.eye(C)[labels] == 1, top, p * (1 - top) / (1 - s)) * valid[..., None]
    np.testing.assert_allclose(real, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fake, p * valid[..., None], rtol=1e-6)
    np.testing.assert_allclose(real.sum(-1)[valid], 1, rtol=1e-5)
    fake, real = (np.asarray(a) for a in adversary_inputs("product", p, one_hot, image, valid))
    norm = (image - image.mean((1, 2), keepdims=True)) / (image.std((1, 2), keepdims=True)
                                                          + 1e-6)
    for c in range(C):
        for k in range(3):
            np.testing.assert_allclose(fake[..., 3 * c + k],
                                       p[..., c] * valid * norm[..., k], rtol=1e-4, atol=1e-5)
            np.testing.assert_allclose(real[..., 3 * c + k],
                                       one_hot[..., c] * norm[..., k], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kind,adversary", [("basic", "small_fov_light"),
                                            ("product", "large_fov_light"),
                                            ("scaling", "stanford_background")])
def test_one_step_changes_both_networks(kind, adversary):
    x, y = _data()
    trainer = _trainer(_segmenter(), kind, adversary=adversary)
    before = [w.copy() for w in trainer.segmenter.get_weights()]
    before_adversary = [w.copy() for w in trainer.adversary.get_weights()]
    logs = trainer.fit(x, y, batch_size=4, epochs=1, verbose=0).history
    assert {"segmentation_loss", "adversarial_loss", "adversary_loss",
            "adversary_accuracy"} <= set(logs)
    assert any(not np.allclose(a, b) for a, b in zip(before, trainer.segmenter.get_weights()))
    assert any(not np.allclose(a, b)
               for a, b in zip(before_adversary, trainer.adversary.get_weights()))


def test_lambda_zero_is_plain_training_step_for_step():
    x, y = _data()
    plain = _segmenter()
    plain.compile(optimizer=keras.optimizers.SGD(0.01), loss=MaskedSparseCrossEntropy())
    plain.fit(x, y, batch_size=2, epochs=2, verbose=0, shuffle=False)
    trainer = _trainer(_segmenter(), adv_weight=0.0)
    trainer.fit(x, y, batch_size=2, epochs=2, verbose=0, shuffle=False)
    for a, b in zip(plain.get_weights(), trainer.segmenter.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_the_adversary_learns_against_a_frozen_segmenter():
    x, y = _data(n=8)
    trainer = _trainer(_segmenter(), adv_weight=0.0)
    trainer.segmenter.trainable = False
    trainer.adversary_optimizer = keras.optimizers.Adam(1e-3)
    history = trainer.fit(x, y, batch_size=8, epochs=15, verbose=0).history
    losses = history["adversary_loss"]
    assert losses[-1] < 0.5 * losses[0] and history["adversary_accuracy"][-1] > 0.9


def test_saved_and_reloaded_training_continues_like_an_uninterrupted_run(tmp_path):
    x, y = _data()
    adam = lambda: keras.optimizers.Adam(1e-3)  # noqa: E731  (state that must survive)
    straight = _trainer(_segmenter(), kind="scaling", optimizer=adam)
    keras.utils.set_random_seed(5)
    expected = straight.fit(x, y, batch_size=4, epochs=3, verbose=0).history["adversary_loss"]
    first = _trainer(_segmenter(), kind="scaling", optimizer=adam)
    keras.utils.set_random_seed(5)
    first.fit(x, y, batch_size=4, epochs=1, verbose=0)
    first.save(tmp_path / "adversarial.keras")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Skipping variable loading for optimizer" included
        resumed = keras.saving.load_model(tmp_path / "adversarial.keras")
    for name in ("optimizer", "adversary_optimizer"):  # both optimizers' state came back
        saved, loaded = getattr(first, name), getattr(resumed, name)
        assert int(loaded.iterations) == int(saved.iterations) > 0
        for a, b in zip(saved.variables, loaded.variables):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert isinstance(resumed, AdversarialTrainer) and resumed.input_kind == "scaling"
    later = resumed.fit(x, y, batch_size=4, epochs=2, verbose=0).history["adversary_loss"]
    np.testing.assert_allclose(later, expected[1:], rtol=1e-4)


def test_keras_seg_train_adversarial_then_predict_with_its_checkpoint(tmp_path, capsys):
    from PIL import Image

    from keras_seg import cli
    from keras_seg.samples import write_shapes_dataset

    data = write_shapes_dataset(tmp_path / "data", 8, 40, 40, seed=2)
    argv = ["train", "segnet_basic", str(data), "--num-classes", "4", "--checkpoint-dir",
            str(tmp_path / "ckpt"), "--epochs", "2", "--batch-size", "4", "--crop-size", "32",
            "--model-arg", "width=4", "--adversarial", "product", "--adv-weight", "0.5",
            "--adv-model", "small_fov"]
    assert cli.main(argv) == 0
    log = (tmp_path / "ckpt" / "log.csv").read_text().splitlines()
    assert "adversary_loss" in log[0] and len(log) == 3
    image = next((data / "images").iterdir())
    assert cli.main(["predict", str(tmp_path / "ckpt" / "best.keras"), str(image),
                     "--out", str(tmp_path / "labels.png")]) == 0
    assert np.asarray(Image.open(tmp_path / "labels.png")).shape == (40, 40)
    with pytest.raises(SystemExit) as refused:  # argparse refuses an unknown adversary
        cli.main([*argv[:-2], "--adv-model", "big_fov"])
    assert refused.value.code == 2


def test_mixed_precision_updates_follow_float32_with_both_losses_scaled():
    x, y = _data(n=8)
    updates = {}
    for policy in ("float32", "mixed_float16"):
        keras.mixed_precision.set_global_policy(policy)
        try:
            trainer = _trainer(_segmenter(), adv_weight=0.5)
            segmenter, adversary = trainer.segmenter.get_weights(), trainer.adversary.get_weights()
            trainer.fit(x, y, batch_size=2, epochs=1, verbose=0, shuffle=False)
            updates[policy] = [
                np.linalg.norm(np.concatenate([(a - b).ravel() for a, b in zip(after, before)]))
                for after, before in ((trainer.segmenter.get_weights(), segmenter),
                                      (trainer.adversary.get_weights(), adversary))]
            if policy == "mixed_float16":
                assert trainer.segmenter.get_layer("conv1").compute_dtype == "float16"
                for optimizer in (trainer.optimizer, trainer.adversary_optimizer):
                    assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
        finally:
            keras.mixed_precision.set_global_policy("float32")
    # unscaled float16 gradients would be divided by the loss scale (2**15): updates ~0
    for half, full in zip(updates["mixed_float16"], updates["float32"]):
        assert 0.3 < half / full < 3, updates


def test_class_weights_weigh_the_segmentation_term():
    x, y = _data()

    def confident_segmenter():  # far from uniform, so that weighting changes the loss
        segmenter = _segmenter()
        classifier = segmenter.layers[-1]
        classifier.kernel.assign(classifier.kernel * 50.0)
        return segmenter

    losses = []
    for weights in (None, [1.0, 5.0, 1.0]):
        trainer = AdversarialTrainer(confident_segmenter(),
                                     build_adversary("small_fov_light", C, "basic"),
                                     adv_weight=0.1)
        trainer.compile(optimizer=keras.optimizers.SGD(0.0), adversary_optimizer="sgd",
                        loss=MaskedSparseCrossEntropy(class_weights=weights))
        logs = trainer.fit(x, y, batch_size=4, epochs=1, verbose=0).history
        losses.append(logs["segmentation_loss"][0])
    expected = [MaskedSparseCrossEntropy(class_weights=weights)(
        y, confident_segmenter()(x, training=True)) for weights in (None, [1.0, 5.0, 1.0])]
    np.testing.assert_allclose(losses, np.array(expected, "f4"), rtol=1e-4)
    assert abs(losses[1] - losses[0]) > 0.01 * losses[0]  # far beyond the 1e-4 agreement
