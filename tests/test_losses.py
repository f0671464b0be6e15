"""Dice, focal, Lovasz-Softmax and Tversky losses against smp 0.6.0; sums; the loss setting."""

import json
import re

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_seg
from keras_seg.errors import ParameterError
from keras_seg.losses import (
    DiceLoss,
    FocalLoss,
    LossSum,
    LovaszSoftmaxLoss,
    MaskedSparseCrossEntropy,
    TverskyLoss,
    make_loss,
)

from smp_losses import smp_losses

C, IGNORE = 4, 255


def _batch(seed=0, absent=None, scale=2.0):
    """Random logits (2, 7, 9, C) and labels with some pixels ignored (and a class absent)."""
    rng = np.random.default_rng(seed)
    logits = (scale * rng.normal(size=(2, 7, 9, C))).astype("float32")
    labels = rng.integers(0, C, (2, 7, 9))
    if absent is not None:
        labels[labels == absent] = (absent + 1) % C
    labels[rng.uniform(size=labels.shape) < 0.2] = IGNORE
    return logits, labels


#: (keras-seg loss, the smp loss that it equals), both made from class weights or None.
CASES = {
    "dice": (lambda w: DiceLoss(C, IGNORE, class_weights=w),
             lambda smp, w: smp.dice.DiceLoss("multiclass", ignore_index=IGNORE,
                                              class_weights=w)),
    "focal": (lambda w: FocalLoss(C, IGNORE, class_weights=w),
              lambda smp, w: smp.focal.FocalLoss("multiclass", ignore_index=IGNORE,
                                                 class_weights=w)),
    "focal gamma 1 alpha 0.25": (
        lambda w: FocalLoss(C, IGNORE, gamma=1.0, alpha=0.25, class_weights=w),
        lambda smp, w: smp.focal.FocalLoss("multiclass", alpha=0.25, gamma=1.0,
                                           ignore_index=IGNORE, class_weights=w)),
    "lovasz": (lambda w: LovaszSoftmaxLoss(C, IGNORE),
               lambda smp, w: smp.lovasz.LovaszLoss("multiclass", per_image=False,
                                                    ignore_index=IGNORE)),
    "tversky": (lambda w: TverskyLoss(C, IGNORE, class_weights=w),
                lambda smp, w: smp.tversky.TverskyLoss("multiclass", ignore_index=IGNORE,
                                                       class_weights=w)),
    "tversky 0.3 0.7 gamma 1.5": (
        lambda w: TverskyLoss(C, IGNORE, alpha=0.3, beta=0.7, gamma=1.5, class_weights=w),
        lambda smp, w: smp.tversky.TverskyLoss("multiclass", ignore_index=IGNORE, alpha=0.3,
                                               beta=0.7, gamma=1.5, class_weights=w)),
}


def _smp_value(smp_loss, logits, labels):
    import torch

    return float(smp_loss(torch.from_numpy(logits).permute(0, 3, 1, 2),
                          torch.from_numpy(labels).long()))


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_loss_equals_smp_with_ignore_index(name):
    smp = smp_losses()
    ours, theirs = CASES[name]
    weights = None if name.startswith("lovasz") else [0.5, 2.0, 1.0, 3.0]
    for seed, absent, class_weights in ((0, None, None), (1, 2, None), (2, 0, weights),
                                        (3, None, weights)):
        logits, labels = _batch(seed, absent)
        expected = _smp_value(theirs(smp, class_weights), logits, labels)
        value = float(ours(class_weights)(labels, logits))
        assert value == pytest.approx(expected, abs=1e-4), (name, seed, absent, class_weights)


def test_losses_on_batches_smp_cannot_score():
    """All pixels ignored: 0 (smp's focal gives NaN there); logits of the wrong width refused."""
    logits, labels = _batch()
    labels[:] = IGNORE
    for loss in (DiceLoss(C), FocalLoss(C), LovaszSoftmaxLoss(C), TverskyLoss(C)):
        assert float(loss(labels, logits)) == 0.0
        with pytest.raises(ValueError, match="logits of 4 classes, expected num_classes=3"):
            type(loss)(3)(labels, logits)


@pytest.mark.parametrize("spec", ["ce", "dice", "focal", "lovasz", "tversky", "ce+dice",
                                  "focal+lovasz"])
def test_gradients_are_finite_and_mixed_precision_computes_in_float32(spec):
    logits, labels = _batch(4)
    loss = make_loss(spec, C, IGNORE)
    variable = tf.Variable(logits)
    with tf.GradientTape() as tape:
        value = loss(labels, variable)
    gradient = tape.gradient(value, variable).numpy()
    assert np.isfinite(gradient).all() and np.abs(gradient).sum() > 0
    assert not gradient[labels == IGNORE].any()  # ignored pixels: no gradient
    half = logits.astype("float16")
    value16 = loss(labels, half)
    assert value16.dtype == "float32"
    assert float(value16) == pytest.approx(float(loss(labels, half.astype("float32"))),
                                           abs=1e-6)


def test_ignored_pixels_do_not_matter():
    logits, labels = _batch(5)
    changed = logits.copy()
    changed[labels == IGNORE] = 50.0
    for loss in (DiceLoss(C), FocalLoss(C), LovaszSoftmaxLoss(C), TverskyLoss(C)):
        assert float(loss(labels, changed)) == pytest.approx(float(loss(labels, logits)),
                                                             abs=1e-6)


@pytest.mark.parametrize("loss", [
    DiceLoss(C, 7, class_weights=[1, 2, 3, 4]), FocalLoss(C, None, gamma=1.5, alpha=0.3),
    LovaszSoftmaxLoss(C, IGNORE), TverskyLoss(C, IGNORE, alpha=0.2, beta=0.8, gamma=2.0),
    make_loss("ce+dice+lovasz", C, IGNORE)], ids=lambda loss: loss.name)
def test_config_round_trip_by_registered_name(loss):
    logits, labels = _batch(6)
    restored = keras.losses.deserialize(json.loads(json.dumps(keras.losses.serialize(loss))))
    assert type(restored) is type(loss) and restored.get_config() == loss.get_config()
    assert float(restored(labels, logits)) == pytest.approx(float(loss(labels, logits)), 1e-6)


def test_make_loss_names_and_refusals():
    assert isinstance(make_loss(None, C), MaskedSparseCrossEntropy)
    assert isinstance(make_loss("lovasz", C), LovaszSoftmaxLoss)
    both = make_loss("ce + tversky", C, 9, class_weights=[1, 2, 3, 4])
    assert isinstance(both, LossSum) and [type(t) for t in both.losses] == [
        MaskedSparseCrossEntropy, TverskyLoss]
    assert all(t.ignore_label == 9 and t.class_weights == [1, 2, 3, 4] for t in both.losses)
    logits, labels = _batch(7)
    assert float(both(labels, logits)) == pytest.approx(
        sum(float(t(labels, logits)) for t in both.losses), 1e-6)
    with pytest.raises(ParameterError) as refused:
        make_loss("ce+bogus", C)
    assert str(refused.value) == ("loss must be one of ce, dice, focal, lovasz, tversky or a "
                                  "sum of them such as ce+dice, got 'ce+bogus'")
    with pytest.raises(ParameterError, match=r"loss 'dice\+dice' names a loss twice"):
        make_loss("dice+dice", C)
    with pytest.raises(ParameterError, match="the lovasz loss takes no class weights"):
        make_loss("ce+lovasz", C, class_weights=[1, 1, 1, 1])
    assert keras_seg.losses.make_loss is make_loss


def test_a_weight_map_weights_the_cross_entropy_term_only():
    logits, labels = _batch(8)
    weight_map = np.random.default_rng(8).uniform(0.5, 3.0, labels.shape).astype("float32")
    ce, dice = MaskedSparseCrossEntropy(IGNORE), DiceLoss(C, IGNORE)
    total = LossSum([ce, dice])(labels, logits, sample_weight=weight_map)
    assert float(total) == pytest.approx(
        float(ce(labels, logits, sample_weight=weight_map)) + float(dice(labels, logits)), 1e-6)
    with pytest.raises(ValueError, match="DiceLoss is one value for the whole batch"):
        dice(labels, logits, sample_weight=weight_map)
    # through Keras's compile, as the trainer's U-Net weight maps arrive
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((7, 9, 3)), keras.layers.Conv2D(C, 1)])
    model.compile(loss=make_loss("ce+dice", C, IGNORE))
    x = np.random.default_rng(9).normal(size=(2, 7, 9, 3)).astype("float32")
    compiled = model.evaluate(x, labels, sample_weight=weight_map, batch_size=2, verbose=0)
    predicted = model(x)
    assert compiled == pytest.approx(float(ce(labels, predicted, sample_weight=weight_map))
                                     + float(dice(labels, predicted)), 1e-5)


def test_training_with_a_sum_under_mixed_precision_resumes_with_its_loss(tmp_path):
    from keras_seg.samples import write_shapes_dataset
    from keras_seg.training.checkpoints import read_state
    from keras_seg.training.trainer import train

    data = write_shapes_dataset(tmp_path / "data", 4, 32, 32, seed=1)
    settings = {"num_classes": 4, "checkpoint_dir": tmp_path / "ckpt", "crop_size": 32,
                "batch_size": 4, "model_args": {"widths": (4, 8, 8, 8, 8, 16)},
                "mixed_precision": True, "verbose": 0, "tensorboard": False}
    try:
        model, history = train("fcn8s", data, epochs=1, loss="ce+dice", **settings)
        assert isinstance(model.loss, LossSum) and np.isfinite(history.history["loss"]).all()
        assert read_state(tmp_path / "ckpt")["plan"]["loss"] == "ce+dice"
        with pytest.raises(ParameterError, match="started with loss 'ce\\+dice', not 'dice'"):
            train("fcn8s", data, epochs=2, resume=True, loss="dice", **settings)
        model, _ = train("fcn8s", data, epochs=2, resume=True, **settings)  # the checkpoint's
        assert isinstance(model.loss, LossSum)
        assert [type(t) for t in model.loss.losses] == [MaskedSparseCrossEntropy, DiceLoss]
        assert read_state(tmp_path / "ckpt")["plan"]["loss"] == "ce+dice"
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_a_region_loss_is_the_segmentation_term_of_adversarial_training():
    from keras_seg.models.discriminators import build_adversary
    from keras_seg.training.adversarial import AdversarialTrainer

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (4, 16, 16, 3)).astype("float32")
    y = (x[..., 0] > 128).astype("int32") + (x[..., 1] > 180)
    y[:, :2, :2] = IGNORE

    def segmenter():
        keras.utils.set_random_seed(0)
        return keras_seg.build("segnet_basic", num_classes=3, width=4)

    loss = make_loss("lovasz+focal", 3, IGNORE)
    trainer = AdversarialTrainer(segmenter(), build_adversary("small_fov_light", 3, "basic"),
                                 adv_weight=0.1)
    trainer.compile(optimizer=keras.optimizers.SGD(0.0), adversary_optimizer="sgd", loss=loss)
    logs = trainer.fit(x, y, batch_size=4, epochs=1, verbose=0).history
    expected = float(loss(y, segmenter()(x, training=True)))
    assert logs["segmentation_loss"][0] == pytest.approx(expected, rel=1e-4)
    assert np.isfinite(logs["adversarial_loss"]).all()


def test_a_loss_setting_gives_its_parameters():
    from keras_seg.training.config import TrainConfig
    from keras_seg.training.losses import make_loss

    rng = np.random.default_rng(4)
    labels = rng.integers(0, 3, (2, 5, 6))
    logits = rng.normal(size=(2, 5, 6, 3)).astype("float32")
    focal = make_loss("focal:gamma=3", num_classes=3)
    assert float(focal(labels, logits)) == pytest.approx(
        float(FocalLoss(3, gamma=3.0)(labels, logits)), rel=1e-6)
    both = make_loss("ce + tversky:alpha=0.3, beta=0.7", num_classes=3)
    tversky = both.losses[1]
    assert (tversky.alpha, tversky.beta, tversky.gamma) == (0.3, 0.7, 1.0)
    for setting, message in [("dice:gamma=2", "the dice loss takes no parameters, not 'gamma'"),
                             ("tversky:delta=1", "takes alpha, beta, gamma, not 'delta'"),
                             ("focal:gamma=-1", "gamma must be a number >= 0, got '-1'"),
                             ("focal:alpha=2", "alpha must be in [0, 1], got '2'")]:
        with pytest.raises(ParameterError, match=re.escape(message)):
            TrainConfig("fcn8s", "data", num_classes=3, checkpoint_dir="c", loss=setting)


def test_a_resumed_run_keeps_the_parameters_of_its_loss():
    from keras_seg.training.checkpoints import check_same_run

    state = {"plan": {"model": "fcn8s", "num_classes": 3,
                      "loss": "ce+tversky:alpha=0.3,beta=0.7"}}
    check_same_run(state, "fcn8s", 3, loss="tversky:beta=0.7,alpha=0.3+ce")  # same, reordered
    with pytest.raises(ParameterError, match="started with loss 'ce\\+tversky:alpha=0.3"):
        check_same_run(state, "fcn8s", 3, loss="ce+tversky:alpha=0.5,beta=0.5")
