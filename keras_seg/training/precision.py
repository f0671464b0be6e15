"""Keras's process-wide precision policy, set for one piece of work and then restored.

Example:
    >>> import keras
    >>> with precision_policy("mixed_float16"):
    ...     keras.mixed_precision.global_policy().name
    'mixed_float16'
    >>> keras.mixed_precision.global_policy().name
    'float32'
"""

import contextlib


@contextlib.contextmanager
def precision_policy(name):
    """Set Keras's global dtype policy to ``name`` inside the block, the previous one after.

    The previous policy comes back whether the block ends or raises. ``None`` changes nothing
    (for callers whose precision is optional).

    Args:
        name: a Keras dtype policy name (``"mixed_float16"``, ``"mixed_bfloat16"``...),
            or ``None``.

    Example:
        >>> with precision_policy("mixed_bfloat16" if fast else None):  # doctest: +SKIP
        ...     model = keras_seg.build("fcn8s")
    """
    if name is None:
        yield
        return
    import keras

    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)
