"""Early stopping on the score (``patience``), counted across a resumption."""

import keras
import pytest

from keras_seg.errors import ParameterError
from keras_seg.samples import write_shapes_dataset
from keras_seg.training.callbacks import ScorePatience
from keras_seg.training.checkpoints import read_state
from keras_seg.training.config import TrainConfig
from keras_seg.training.trainer import train


def _epochs(callback, scores, first=0):
    """Feed ``scores`` as epochs ``first``...; the index of the epoch that stopped, or None."""
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.stop_training = False  # as Model.fit sets it
    callback.set_model(model)
    callback.on_train_begin()
    for epoch, score in enumerate(scores, first):
        callback.on_epoch_end(epoch, {"val_mean_iou": score})
        if model.stop_training:
            callback.on_train_end()
            return epoch
    return None


def test_it_stops_after_patience_epochs_without_a_higher_score(capsys):
    assert _epochs(ScorePatience("val_mean_iou", 2), [0.5, 0.6, 0.55, 0.6, 0.7]) == 3
    assert capsys.readouterr().out.strip() == (
        "stopped early after epoch 4: val_mean_iou has not improved on 0.6000 (epoch 2) "
        "for 2 epochs")
    assert _epochs(ScorePatience("val_mean_iou", 2), [0.5, 0.6, 0.55, 0.7, 0.65]) is None


def test_a_resumed_run_counts_the_epochs_before_the_kill():
    # best 0.6 at epoch 2 (1-based), killed after epoch 3: one epoch without improvement spent
    resumed = ScorePatience("val_mean_iou", 2, initial_epoch=3, best=0.6, best_epoch=2,
                            verbose=0)
    assert _epochs(resumed, [0.59, 0.61], first=3) == 3
    fresh = ScorePatience("val_mean_iou", 2, verbose=0)
    assert _epochs(fresh, [0.59, 0.58, 0.57]) == 2


def test_patience_is_checked_with_the_other_settings():
    with pytest.raises(ParameterError, match="patience must be at least 1, got 0"):
        TrainConfig("fcn8s", "d", num_classes=2, checkpoint_dir="c", patience=0)
    with pytest.raises(ParameterError, match="patience works on one machine"):
        TrainConfig("fcn8s", "d", num_classes=2, checkpoint_dir="c", patience=2,
                    strategy="multiworker")
    options = {"model_name": "fcn8s", "train_dir": "d", "num_classes": 2,
               "checkpoint_dir": "c", "patience": 3}
    assert TrainConfig.from_options(options).patience == 3


def test_a_run_whose_score_stalls_stops_and_records_its_best_epoch(tmp_path, capsys):
    data = write_shapes_dataset(tmp_path / "data", 4, 32, 32, seed=1)
    _, history = train("fcn8s", data, num_classes=4, checkpoint_dir=tmp_path / "ckpt",
                       epochs=5, batch_size=4, crop_size=32, learning_rate=1e-12,
                       patience=1, model_args={"widths": (4, 8, 8, 8, 8, 16)}, verbose=1,
                       tensorboard=False)
    state = read_state(tmp_path / "ckpt")
    assert len(history.history["loss"]) == 2 and state["epoch"] == 2
    assert state["best_epoch"] == 1  # the same score again is no improvement
    assert "stopped early after epoch 2: mean_iou has not improved" in capsys.readouterr().out
