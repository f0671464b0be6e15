"""Training in mixed precision leaves Keras's global policy as it found it, even on failure."""

import keras
import pytest

from keras_seg.samples import write_shapes_dataset
from keras_seg.training.precision import precision_policy
from keras_seg.training.trainer import Trainer, train

WIDTHS = (4, 8, 8, 8, 8, 16)


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    root = tmp_path_factory.mktemp("shapes")
    write_shapes_dataset(root, 4, 48, 48, seed=1)
    return root


def _train(shapes, tmp_path):
    return train("fcn8s", shapes, num_classes=4, checkpoint_dir=tmp_path, crop_size=(32, 32),
                 batch_size=2, epochs=1, steps_per_epoch=1, mixed_precision=True,
                 model_args={"widths": WIDTHS}, verbose=0, tensorboard=False)


def test_mixed_precision_training_restores_the_global_policy(shapes, tmp_path):
    before = "mixed_bfloat16"  # not the default: restoring float32 would prove less
    with precision_policy(before):
        model, _ = _train(shapes, tmp_path)
        assert keras.mixed_precision.global_policy().name == before
    assert model.get_layer("conv1_1").compute_dtype == "float16"  # it did train in float16


def test_a_failed_training_restores_the_global_policy(shapes, tmp_path, monkeypatch):
    seen = []

    def failing_fit(self, *args, **kwargs):
        seen.append(keras.mixed_precision.global_policy().name)
        raise RuntimeError("stopped")

    monkeypatch.setattr(Trainer, "fit", failing_fit)
    with pytest.raises(RuntimeError, match="stopped"):
        _train(shapes, tmp_path)
    assert seen == ["mixed_float16"]
    assert keras.mixed_precision.global_policy().name == "float32"


def test_precision_policy_restores_after_an_exception_and_none_changes_nothing():
    with pytest.raises(ValueError), precision_policy("mixed_float16"):
        raise ValueError
    assert keras.mixed_precision.global_policy().name == "float32"
    with precision_policy(None):
        assert keras.mixed_precision.global_policy().name == "float32"
