"""The trainer's seams: a family's trainer replaces one step, per-family recipes, modes."""

import keras
import pytest

from keras_seg.errors import InputError
from keras_seg.registry import get_spec
from keras_seg.samples import write_shapes_dataset
from keras_seg.training import trainer as trainer_module
from keras_seg.training.trainer import (
    AdversarialTraining,
    Trainer,
    register_trainer,
    train,
    trainer_class,
)

WIDTHS = (8, 16, 32, 32, 32, 64)


def _recipe(name, **settings):
    trainer = Trainer(name, "unused", num_classes=4, checkpoint_dir="unused", **settings)
    trainer.spec = get_spec(name)
    return trainer.recipe()


def test_recipes_follow_each_family_from_trained_weights_and_adam_from_scratch():
    fcn = _recipe("fcn8s", weights="fcn8s")
    assert (fcn.optimizer, fcn.learning_rate, fcn.schedule, fcn.momentum,
            fcn.weight_decay) == ("sgd", 1e-4, "constant", 0.9, 5e-4)  # FCN paper, sec. 4.3
    densenet = _recipe("fc_densenet103", weights="x.npz")
    assert (densenet.optimizer, densenet.learning_rate) == ("rmsprop", 1e-4)
    assert _recipe("unet", weights="x.caffemodel").momentum == 0.99
    for name in ("fcn8s", "unet", "segnet", "fc_densenet56"):
        scratch = _recipe(name)
        assert (scratch.optimizer, scratch.learning_rate, scratch.schedule,
                scratch.warmup_epochs) == ("adam", 1e-3, "constant", 0.0)
    changed = _recipe("fcn8s", weights="fcn8s", optimizer="adamw", learning_rate=3e-4)
    assert (changed.optimizer, changed.learning_rate, changed.momentum) == ("adamw", 3e-4, 0.9)
    with pytest.raises(InputError, match="optimizer must be one of"):
        _recipe("fcn8s", optimizer="lion")


def test_unknown_settings_are_refused_by_name(tmp_path):
    with pytest.raises(TypeError, match="unknown settings learning_rat"):
        train("fcn8s", tmp_path, num_classes=4, checkpoint_dir=tmp_path, learning_rat=1e-3)


def test_a_family_trainer_replaces_one_step_and_keeps_it_in_adversarial_mode(tmp_path,
                                                                             monkeypatch):
    monkeypatch.setattr(trainer_module, "_TRAINERS", {})
    write_shapes_dataset(tmp_path / "train", 8, 48, 48, seed=1)
    calls = []

    @register_trainer("fcn8s")
    class WithAccuracy(Trainer):
        def metrics(self):
            calls.append(type(self).__name__)
            return [*super().metrics(), keras.metrics.SparseCategoricalAccuracy(name="acc")]

    assert trainer_class("fcn8s") is WithAccuracy and trainer_class("fcn32s") is Trainer
    combined = trainer_class("fcn8s", "basic")
    assert issubclass(combined, AdversarialTraining) and issubclass(combined, WithAccuracy)
    model, history = train("fcn8s", tmp_path / "train", num_classes=4,
                           checkpoint_dir=tmp_path / "ckpt", crop_size=(48, 48), batch_size=4,
                           epochs=1, model_args={"widths": WIDTHS}, verbose=0,
                           tensorboard=False, adversarial="basic", adv_model="small_fov_light",
                           class_weights=[1.0, 2.0, 2.0, 2.0])
    assert calls == ["AdversarialWithAccuracy"]
    assert {"acc", "mean_iou", "adversary_loss", "segmentation_loss"} <= set(history.history)
    assert type(model).__name__ == "AdversarialTrainer"
