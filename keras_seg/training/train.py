"""Fine-tune a registered network: the one call behind ``keras-seg train``."""

from dataclasses import fields

from keras_seg.training.trainer import Trainer, trainer_class


def train(model_name, train_dir, **settings):
    """Fine-tune ``model_name``: :meth:`Trainer.run` with the model's trainer class.

    Args:
        model_name: registered model.
        train_dir: dataset root.
        **settings: the :class:`Trainer` attributes (``num_classes`` and
            ``checkpoint_dir`` required).

    Returns:
        (model, history).

    Example:
        >>> model, history = train("fcn8s", "data/train", num_classes=5, val_dir="data/val",
        ...                        checkpoint_dir="ckpt", weights="fcn8s")
        ... # doctest: +SKIP
    """
    known = {f.name for f in fields(Trainer)}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise TypeError(f"train() got unknown settings {', '.join(unknown)}")
    cls = trainer_class(model_name, settings.get("adversarial"))
    return cls(model_name, train_dir, **settings).run()
