"""Adam, AdamW and RMSprop with each kernel's step scaled down by its fan-in; layer rates.

Adam moves every weight by about the learning rate whatever its gradient's size, so a
layer's output moves by about ``learning_rate * fan_in * |input|`` when the steps agree in
sign, as they do in the first steps from random weights. At the widths the networks were
released with that is far beyond the layer's own scale: FCN's ``fc6`` reads 7 x 7 x 512 =
25088 inputs, and a full-width FCN-8s trained from scratch with Adam at 1e-3 jumped from a
loss of 1.3 to about 4000 at its third step and stayed at "all background" (issue 20;
``benchmarks/train_defaults.py``, full width). Scaling each kernel's rate by
``min(1, fan_in_reference / fan_in)`` (the rule that keeps Adam's per-layer change of output
independent of width, as in Yang et al. 2021, "Tensor Programs V") leaves narrow layers,
where Adam at 1e-3 was measured to learn, at 1e-3, and gives ``fc6`` 2.3e-5.

The same classes (SGD's too) give named layers a factor on their rate: in a fine-tuning
run the layers that start afresh learn at ten times the recipe's rate
(:mod:`keras_seg.training.recipes`).

Example:
    >>> optimizer = FanInAdam(1e-3, fan_in_reference=576)
    >>> optimizer.get_config()["fan_in_reference"]
    576
"""

import math

import keras


def fan_in(variable):
    """The inputs one output of a kernel reads: the product of all but its last axis.

    0 for vectors (biases, normalisation parameters), which keep the full rate.

    Example:
        >>> fan_in(keras.Variable(keras.ops.zeros((7, 7, 512, 8))))
        25088
    """
    shape = tuple(variable.shape)
    return math.prod(shape[:-1]) if len(shape) >= 2 else 0


class FanInScaling:
    """Mixin for a Keras optimizer: each kernel's rate times ``min(1, reference / fan_in)``.

    ``fan_in_reference`` 0 leaves every kernel at the rate. ``layer_rates`` maps layer
    names to a factor on their variables' rates (the new layers of a fine-tuning run,
    as Caffe's ``lr_mult``); both factors multiply.
    """

    def __init__(self, *args, fan_in_reference=576, layer_rates=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fan_in_reference = int(fan_in_reference)
        self.layer_rates = {str(name): float(factor)
                            for name, factor in (layer_rates or {}).items()}

    def rate_factor(self, variable):
        """The factor on ``variable``'s rate (called while tracing, once per variable)."""
        factor, width = 1.0, fan_in(variable)
        if self.fan_in_reference and width > self.fan_in_reference:
            factor = self.fan_in_reference / width
        if self.layer_rates:
            # the step sees the backend's variable; the Keras one knows its layer
            path = self._trainable_variables[self._get_variable_index(variable)].path
            factor *= self.layer_rates.get(path.split("/")[-2] if "/" in path else "", 1.0)
        return factor

    def update_step(self, gradient, variable, learning_rate):
        factor = self.rate_factor(variable)
        if factor != 1.0:
            learning_rate = learning_rate * factor
        return super().update_step(gradient, variable, learning_rate)

    def get_config(self):
        return {**super().get_config(), "fan_in_reference": self.fan_in_reference,
                "layer_rates": dict(self.layer_rates)}


@keras.saving.register_keras_serializable(package="keras_seg")
class FanInSGD(FanInScaling, keras.optimizers.SGD):
    """:class:`keras.optimizers.SGD` with :class:`FanInScaling`'s layer rates.

    SGD's step shrinks with its gradient, so the recipes build it with
    ``fan_in_reference=0``.
    """


@keras.saving.register_keras_serializable(package="keras_seg")
class FanInAdam(FanInScaling, keras.optimizers.Adam):
    """:class:`keras.optimizers.Adam` with :class:`FanInScaling`."""


@keras.saving.register_keras_serializable(package="keras_seg")
class FanInAdamW(FanInScaling, keras.optimizers.AdamW):
    """:class:`keras.optimizers.AdamW` with :class:`FanInScaling`."""


@keras.saving.register_keras_serializable(package="keras_seg")
class FanInRMSprop(FanInScaling, keras.optimizers.RMSprop):
    """:class:`keras.optimizers.RMSprop` with :class:`FanInScaling`."""


#: The scaled class of each optimizer.
SCALED = {"sgd": FanInSGD, "adam": FanInAdam, "adamw": FanInAdamW, "rmsprop": FanInRMSprop}
