"""Fine-tuning helpers: carry weights into a model with another head, freeze a trunk."""

import keras

from keras_seg.convert.assign import weighted_layers
from keras_seg.layers import BilinearUpsampling, ContextIdentity

#: Initialisers that are a deliberate start of a new head, kept by :func:`zero_new_heads`.
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


def zero_new_heads(model, names):
    """Start the re-initialised layers ``names`` that a random draw filled at zero.

    A new classifier drawn at random over trained features (SegNet's ``conv_classifier``,
    U-Net's score, FC-DenseNet's ``finalConv``, DilatedNet's ``fc-final``) gives logits in
    the tens and a first loss of 10 where ln(classes) is due, and its gradients then
    disturb the trained layers; started at zero, as FCN starts its score layers, the run
    begins at ln(classes) and the head learns first. Layers with a deliberate start (zeros,
    DilatedNet's identity context, bilinear upsampling) keep it.

    Returns:
        The names of the layers set to zero.

    Example:
        >>> model = keras_seg.build("segnet_basic", num_classes=3)
        >>> zero_new_heads(model, ["conv_classifier"])
        ['conv_classifier']
    """
    zeroed = []
    for name in names:
        layer = model.get_layer(name)
        start = getattr(layer, "kernel_initializer", None)
        if start is None or isinstance(start, DELIBERATE_STARTS):
            continue
        for variable in layer.weights:
            variable.assign(keras.ops.zeros(variable.shape, variable.dtype))
        zeroed.append(name)
    return zeroed


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
