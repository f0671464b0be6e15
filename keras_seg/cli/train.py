"""``keras-seg train``: fine-tune (or train from random weights) on an image/mask dataset.

Example:
    >>> main(["train", "fcn8s", "data", "--num-classes", "4",
    ...       "--checkpoint-dir", "ckpt"])  # doctest: +SKIP
"""

import os
import sys

from keras_seg.cli.checks import check_at_least, check_folder, check_model, model_args
from keras_seg.errors import InputError
from keras_seg.training.layouts import LAYOUTS

NAME = "train"
HELP = "fine-tune a model on an image/mask folder"
# The choices below live in modules that import Keras (keras_seg.training.recipes,
# .adversarial, keras_seg.models.discriminators), which the parser must not load;
# tests/test_cli_face.py keeps these copies equal to them.
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
SCHEDULES = ("poly", "cosine", "constant")
ADVERSARY_INPUTS = ("basic", "product", "scaling")
ADVERSARIES = ("stanford_background", "large_fov", "large_fov_light", "small_fov",
               "small_fov_light")


def add_arguments(sub):
    """MODEL DATA and the training options."""
    _data_arguments(sub)
    _augmentation_arguments(sub)
    _adversarial_arguments(sub)
    _recipe_arguments(sub)
    sub.add_argument("--ignore-label", type=int, default=255,
                     help="mask value left out of loss and scores (default 255)")
    sub.add_argument("--seed", type=int, default=0,
                     help="seed of the initial weights, shuffling and augmentation")
    sub.add_argument("--mixed-precision", action="store_true",
                     help="train with float16 compute (the loss in float32)")
    sub.add_argument("--strategy", choices=["mirrored", "multiworker"],
                     help="several devices (mirrored) or machines (TF_CONFIG)")
    sub.add_argument("--model-arg", action="append", default=[], metavar="KEY=VALUE",
                     help="builder argument, a Python literal (e.g. widths=(8,16,32,32,32,64))")


def _data_arguments(sub):
    sub.add_argument("model", help="registered model name")
    sub.add_argument("data", help="folder with images/ and masks/ (same file stems)")
    sub.add_argument("--val", help="validation folder with images/ and masks/")
    sub.add_argument("--layout", default=LAYOUTS[0], choices=LAYOUTS)
    sub.add_argument("--split", default="train", help="training split of the layout")
    sub.add_argument("--val-split", default="val", help="validation split of the layout")
    sub.add_argument("--num-classes", type=int, required=True,
                     help="classes of the new head (the ignore label excluded)")
    sub.add_argument("--checkpoint-dir", required=True, help="checkpoints and logs")
    sub.add_argument("--weights", help="weights to start from: a published record (e.g. "
                                       "fcn8s) or a file; the head is re-initialised when "
                                       "--num-classes differs")
    sub.add_argument("--resume", action="store_true", help="continue the last checkpoint")
    sub.add_argument("--overwrite", action="store_true",
                     help="start afresh in a checkpoint folder that holds another run")
    sub.add_argument("--skip-bad-files", action="store_true",
                     help="leave out unreadable images and bad masks (counted) instead of "
                          "stopping at the first")
    sub.add_argument("--allow-unmatched", action="store_true",
                     help="train although some images have no mask (or masks no image)")
    sub.add_argument("--epochs", type=int, default=10, help="total epochs (default 10)")
    sub.add_argument("--batch-size", type=int, default=8, help="crops per step (default 8)")
    sub.add_argument("--steps-per-epoch", type=int,
                     help="default: one pass over the training images")


def _augmentation_arguments(sub):
    sub.add_argument("--crop-size", type=int, nargs="+", default=[320], metavar="N",
                     help="training crops, one size or height width (default 320)")
    sub.add_argument("--scale", type=float, nargs=2, metavar=("MIN", "MAX"),
                     help="random rescaling range (default: 0.5 2 when fine-tuning from "
                          "--weights, none from random weights)")
    sub.add_argument("--rotation", type=float, default=0.0, help="max rotation, degrees")
    sub.add_argument("--elastic", type=float, nargs=2, metavar=("GRID", "SIGMA"),
                     help="U-Net elastic deformation (e.g. 3 10)")
    sub.add_argument("--no-flip", action="store_true", help="no horizontal flips")
    sub.add_argument("--unet-weights", type=float, nargs=2, metavar=("W0", "SIGMA"),
                     help="weight the loss by U-Net's map from DATA/instances/ (instance "
                          "masks with the masks' names); the paper: 10 5")
    sub.add_argument("--class-weights", choices=["median"], help="median-frequency weights")


def _adversarial_arguments(sub):
    sub.add_argument("--adversarial", choices=ADVERSARY_INPUTS,
                     help="train against an adversary (Luc et al. 2016) with this input")
    sub.add_argument("--adv-weight", type=float,
                     help="lambda, the weight of the adversarial term (default 0.1)")
    sub.add_argument("--adv-model", choices=ADVERSARIES,
                     help="the adversary (default large_fov_light)")
    sub.add_argument("--adversary-steps", type=int,
                     help="adversary updates per segmenter update (default 1)")


def _recipe_arguments(sub):
    sub.add_argument("--optimizer", choices=OPTIMIZERS,
                     help="default: the family's paper's from published --weights, adam "
                          "from random ones")
    sub.add_argument("--schedule", choices=SCHEDULES,
                     help="learning-rate schedule (default: the family's when fine-tuning "
                          "from --weights, constant from random weights)")
    sub.add_argument("--lr", type=float, help="peak learning rate (default: the recipe's)")
    sub.add_argument("--warmup-epochs", type=float, help="linear warm-up (default 0)")
    sub.add_argument("--cooldown", type=float, metavar="FRACTION",
                     help="fall linearly to zero over this last fraction of the run "
                          "(default 0.2 from random weights, 0 when fine-tuning)")
    sub.add_argument("--weight-decay", type=float, help="decoupled weight decay, not on "
                                                        "biases and norms (default 0)")
    sub.add_argument("--momentum", type=float, help="SGD momentum (default 0.9)")
    sub.add_argument("--freeze-until", metavar="LAYER", help="freeze the trunk up to LAYER")


def check(args):
    """Every refusal that needs no model: the name, the data folder, the numbers."""
    if check_model(args.model):
        raise InputError(f"{args.model}: train builds a registered model; name one from "
                         "`keras-seg models` (a checkpoint continues with --resume)")
    check_folder(args.data)
    if args.val is not None:
        check_folder(args.val, "--val")
    model_args(args.model_arg)
    adversarial_flags = [flag for flag, value in (("--adv-weight", args.adv_weight),
                                                  ("--adv-model", args.adv_model),
                                                  ("--adversary-steps", args.adversary_steps))
                         if value is not None]
    if adversarial_flags and not args.adversarial:
        raise InputError(f"{', '.join(adversarial_flags)} need --adversarial "
                         f"{'|'.join(ADVERSARY_INPUTS)}")
    for flag, value in (("--num-classes", args.num_classes), ("--epochs", args.epochs),
                        ("--batch-size", args.batch_size),
                        ("--adversary-steps", args.adversary_steps),
                        ("--steps-per-epoch", args.steps_per_epoch)):
        check_at_least(flag, value, 1)
    if min(args.crop_size) < 1 or len(args.crop_size) > 2:
        raise InputError(f"--crop-size takes one or two positive sizes, got "
                         f"{' '.join(map(str, args.crop_size))}")
    if args.adv_weight is not None and args.adv_weight < 0:
        raise InputError(f"--adv-weight cannot be negative, got {args.adv_weight}")
    if args.scale and (args.scale[0] <= 0 or args.scale[1] < args.scale[0]):
        raise InputError(f"--scale needs 0 < MIN <= MAX, got {args.scale[0]} {args.scale[1]}")


def run(args):
    """Train, then print where the checkpoints are."""
    from keras_seg.cli.loading import check_weights_exist
    from keras_seg.training.data import Augment
    from keras_seg.training.train import train

    if args.weights and not os.path.exists(args.weights):
        check_weights_exist(args.weights, random_option=False)
    crop = tuple((args.crop_size * 2)[:2]) if len(args.crop_size) == 1 else tuple(args.crop_size)
    elastic = (int(args.elastic[0]), args.elastic[1]) if args.elastic else None
    augment = Augment(crop, tuple(args.scale) if args.scale else None, not args.no_flip,
                      args.rotation, elastic=elastic)
    train(
        args.model, args.data, val_dir=args.val, num_classes=args.num_classes,
        checkpoint_dir=args.checkpoint_dir, weights=args.weights, resume=args.resume,
        epochs=args.epochs, batch_size=args.batch_size, crop_size=crop,
        learning_rate=args.lr, momentum=args.momentum, optimizer=args.optimizer,
        schedule=args.schedule, warmup_epochs=args.warmup_epochs, cooldown=args.cooldown,
        weight_decay=args.weight_decay, steps_per_epoch=args.steps_per_epoch,
        freeze_until=args.freeze_until, class_weights=args.class_weights,
        ignore_label=args.ignore_label, seed=args.seed, mixed_precision=args.mixed_precision,
        strategy=args.strategy, model_args=model_args(args.model_arg), layout=args.layout,
        split=args.split, val_split=args.val_split, augment=augment,
        skip_bad_files=args.skip_bad_files, allow_unmatched=args.allow_unmatched,
        overwrite=args.overwrite, verbose=1 if sys.stdout.isatty() else 2,
        unet_weights=tuple(args.unet_weights) if args.unet_weights else None,
        adversarial=args.adversarial,
        adv_weight=0.1 if args.adv_weight is None else args.adv_weight,
        adv_model=args.adv_model or "large_fov_light",
        adversary_steps=1 if args.adversary_steps is None else args.adversary_steps)
    print(f"trained to epoch {args.epochs}; checkpoints in {args.checkpoint_dir}")
