"""Fine-tuning helpers: carry weights into a model with another head, freeze a trunk."""

from keras_seg.convert.assign import weighted_layers


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
