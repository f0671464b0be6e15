"""Fine-tuning helpers: carry weights into a model with another head, freeze a trunk."""

import keras

from keras_seg.convert.assign import weighted_layers
from keras_seg.layers import BilinearUpsampling, ContextIdentity

#: Initialisers that are a deliberate start of a new head (:func:`zero_new_classifier`).
DELIBERATE_STARTS = (keras.initializers.Zeros, ContextIdentity, BilinearUpsampling)


def transfer_weights(source, target):
    """Copy every layer's weights from ``source`` to the same-named layer of ``target``.

    Layers whose weight shapes differ (a classifier with another number of classes) keep
    their initial values: FCN/DilatedNet score layers their zero or identity start, the
    upsampling deconvolutions their bilinear kernels.

    Returns:
        (copied, kept): names of the layers copied and of those left as initialised.

    Example:
        >>> trained = keras_seg.build("fcn8s")           # 21 classes, converted weights
        >>> model = keras_seg.build("fcn8s", num_classes=5)
        >>> copied, kept = transfer_weights(trained, model)  # doctest: +SKIP
    """
    by_name = {layer.name: layer for layer in weighted_layers(source)}
    copied, kept = [], []
    for layer in weighted_layers(target):
        other = by_name.get(layer.name)
        if other is not None and [w.shape for w in other.weights] == [
            w.shape for w in layer.weights
        ]:
            layer.set_weights(other.get_weights())
            copied.append(layer.name)
        else:
            kept.append(layer.name)
    return copied, kept


def zero_new_classifier(model, kept):
    """Start the model's last layer at zero when it is new and its builder drew it at random.

    A new classifier drawn at random over trained features (SegNet's ``conv_classifier``,
    U-Net's score, FC-DenseNet's ``finalConv``) gives large logits: a narrow SegNet-Basic
    fine-tuned on 3 classes had a first-epoch loss of up to 3.22 (ln 3 = 1.1) and a
    held-out mIoU of 0.507 +- 0.191, its gradients disturbing the trained layers (from
    zero: 0.64 and 0.772 +- 0.010; the fine-tuning runs of
    ``benchmarks/train_defaults.py``). At zero, as FCN starts its class scoring layers
    (Long et al. 2015, section 4.3), the run begins at ln(classes) and the head learns
    first. Only the last layer: no nonlinearity follows it, so its gradient is not zero
    (a zero layer before a ReLU, such as DilatedNet's ``final`` before the context
    module, would never learn). A deliberate start (zeros, DilatedNet's identity context,
    bilinear upsampling) is kept.

    Args:
        model: the model with its new head.
        kept: names of the layers left as the builder made them (:func:`transfer_weights`,
            :func:`keras_seg.convert.load.load_matching`).

    Returns:
        The name of the layer set to zero, or None.

    Example:
        >>> model = keras_seg.build("segnet_basic", num_classes=3)
        >>> zero_new_classifier(model, ["conv_classifier"])
        'conv_classifier'
    """
    last = list(weighted_layers(model))[-1]
    start = getattr(last, "kernel_initializer", None)
    if last.name not in kept or start is None or isinstance(start, DELIBERATE_STARTS):
        return None
    for variable in last.weights:
        variable.assign(keras.ops.zeros(variable.shape, variable.dtype))
    return last.name


def freeze_until(model, name):
    """Make every layer up to and including ``name`` untrainable; returns their names.

    Raises:
        ValueError: no layer called ``name``.
    """
    names = [layer.name for layer in model.layers]
    if name not in names:
        raise ValueError(f"no layer {name!r} in {model.name}; layers: {', '.join(names)}")
    frozen = []
    for layer in model.layers[: names.index(name) + 1]:
        layer.trainable = False
        frozen.append(layer.name)
    return frozen
