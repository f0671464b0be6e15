"""``keras-seg train``: fine-tune (or train from random weights) on an image/mask dataset.

The options, their defaults, choices and help are the training configuration's
(:meth:`keras_seg.training.config.TrainConfig.command_line_options`): each is written once,
in the library, which also makes every check of their values.

Example:
    >>> main(["train", "fcn8s", "data", "--num-classes", "4",
    ...       "--checkpoint-dir", "ckpt"])  # doctest: +SKIP
"""

import sys

from keras_seg.cli.checks import check_folder, check_mask_format_files, check_model
from keras_seg.errors import InputError
from keras_seg.training.config import TrainConfig

NAME = "train"
HELP = "fine-tune a model on an image/mask folder"


def add_arguments(sub):
    """MODEL DATA and the training options, as the training configuration declares them."""
    for flags, keywords in TrainConfig.command_line_options():
        sub.add_argument(*flags, **keywords)


def check(args):
    """Every refusal that needs no model: the name, the data folders, the settings."""
    if check_model(args.model_name):
        raise InputError(f"{args.model_name}: train builds a registered model; name one from "
                         "`keras-seg models` (a checkpoint continues with --resume)")
    check_folder(args.train_dir)
    check_mask_format_files(args)
    if args.val_dir is not None:
        check_folder(args.val_dir, "--val")
    args.config = TrainConfig.from_options(vars(args), verbose=1 if sys.stdout.isatty() else 2)


def run(args):
    """Train, then print where the checkpoints are."""
    import os

    from keras_seg.cli.loading import check_weights_exist
    from keras_seg.training.trainer import train

    config = args.config
    if config.weights and not os.path.exists(config.weights):
        check_weights_exist(config.weights, random_option=False)
    train(config)
    print(f"trained to epoch {config.epochs}; checkpoints in {config.checkpoint_dir}")
