"""Adversarial training of any segmenter (Luc, Couprie, Chintala & Verbeek 2016).

"Semantic Segmentation using Adversarial Networks", https://arxiv.org/abs/1611.08408. An
adversary ``a`` learns to tell ground-truth label maps from the segmenter's; the segmenter
``s`` minimises its multi-class cross-entropy plus ``lambda`` times the adversarial term
``-log a(x, s(x))`` (the paper's non-saturating form). The two are updated in turn: ``k``
adversary steps, then one segmenter step, each with its own optimizer.

Adversary inputs (the ignore label is zeroed out of every label map):

- ``basic``: the label map alone: one-hot ground truth, softmax predictions;
- ``product``: each class map multiplied with each channel of the image (3C channels, the
  image standardised per picture and channel, at the label map's size);
- ``scaling``: the ground truth softened towards the prediction: the true class gets
  ``max(tau, s)`` where ``s`` is the predicted probability of the true class, the others
  ``s_c * (1 - max(tau, s)) / (1 - s)``; predictions as they are.

This trainer uses TensorFlow's ``GradientTape`` (the project's backend).
"""

import keras
from keras import ops

from keras_seg._keras_compat import (
    distribution_scaled_loss,
    distribution_unscaled_loss,
    loss_tracker,
)
from keras_seg.choices import ADVERSARIAL_MODES as INPUT_KINDS


def adversary_inputs(kind, probabilities, truth_one_hot, image, valid, tau=0.9):
    """The adversary's inputs for the predictions and for the ground truth.

    Args:
        kind: ``"basic"``, ``"product"`` or ``"scaling"``.
        probabilities: (N, H, W, C) softmax predictions.
        truth_one_hot: (N, H, W, C) one-hot ground truth (zeros where ignored).
        image: (N, H, W, 3) the segmenter's input.
        valid: (N, H, W) 1 where the label is not ignored.
        tau: the Scaling input's floor for the true class.

    Returns:
        (fake, real) label maps for the adversary.

    Example:
        >>> fake, real = adversary_inputs("basic", p, y, x, valid)  # doctest: +SKIP
    """
    mask = ops.expand_dims(ops.cast(valid, probabilities.dtype), -1)
    fake, real = probabilities * mask, truth_one_hot * mask
    if kind == "scaling":
        s = ops.sum(probabilities * truth_one_hot, axis=-1, keepdims=True)  # P(true class)
        top = ops.maximum(tau, s)
        others = probabilities * (1.0 - top) / ops.maximum(1.0 - s, 1e-6)
        real = (truth_one_hot * top + (1.0 - truth_one_hot) * others) * mask
    elif kind == "product":
        mean = ops.mean(image, axis=(1, 2), keepdims=True)
        std = ops.std(image, axis=(1, 2), keepdims=True) + 1e-6
        image = (image - mean) / std

        def product(maps):
            channels = ops.shape(maps)[-1]
            mixed = ops.expand_dims(maps, -1) * ops.expand_dims(image, -2)  # (N,H,W,C,3)
            return ops.reshape(mixed, (ops.shape(maps)[0], ops.shape(maps)[1],
                                       ops.shape(maps)[2], channels * 3))

        fake, real = product(fake), product(real)
    elif kind != "basic":
        raise ValueError(f"input kind must be one of {INPUT_KINDS}, got {kind!r}")
    return fake, real


@keras.saving.register_keras_serializable(package="keras_seg")
class AdversarialTrainer(keras.Model):
    """A segmenter trained against an adversary; ``call`` is the segmenter's.

    Args:
        segmenter: the segmentation model (logits, NHWC).
        adversary: a model from label maps (and, with two inputs, the image) to 2 logits.
        input_kind: ``"basic"``, ``"product"`` or ``"scaling"``.
        adv_weight: lambda, the weight of the adversarial term (0: plain training).
        adversary_steps: k, adversary updates per segmenter update.
        ignore_label: label value left out of every label map.
        tau: the Scaling input's floor.
        **kwargs: ``keras.Model`` arguments.

    Example:
        >>> trainer = AdversarialTrainer(segmenter, build_adversary("small_fov", 4))
        >>> trainer.compile(optimizer="adam", adversary_optimizer="adam",
        ...                 loss=MaskedSparseCrossEntropy())  # doctest: +SKIP
        >>> trainer.fit(dataset, epochs=10)  # doctest: +SKIP
    """

    def __init__(self, segmenter, adversary, input_kind="basic", adv_weight=0.1,
                 adversary_steps=1, ignore_label=255, tau=0.9, **kwargs):
        super().__init__(**kwargs)
        if input_kind not in INPUT_KINDS:
            raise ValueError(f"input_kind must be one of {INPUT_KINDS}, got {input_kind!r}")
        self.segmenter, self.adversary = segmenter, adversary
        self.input_kind, self.adv_weight = input_kind, float(adv_weight)
        self.adversary_steps, self.ignore_label = int(adversary_steps), ignore_label
        self.tau = float(tau)
        self.num_classes = int(segmenter.output_shape[-1])
        self._trackers = {name: keras.metrics.Mean(name=name)
                          for name in ("segmentation_loss", "adversarial_loss",
                                       "adversary_loss", "adversary_accuracy")}
        self.built = True  # both networks are built models

    @property
    def metadata(self):
        return getattr(self.segmenter, "metadata", {})

    def compile(self, *, adversary_optimizer="adam", **kwargs):
        super().compile(**kwargs)
        self.adversary_optimizer = keras.optimizers.get(adversary_optimizer)
        if (self.dtype_policy.name == "mixed_float16" and kwargs.get("auto_scale_loss", True)
                and not isinstance(self.adversary_optimizer,
                                   keras.optimizers.LossScaleOptimizer)):
            # as compile() does for the segmenter's: float16 gradients need loss scaling
            self.adversary_optimizer = keras.optimizers.LossScaleOptimizer(
                self.adversary_optimizer, name="adversary_loss_scale_optimizer")
        self._build_optimizers()

    def get_compile_config(self):
        config = super().get_compile_config() or {}
        return {**config, "adversary_optimizer": keras.saving.serialize_keras_object(
            self.adversary_optimizer)}

    def compile_from_config(self, config):
        # Keras skips models whose compile() is overridden: restore both optimizers here,
        # built on the variables each one updates so that their saved state loads
        self.compile(**keras.saving.deserialize_keras_object(config))

    def _build_optimizers(self):
        """Each optimizer's variables for the network it updates, before any step.

        Built at compile time, so that training (with or without a distribution strategy,
        whose ``fit`` would otherwise build the first optimizer on both networks) and a
        reloaded checkpoint agree on the optimizer state's layout.
        """
        with self.distribute_strategy.scope():
            if not self.optimizer.built:
                self.optimizer.build(self.segmenter.trainable_variables)
            if not self.adversary_optimizer.built:
                self.adversary_optimizer.build(self.adversary.trainable_variables)

    def call(self, inputs, training=False):
        return self.segmenter(inputs, training=training)

    @property
    def metrics(self):
        return [*super().metrics, *self._trackers.values()]

    def _maps(self, x, y, logits):
        probabilities = ops.softmax(ops.cast(logits, "float32"), axis=-1)
        labels = ops.cast(y, "int32")
        valid = ops.logical_and(labels >= 0, labels < self.num_classes)
        if self.ignore_label is not None:
            valid = ops.logical_and(valid, ops.not_equal(labels, self.ignore_label))
        one_hot = ops.one_hot(ops.where(valid, labels, 0), self.num_classes)
        return adversary_inputs(self.input_kind, probabilities, one_hot,
                                ops.cast(x, "float32"), valid, self.tau)

    def _judge(self, maps, x):
        if len(self.adversary.inputs) == 2:  # the image branch sees a standardised image
            x = ops.cast(x, "float32")
            mean = ops.mean(x, axis=(1, 2), keepdims=True)
            x = (x - mean) / (ops.std(x, axis=(1, 2), keepdims=True) + 1e-6)
            return self.adversary([maps, x], training=True)
        return self.adversary(maps, training=True)

    def train_step(self, data):
        import tensorflow as tf

        x, y = data[0], data[1]
        sample_weight = data[2] if len(data) > 2 else None
        batch = ops.shape(y)[0]
        real_target, fake_target = ops.ones((batch,), "int32"), ops.zeros((batch,), "int32")
        bce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        # k adversary steps against the current segmenter
        fake, real = self._maps(x, y, ops.stop_gradient(self.segmenter(x, training=True)))
        for _ in range(self.adversary_steps):
            with tf.GradientTape() as tape:
                fake_logits, real_logits = self._judge(fake, x), self._judge(real, x)
                adversary_loss = bce(real_target, real_logits) + bce(fake_target, fake_logits)
                scaled = self.adversary_optimizer.scale_loss(
                    distribution_scaled_loss(adversary_loss))
            variables = self.adversary.trainable_variables
            self.adversary_optimizer.apply(tape.gradient(scaled, variables), variables)
        correct = ops.concatenate([ops.argmax(real_logits, -1) == 1,
                                   ops.argmax(fake_logits, -1) == 0])
        # one segmenter step: cross-entropy + lambda * -log a(x, s(x))
        with tf.GradientTape() as tape:
            logits = self.segmenter(x, training=True)
            segmentation_loss = self.compute_loss(x=x, y=y, y_pred=logits,
                                                  sample_weight=sample_weight, training=True)
            adversarial = ops.zeros(())
            if self.adv_weight:
                adversarial = bce(real_target, self._judge(self._maps(x, y, logits)[0], x))
            total = segmentation_loss + self.adv_weight * distribution_scaled_loss(
                adversarial)
            scaled = self.optimizer.scale_loss(total)  # mixed precision: loss scaling
        variables = self.segmenter.trainable_variables
        self.optimizer.apply(tape.gradient(scaled, variables), variables)
        loss_tracker(self).update_state(distribution_unscaled_loss(total),
                                       sample_weight=batch)
        self._trackers["segmentation_loss"].update_state(
            distribution_unscaled_loss(segmentation_loss))
        self._trackers["adversarial_loss"].update_state(adversarial)
        self._trackers["adversary_loss"].update_state(adversary_loss)
        self._trackers["adversary_accuracy"].update_state(ops.mean(ops.cast(correct, "float32")))
        return self.compute_metrics(x, y, logits, sample_weight=sample_weight)

    def get_config(self):
        return {**super().get_config(),
                "segmenter": keras.saving.serialize_keras_object(self.segmenter),
                "adversary": keras.saving.serialize_keras_object(self.adversary),
                "input_kind": self.input_kind, "adv_weight": self.adv_weight,
                "adversary_steps": self.adversary_steps, "ignore_label": self.ignore_label,
                "tau": self.tau}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        for key in ("segmenter", "adversary"):
            config[key] = keras.saving.deserialize_keras_object(config[key],
                                                                custom_objects=custom_objects)
        return cls(**config)
