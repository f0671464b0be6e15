"""Training recipes: optimizer, learning-rate schedule with warm-up, weight decay.

A :class:`Recipe` says how a model is optimised; :func:`default_recipe` picks one that
learns: fine-tuning from trained weights follows the family's paper (``ModelSpec.recipe``;
else SGD with momentum 0.9 and the poly schedule, as FCN, DilatedNet and DeepLab train),
the layers that start afresh for a new class count learning at ten times its rate, as
Caffe's fine-tuning nets set ``lr_mult`` on new layers (FC-DenseNet56's RMSprop at 1e-4
left a new head 0.004 mIoU behind a plain Adam fit in 10 epochs, and level with it at
ten times the rate on the head);
training from random weights on custom data uses Adam at a constant 1e-3 without warm-up,
falling linearly to zero over the last fifth of the run (without that cool-down FCN-8s
ended 0.003 mIoU below the plain loop; with it 0.988 against 0.985 over 3 seeds).
A cosine decay or a warm-up kept short runs on the plateau of "all background" that the
plain loop leaves (held-out mIoU after 48 steps of a narrow FCN-8s: cosine 0.21, cosine
with warm-up 0.21, constant with one epoch of warm-up 0.34, constant 0.54 to 0.58, plain
``fit`` with Adam 1e-3 0.46); ``benchmarks/train_defaults.py`` compares every family over
seeds. From scratch, kernels reading more than 576 inputs learn at a rate scaled down by
their fan-in (:mod:`keras_seg.training.optimizers`): at full width, Adam at 1e-3 made
FCN-8s diverge in its first steps. Weight decay never touches biases or normalisation
parameters.
"""

from dataclasses import dataclass, replace

import keras

from keras_seg.choices import OPTIMIZERS, SCHEDULES
from keras_seg.training.config import check_choice, check_recipe_values, check_scale
from keras_seg.training.optimizers import SCALED

#: The Keras class of each optimizer name.
PLAIN = {"sgd": keras.optimizers.SGD, "adam": keras.optimizers.Adam,
         "adamw": keras.optimizers.AdamW, "rmsprop": keras.optimizers.RMSprop}
#: Variables that weight decay leaves alone: biases and normalisation scales and shifts.
NO_DECAY = ("bias", "gamma", "beta", "moving_mean", "moving_variance")


@dataclass(frozen=True)
class Recipe:
    """How a model is optimised.

    Attributes:
        optimizer: ``"sgd"`` (with momentum), ``"adam"``, ``"adamw"`` or ``"rmsprop"``.
        learning_rate: peak learning rate.
        schedule: ``"poly"`` (power 0.9 to zero), ``"cosine"`` (to zero) or ``"constant"``.
        warmup_epochs: epochs of linear warm-up from zero (fractions allowed).
        cooldown: fraction of the run at its end over which the rate falls linearly to
            zero (on top of ``schedule``; the "warm-up, stable, decay" shape with
            ``"constant"``); 0 for none.
        momentum: SGD momentum.
        weight_decay: decoupled weight decay (not on biases and norms); 0 for none.
        scale: range of the random rescaling of the training crops (when the
            augmentation leaves it open).
        fan_in_reference: with Adam, AdamW or RMSprop, each kernel reading more inputs
            than this learns at the rate times ``fan_in_reference / fan_in``
            (:mod:`keras_seg.training.optimizers`); 0 for the plain optimizer.
        new_layer_rate: in fine-tuning, the factor on the rate of the layers that start
            afresh (a new head), as Caffe's fine-tuning nets give new layers ``lr_mult``
            10; 1 for none.

    Example:
        >>> Recipe("sgd", 1e-3, "poly").optimizer
        'sgd'
    """

    optimizer: str = "adam"
    learning_rate: float = 1e-3
    schedule: str = "cosine"
    warmup_epochs: float = 1.0
    cooldown: float = 0.0
    momentum: float = 0.9
    weight_decay: float = 0.0
    scale: tuple = (1.0, 1.0)
    fan_in_reference: int = 0
    new_layer_rate: float = 1.0

    def __post_init__(self):
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_choice("schedule", self.schedule, SCHEDULES)
        check_recipe_values(learning_rate=self.learning_rate,
                            warmup_epochs=self.warmup_epochs, cooldown=self.cooldown,
                            weight_decay=self.weight_decay, momentum=self.momentum,
                            new_layer_rate=self.new_layer_rate)
        check_scale(self.scale)
        if not isinstance(self.fan_in_reference, int) or self.fan_in_reference < 0:
            raise ValueError(f"fan_in_reference must be a count >= 0, got "
                             f"{self.fan_in_reference!r}")


#: From trained weights: the originals' fine-tuning practice (the family's solver replaces
#: the optimizer fields), the layers that start afresh at ten times the rate.
FINE_TUNING = Recipe("sgd", 1e-3, "poly", warmup_epochs=0.0, scale=(0.5, 2.0),
                     new_layer_rate=10.0)
#: From random weights on custom data; kernels wider than a 3x3 convolution over 64 channels
#: (576 inputs) learn more slowly in proportion, which keeps full-width networks from
#: diverging in their first steps (:mod:`keras_seg.training.optimizers`).
FROM_SCRATCH = Recipe("adam", 1e-3, "constant", warmup_epochs=0.0, cooldown=0.2,
                      fan_in_reference=576)


def default_recipe(pretrained, family=None, **changes):
    """The recipe for a run that starts from published weights or from random ones.

    Args:
        pretrained: the run starts from trained weights.
        family: the family's fine-tuning fields (``ModelSpec.recipe``: its paper's
            solver), used from trained weights only.
        **changes: fields to set (None values keep the default).

    Example:
        >>> default_recipe(False, learning_rate=3e-4).learning_rate
        0.0003
        >>> default_recipe(True, {"optimizer": "rmsprop"}).optimizer
        'rmsprop'
    """
    base = replace(FINE_TUNING, **(family or {})) if pretrained else FROM_SCRATCH
    return replace(base, **{k: v for k, v in changes.items() if v is not None})


@keras.saving.register_keras_serializable(package="keras_seg")
class WarmupSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up over ``warmup_steps``, ``schedule``, then a linear cool-down to zero.

    The cool-down spans the last ``cooldown`` fraction of ``decay_steps``;
    ``decay_steps`` (the whole run) is kept so that a resumed run can stretch it; the
    cool-down, a fraction, stretches with it.

    Example:
        >>> schedule = WarmupSchedule(1e-3, "constant", decay_steps=100, warmup_steps=10)
        >>> round(float(schedule(5)), 6), round(float(schedule(50)), 6)
        (0.0005, 0.001)
        >>> wsd = WarmupSchedule(1e-3, "constant", decay_steps=100, cooldown=0.2)
        >>> round(float(wsd(79)), 6), round(float(wsd(90)), 6)
        (0.001, 0.0005)
    """

    def __init__(self, learning_rate, kind, decay_steps, warmup_steps=0, power=0.9,
                 cooldown=0.0):
        self.learning_rate, self.kind = float(learning_rate), kind
        self.decay_steps, self.warmup_steps = int(decay_steps), int(warmup_steps)
        self.power, self.cooldown = float(power), float(cooldown)

    def __call__(self, step):
        from keras import ops

        step = ops.cast(step, "float32")
        warmup = ops.cast(max(self.warmup_steps, 1), "float32")
        span = ops.cast(max(self.decay_steps - self.warmup_steps, 1), "float32")
        progress = ops.clip((step - self.warmup_steps) / span, 0.0, 1.0)
        if self.kind == "poly":
            rate = self.learning_rate * ops.power(1.0 - progress, self.power)
        elif self.kind == "cosine":
            rate = self.learning_rate * 0.5 * (1.0 + ops.cos(3.141592653589793 * progress))
        else:
            rate = self.learning_rate * ops.ones_like(progress)
        if self.cooldown:
            length = max(self.cooldown * self.decay_steps, 1.0)
            rate = rate * ops.clip((self.decay_steps - step) / length, 0.0, 1.0)
        if self.warmup_steps:
            rate = ops.where(step < self.warmup_steps, self.learning_rate * step / warmup, rate)
        return rate

    def get_config(self):
        return {"learning_rate": self.learning_rate, "kind": self.kind,
                "decay_steps": self.decay_steps, "warmup_steps": self.warmup_steps,
                "power": self.power, "cooldown": self.cooldown}


def make_optimizer(recipe, steps_per_epoch, epochs, new_layers=()):
    """The Keras optimizer of ``recipe`` for a run of ``epochs`` x ``steps_per_epoch`` steps.

    ``new_layers``, the names of the layers that start afresh in a fine-tuning run, learn at
    ``recipe.new_layer_rate`` times the rate.

    Example:
        >>> optimizer = make_optimizer(FROM_SCRATCH, steps_per_epoch=10, epochs=5)
        >>> type(optimizer).__name__
        'FanInAdam'
    """
    schedule = WarmupSchedule(recipe.learning_rate, recipe.schedule, epochs * steps_per_epoch,
                              round(recipe.warmup_epochs * steps_per_epoch),
                              cooldown=recipe.cooldown)
    arguments = {"weight_decay": recipe.weight_decay} if recipe.weight_decay else {}
    if recipe.optimizer == "sgd":
        arguments["momentum"] = recipe.momentum
    elif recipe.optimizer == "adamw":
        arguments["weight_decay"] = recipe.weight_decay or 1e-4
    fan_in = 0 if recipe.optimizer == "sgd" else recipe.fan_in_reference
    layer_rates = ({name: recipe.new_layer_rate for name in new_layers}
                   if recipe.new_layer_rate != 1.0 else {})
    if fan_in or layer_rates:
        optimizer = SCALED[recipe.optimizer](schedule, fan_in_reference=fan_in,
                                             layer_rates=layer_rates, **arguments)
    else:
        optimizer = PLAIN[recipe.optimizer](schedule, **arguments)
    if recipe.weight_decay or recipe.optimizer == "adamw":
        optimizer.exclude_from_weight_decay(var_names=list(NO_DECAY))
    return optimizer
