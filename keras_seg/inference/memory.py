"""How much memory a whole-frame forward needs, to decide when to tile instead."""

import math

#: Default memory budget for one whole-frame forward pass, in bytes.
DEFAULT_BUDGET = 4 * 2**30
#: Peak memory of a forward pass per byte of its largest activation (measured: FCN-8s on a
#: 20000x20 image peaked at 12 GB, about 10.5 times its largest activation of 1.14 GB).
PEAK_FACTOR = 10.5
#: Tile sides tried, largest first, when a whole frame does not fit.
TILE_SIDES = (1024, 768, 512, 384, 256, 192, 128)


def activation_bytes(model, height, width):
    """Bytes of the largest layer output of ``model`` for one (height, width) image.

    Shapes come from Keras's shape inference; nothing is computed.

    Example:
        >>> activation_bytes(keras_seg.build("fcn8s"), 500, 500)  # doctest: +SKIP
        125440000
    """
    import keras

    shape = (1, height, width, model.input_shape[-1])
    outputs = [layer.output for layer in model.layers[1:] if hasattr(layer, "output")]
    probe = keras.Model(model.inputs, outputs)
    largest = max(math.prod(int(d) for d in s)
                  for s in _shapes(probe.compute_output_shape(shape)))
    return largest * 4


def _shapes(nested):
    """The shapes in a nest of shapes (layers with several outputs give lists of them)."""
    if isinstance(nested, list | tuple) and nested and isinstance(nested[0], list | tuple):
        for item in nested:
            yield from _shapes(item)
    else:
        yield nested


def forward_bytes(model, height, width):
    """Estimated peak memory of a whole-frame forward pass (see :data:`PEAK_FACTOR`)."""
    return int(PEAK_FACTOR * activation_bytes(model, height, width))


def tile_for_budget(model, height, width, budget=DEFAULT_BUDGET, alignment=1):
    """None when a whole-frame forward fits ``budget``, else the largest tile side that does.

    Raises:
        ValueError: not even the smallest tile fits.
    """
    if forward_bytes(model, height, width) <= budget:
        return None
    for side in TILE_SIDES:
        side = side // alignment * alignment or alignment
        if forward_bytes(model, side, side) <= budget:  # tiles are padded to full size
            return side
    raise ValueError(f"even {TILE_SIDES[-1]}-pixel tiles need more than the memory budget of "
                     f"{human_bytes(budget)}")


def human_bytes(count):
    """``count`` bytes as MB below a GiB, else GB, for messages.

    Example:
        >>> human_bytes(3 * 2**29)
        '1.5 GB'
    """
    if count < 2**30:
        return f"{count / 2**20:.0f} MB"
    return f"{count / 2**30:.1f} GB"
