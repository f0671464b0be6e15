"""The model class every builder returns: a Functional model that knows what it is."""

import keras

from keras_seg._keras_compat import functional_from_config


@keras.saving.register_keras_serializable(package="keras_seg")
class SegmentationModel(keras.Model):
    """A Functional ``keras.Model`` carrying what inference needs, kept in ``.keras`` files.

    ``metadata`` holds the registered model name, the builder arguments, the number of
    classes and the input convention (see :func:`keras_seg.registry.build_model`), so that a
    renamed, modified or reloaded model is still predicted with its own preprocessing and
    pipeline. Everything else is a plain Functional model: layers, config, saving.

    Args:
        inputs: input tensor(s).
        outputs: output tensor(s).
        name: model name.
        **kwargs: ``metadata`` (a JSON-ready dict) and Functional arguments.

    Example:
        >>> x = keras.Input((None, None, 3))
        >>> model = SegmentationModel(x, keras.layers.Conv2D(2, 1)(x),
        ...                           metadata={"model": "custom"})
        >>> model.metadata["model"]
        'custom'
    """

    def __init__(self, inputs, outputs, name=None, **kwargs):
        metadata = kwargs.pop("metadata", None)
        super().__init__(inputs, outputs, name=name, **kwargs)
        self.metadata = dict(metadata or {})

    def get_config(self):
        return {**super().get_config(), "metadata": self.metadata}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        metadata = config.pop("metadata", {})
        model = functional_from_config(cls, config, custom_objects=custom_objects)
        model.metadata = metadata
        return model
