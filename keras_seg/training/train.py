"""Fine-tune a registered network: the one call behind ``keras-seg train``."""

from keras_seg.training.config import TrainConfig
from keras_seg.training.trainer import trainer_class


def train(model_name, train_dir=None, **settings):
    """Fine-tune a model: :meth:`Trainer.run` with the model's trainer class.

    Args:
        model_name: registered model, or a whole
            :class:`~keras_seg.training.config.TrainConfig` (then nothing else).
        train_dir: dataset root.
        **settings: the :class:`~keras_seg.training.config.TrainConfig` fields
            (``num_classes`` and ``checkpoint_dir`` required).

    Returns:
        (model, history).

    Raises:
        TypeError: an unknown setting (named).
        ParameterError: a setting out of range, or one that needs another, before any work.

    Example:
        >>> model, history = train("fcn8s", "data/train", num_classes=5, val_dir="data/val",
        ...                        checkpoint_dir="ckpt", weights="fcn8s")
        ... # doctest: +SKIP
    """
    if isinstance(model_name, TrainConfig):
        if train_dir is not None or settings:
            raise TypeError("train(config) takes no other settings; change the config with "
                            "dataclasses.replace(config, ...)")
        config = model_name
    else:
        config = TrainConfig.from_settings(model_name, train_dir, **settings)
    return trainer_class(config.model_name, config.adversarial)(config).run()
