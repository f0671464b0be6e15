"""The names of the networks keras-seg registers, readable without importing Keras.

:func:`keras_seg.registry.list_models` imports every family module (and so Keras and
TensorFlow, seconds) to know the names; the command line checks a model name against this
list before it loads anything. ``tests/test_cli_face.py`` keeps it equal to the registry.

Example:
    >>> "fcn8s" in BUILT_IN_MODELS
    True
"""

#: Every model the family modules of ``keras_seg.models`` register, sorted.
BUILT_IN_MODELS = (
    "bayesian_segnet", "bayesian_segnet_basic", "dilation10_cityscapes", "dilation7_kitti",
    "dilation8_camvid", "dilation8_pascal_voc", "fc_densenet103", "fc_densenet56",
    "fc_densenet67", "fcn16s", "fcn32s", "fcn8s", "fcn8s_atonce", "segnet", "segnet_basic",
    "unet", "unet_padded",
)


def unknown_model_message(name):
    """The refusal of an unknown model name, as :func:`keras_seg.registry.get_spec` words it.

    Example:
        >>> unknown_model_message("fcn4s")[:22]
        "unknown model 'fcn4s';"
    """
    return f"unknown model {name!r}; valid names: {', '.join(sorted(BUILT_IN_MODELS))}"
