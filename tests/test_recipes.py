"""Optimizers and schedules of the trainer: each learns, warm-up and decay have their shape."""

import keras
import numpy as np
import pytest

import keras_seg
from keras_seg.training.losses import MaskedSparseCrossEntropy
from keras_seg.training.recipes import (
    FINE_TUNING,
    FROM_SCRATCH,
    Recipe,
    WarmupSchedule,
    default_recipe,
    make_optimizer,
)


@pytest.mark.parametrize("kind", ["poly", "cosine", "constant"])
def test_schedules_warm_up_then_decay_as_written(kind):
    schedule = WarmupSchedule(0.1, kind, decay_steps=110, warmup_steps=10)
    rates = np.array([float(schedule(step)) for step in range(0, 111, 5)])
    np.testing.assert_allclose(rates[:3], [0.0, 0.05, 0.1], atol=1e-7)
    progress = (np.arange(10, 111, 5) - 10) / 100
    expected = {"poly": 0.1 * (1 - progress) ** 0.9,
                "cosine": 0.05 * (1 + np.cos(np.pi * progress)),
                "constant": np.full_like(progress, 0.1)}[kind]
    np.testing.assert_allclose(rates[2:], expected, rtol=1e-5, atol=1e-7)
    clone = WarmupSchedule.from_config(schedule.get_config())
    assert float(clone(57)) == pytest.approx(float(schedule(57)))


def test_cooldown_falls_linearly_to_zero_and_stretches_with_the_run():
    schedule = WarmupSchedule(0.1, "constant", decay_steps=100, warmup_steps=10, cooldown=0.2)
    rates = np.array([float(schedule(step)) for step in range(0, 101, 10)])
    np.testing.assert_allclose(rates, [0, .1, .1, .1, .1, .1, .1, .1, .1, .05, 0], atol=1e-7)
    schedule.decay_steps = 200  # a resumed run with twice the epochs: the last 40 steps
    assert float(schedule(150)) == pytest.approx(0.1)
    assert float(schedule(180)) == pytest.approx(0.05)
    clone = WarmupSchedule.from_config(schedule.get_config())
    assert float(clone(190)) == pytest.approx(0.025)
    assert FROM_SCRATCH.cooldown == 0.2 and FINE_TUNING.cooldown == 0
    with pytest.raises(keras_seg.InputError, match="^cooldown is a fraction"):
        Recipe(cooldown=1.0)


@pytest.mark.parametrize("optimizer,schedule", [
    ("sgd", "poly"), ("adam", "cosine"), ("adamw", "constant"), ("rmsprop", "poly"),
    ("sgd", "cosine"), ("adam", "constant"),
])  # every optimizer and every schedule
def test_every_optimizer_and_schedule_reduces_the_loss(optimizer, schedule):
    keras.utils.set_random_seed(0)
    model = keras_seg.build("segnet_basic", num_classes=3, width=4)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (4, 24, 24, 3)).astype("f4")
    y = (x[..., 0] > 128).astype("i4") + (x[..., 1] > 200)
    lr = 0.05 if optimizer == "sgd" else 3e-3
    recipe = Recipe(optimizer, lr, schedule, warmup_epochs=0.2, weight_decay=1e-4)
    model.compile(optimizer=make_optimizer(recipe, steps_per_epoch=5, epochs=4),
                  loss=MaskedSparseCrossEntropy())
    before = float(model.evaluate(x, y, verbose=0))
    model.fit(x, y, batch_size=4, epochs=20, verbose=0)
    assert float(model.evaluate(x, y, verbose=0)) < 0.95 * before


def test_weight_decay_spares_biases_and_norms():
    model = keras_seg.build("segnet_basic", num_classes=3, width=4)
    optimizer = make_optimizer(Recipe("adamw", weight_decay=1e-2), 1, 1)
    optimizer.build(model.trainable_variables)
    decayed = {v.path for v in model.trainable_variables if optimizer._use_weight_decay(v)}
    assert any(p.endswith("conv1/kernel") for p in decayed)
    assert not any(p.endswith(("bias", "gamma", "beta")) for p in decayed)


def test_defaults_fine_tune_with_sgd_and_learn_from_scratch_with_adam():
    assert default_recipe(True) == FINE_TUNING and FINE_TUNING.optimizer == "sgd"
    assert default_recipe(False) == FROM_SCRATCH and FROM_SCRATCH.optimizer == "adam"
    assert default_recipe(False, optimizer="rmsprop", learning_rate=None).learning_rate == 1e-3
    with pytest.raises(keras_seg.InputError, match="optimizer must be one of"):
        Recipe("lion")
