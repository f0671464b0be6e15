"""Optimizers and schedules of the trainer: each is made as asked, warm-up and decay have their
shape."""

from dataclasses import replace

import keras
import numpy as np
import pytest

import keras_seg
from keras_seg.training.optimizers import SCALED
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


#: The Keras optimizer each setting makes.
OPTIMIZER_CLASSES = {"sgd": keras.optimizers.SGD, "adam": keras.optimizers.Adam,
                     "adamw": keras.optimizers.AdamW, "rmsprop": keras.optimizers.RMSprop}


@pytest.mark.parametrize("optimizer,schedule", [
    ("sgd", "poly"), ("adam", "cosine"), ("adamw", "constant"), ("rmsprop", "poly"),
    ("sgd", "cosine"), ("adam", "constant"),
])  # every optimizer and every schedule
def test_every_optimizer_and_schedule_is_made_as_asked_and_steps_downhill(optimizer, schedule):
    """The optimizer of the setting, on the recipe's schedule, decays and descends.

    That Keras's optimizers learn is Keras's to test; what is the trainer's is which one it
    makes, with which rate, momentum and decay: a quadratic bowl shows all of them at work
    (a rate of zero, a lost schedule or a sign error would not go downhill).
    """
    recipe = Recipe(optimizer, 0.05, schedule, warmup_epochs=0.2, weight_decay=1e-4,
                    momentum=0.8)
    made = make_optimizer(recipe, steps_per_epoch=5, epochs=4)
    assert type(made) is OPTIMIZER_CLASSES[optimizer]
    config = made.get_config()
    rate = keras.saving.deserialize_keras_object(config["learning_rate"])
    assert isinstance(rate, WarmupSchedule) and (rate.kind, rate.decay_steps,
                                                 rate.warmup_steps) == (schedule, 20, 1)
    assert config["weight_decay"] == pytest.approx(1e-4)
    if optimizer == "sgd":
        assert config["momentum"] == pytest.approx(0.8)
    point = keras.Variable(np.array([3.0, -2.0, 1.0], "float32"))
    start = float(np.sum(point.numpy() ** 2))
    for _ in range(15):
        made.apply([2 * point.value], [point])  # the gradient of the squared length
    assert float(np.sum(point.numpy() ** 2)) < 0.9 * start
    assert int(made.iterations.numpy()) == 15


@pytest.mark.parametrize("optimizer", ["adam", "adamw", "rmsprop"])
def test_from_scratch_wide_kernels_take_steps_scaled_by_their_fan_in(optimizer):
    """Each kernel's step is the plain optimizer's times min(1, 576 / fan-in); vectors and
    narrow kernels take the plain step."""
    shapes = {"fc6": (7, 7, 512, 4), "conv": (3, 3, 64, 4), "dense": (1024, 4), "bias": (4,)}
    rng = np.random.default_rng(0)
    start = {name: 1e-3 * rng.normal(size=shape).astype("float32")  # small: exact differences
             for name, shape in shapes.items()}
    gradients = {name: rng.normal(size=shape).astype("float32")
                 for name, shape in shapes.items()}
    steps, made = {}, {}
    for reference in (0, 576):
        made[reference] = make_optimizer(replace(FROM_SCRATCH, optimizer=optimizer,
                                                 fan_in_reference=reference), 10, 1)
        variables = [keras.Variable(start[name], name=name) for name in shapes]
        made[reference].apply([gradients[name] for name in shapes], variables)
        steps[reference] = {v.name: v.numpy() - start[v.name] for v in variables}
    assert type(made[0]) is OPTIMIZER_CLASSES[optimizer]
    assert type(made[576]) is SCALED[optimizer]
    assert issubclass(SCALED[optimizer], OPTIMIZER_CLASSES[optimizer])
    expected = {"fc6": 576 / 25088, "conv": 1.0, "dense": 576 / 1024, "bias": 1.0}
    for name, factor in expected.items():
        assert np.abs(steps[0][name]).max() > 1e-5  # the plain optimizer moved it
        np.testing.assert_allclose(steps[576][name], steps[0][name] * factor, rtol=2e-3,
                                   atol=1e-9, err_msg=name)


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "rmsprop"])
def test_new_layers_learn_at_the_new_layer_rate(optimizer):
    """The layers named new take ``new_layer_rate`` times the step of the others, in every
    optimizer, the fan-in factor on top."""
    inputs = keras.Input((8,))
    trunk = keras.layers.Dense(700, name="trunk")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(3, name="head")(trunk))
    rng = np.random.default_rng(1)
    start = [1e-3 * rng.normal(size=v.shape).astype("float32")  # small: exact differences
             for v in model.trainable_variables]
    gradients = [rng.normal(size=v.shape).astype("float32") for v in start]
    steps = {}
    for rate in (1.0, 10.0):
        for variable, value in zip(model.trainable_variables, start):
            variable.assign(value)
        recipe = replace(FINE_TUNING, optimizer=optimizer, new_layer_rate=rate,
                         fan_in_reference=576)
        made = make_optimizer(recipe, 10, 1, new_layers=("head",))
        made.apply(gradients, model.trainable_variables)
        steps[rate] = {v.path: v.numpy() - s for v, s in zip(model.trainable_variables, start)}
    assert sorted(steps[1.0]) == ["head/bias", "head/kernel", "trunk/bias", "trunk/kernel"]
    for path, step in steps[10.0].items():
        factor = 10.0 if path.startswith("head") else 1.0
        assert np.abs(steps[1.0][path]).max() > 1e-6, path
        np.testing.assert_allclose(step, steps[1.0][path] * factor, rtol=2e-3, atol=1e-9,
                                   err_msg=path)
    if optimizer != "sgd":  # the head reads 700 inputs: 576 / 700 of the step of a plain one
        plain = make_optimizer(replace(FINE_TUNING, optimizer=optimizer), 10, 1)
        for variable, value in zip(model.trainable_variables, start):
            variable.assign(value)
        plain.apply(gradients, model.trainable_variables)
        np.testing.assert_allclose(model.get_layer("head").kernel.numpy() - start[2],
                                   steps[1.0]["head/kernel"] * 700 / 576, rtol=2e-3)


def test_a_checkpoint_keeps_the_scaled_optimizer(tmp_path):
    model = keras_seg.build("segnet_basic", num_classes=3, width=4)
    model.compile(optimizer=make_optimizer(FROM_SCRATCH, steps_per_epoch=1, epochs=1),
                  loss="sparse_categorical_crossentropy")
    x = np.zeros((1, 24, 24, 3), "float32")
    model.fit(x, np.zeros((1, 24, 24), "int32"), verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras").optimizer
    assert type(loaded).__name__ == "FanInAdam" and loaded.fan_in_reference == 576
    assert int(loaded.iterations.numpy()) == 1
    tuned = make_optimizer(replace(FINE_TUNING, new_layer_rate=10.0), 1, 1,
                           new_layers=("conv_classifier",))
    model.compile(optimizer=tuned, loss="sparse_categorical_crossentropy")
    model.fit(x, np.zeros((1, 24, 24), "int32"), verbose=0)
    model.save(tmp_path / "tuned.keras")
    loaded = keras.saving.load_model(tmp_path / "tuned.keras").optimizer
    assert type(loaded).__name__ == "FanInSGD" and loaded.fan_in_reference == 0
    assert loaded.layer_rates == {"conv_classifier": 10.0}


def test_weight_decay_spares_biases_and_norms():
    model = keras_seg.build("segnet_basic", num_classes=3, width=4)
    optimizer = make_optimizer(Recipe("adamw", weight_decay=1e-2), 1, 1)
    optimizer.build(model.trainable_variables)
    decayed = {v.path for v in model.trainable_variables if optimizer._use_weight_decay(v)}
    assert any(p.endswith("conv1/kernel") for p in decayed)
    assert not any(p.endswith(("bias", "gamma", "beta")) for p in decayed)


def test_defaults_fine_tune_with_sgd_and_learn_from_scratch_with_adam():
    assert default_recipe(True) == FINE_TUNING and FINE_TUNING.optimizer == "sgd"
    # the family's solver replaces the optimizer fields; new layers keep ten times the rate
    family = default_recipe(True, {"optimizer": "rmsprop", "learning_rate": 1e-4})
    assert (family.optimizer, family.new_layer_rate) == ("rmsprop", 10.0)
    assert default_recipe(True, new_layer_rate=1.0).new_layer_rate == 1.0
    assert FROM_SCRATCH.new_layer_rate == 1.0
    with pytest.raises(keras_seg.InputError, match="new_layer_rate must be positive"):
        Recipe(new_layer_rate=0.0)
    assert default_recipe(False) == FROM_SCRATCH and FROM_SCRATCH.optimizer == "adam"
    assert default_recipe(False, optimizer="rmsprop", learning_rate=None).learning_rate == 1e-3
    with pytest.raises(keras_seg.InputError, match="optimizer must be one of"):
        Recipe("lion")
