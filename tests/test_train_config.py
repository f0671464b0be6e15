"""The training configuration: its checks, its command-line form, and messages that name
parameters (the library's) or flags (the command line's)."""

import argparse
import ast
import dataclasses
import json
import pickle
import re
import subprocess
import sys
from pathlib import Path

import pytest

from keras_seg import cli
from keras_seg.cli.app import build_parser
from keras_seg.errors import InputError, ParameterError, ParameterWarning
from keras_seg.training.config import Augment, TrainConfig

REQUIRED = {"num_classes": 4, "checkpoint_dir": "ckpt"}
TRAINING = Path(__file__).resolve().parents[1] / "keras_seg" / "training"


def _config(**settings):
    return TrainConfig("fcn8s", "data", **{**REQUIRED, **settings})


def _our_parser():
    parser = argparse.ArgumentParser(prog="keras-seg train")
    for flags, keywords in TrainConfig.command_line_options():
        parser.add_argument(*flags, **keywords)
    return parser


def _cli_train_parser():
    commands = next(a for a in build_parser()._actions
                    if isinstance(a, argparse._SubParsersAction))
    return commands.choices["train"]


def _described(parser):
    """Each argument as the command line shows and parses it, in the order of --help."""
    formatter = parser._get_formatter()
    described = []
    for action in parser._actions:
        if action.option_strings and action.option_strings[0] in ("-h", "--verbose"):
            continue
        shown = action.option_strings or [action.metavar or action.dest]
        described.append((tuple(shown), {
            "default": action.default, "choices": action.choices and list(action.choices),
            "type": action.type, "nargs": action.nargs, "required": action.required,
            "action": type(action).__name__,
            "help": action.help and formatter._expand_help(action),
            "metavar": None if not action.option_strings else action.metavar}))
    return described


#: ``keras-seg train``'s interface as it was released: its arguments in --help order (later
#: releases add flags; none of these goes away, changes or moves before another).
RELEASED_FLAGS = (
    "model", "data", "--val", "--layout", "--split", "--val-split", "--num-classes",
    "--checkpoint-dir", "--weights", "--resume", "--overwrite", "--skip-bad-files",
    "--allow-unmatched", "--epochs", "--batch-size", "--crop-size", "--scale", "--rotation",
    "--elastic", "--no-flip", "--adversarial", "--adv-weight", "--adv-model",
    "--adversary-steps", "--unet-weights", "--optimizer", "--schedule", "--lr",
    "--warmup-epochs", "--cooldown", "--weight-decay", "--momentum", "--steps-per-epoch",
    "--freeze-until", "--class-weights", "--ignore-label", "--seed",
    "--mixed-precision", "--strategy", "--model-arg",
)


def test_the_command_line_keeps_its_released_flags_and_defaults():
    described = dict(_described(_cli_train_parser()))
    shown = [flags[0] for flags in described]
    assert [flag for flag in shown if flag in RELEASED_FLAGS] == list(RELEASED_FLAGS)
    assert {"--augment", "--patience", "--loss", "--colors", "--annotations", "--classes",
            "--allow-mostly-ignored"} <= set(shown)
    defaults = {flags[0]: options["default"] for flags, options in described.items()}
    assert (defaults["--epochs"], defaults["--batch-size"], defaults["--crop-size"],
            defaults["--ignore-label"], defaults["--seed"], defaults["--layout"],
            defaults["--rotation"]) == (10, 8, [320], 255, 0, "folder", 0.0)
    choices = {flags[0]: options["choices"] for flags, options in described.items()}
    assert choices["--optimizer"] == ["sgd", "adam", "adamw", "rmsprop"]
    assert choices["--schedule"] == ["poly", "cosine", "constant"]
    assert choices["--strategy"] == ["mirrored", "multiworker"]
    assert _described(_cli_train_parser()) == _described(_our_parser())


def test_the_command_line_passes_train_the_configuration_of_its_flags(monkeypatch, tmp_path):
    passed = []
    monkeypatch.setattr("keras_seg.training.trainer.train", passed.append)
    (tmp_path / "data").mkdir()
    (tmp_path / "v").mkdir()
    argv = ["train", "fcn8s", str(tmp_path / "data"), "--num-classes", "4", "--checkpoint-dir",
            "ckpt", "--crop-size", "240", "320", "--scale", "1", "1.5", "--rotation", "10",
            "--elastic", "3", "10", "--no-flip", "--lr", "0.01", "--val", str(tmp_path / "v"),
            "--model-arg", "widths=(8, 16)", "--model-arg", "context=False",
            "--unet-weights", "10", "5", "--class-weights", "median", "--seed", "3",
            "--adversarial", "basic", "--adv-model", "small_fov", "--optimizer", "sgd"]
    assert cli.main(argv) == 0
    [config] = passed
    assert isinstance(config, TrainConfig)
    assert (config.model_name, config.num_classes, config.learning_rate, config.seed,
            config.optimizer, config.class_weights) == ("fcn8s", 4, 0.01, 3, "sgd", "median")
    assert config.augment == Augment((240, 320), (1.0, 1.5), False, 10.0, elastic=(3, 10.0))
    assert config.model_args == {"widths": (8, 16), "context": False}
    assert config.unet_weights == (10.0, 5.0) and config.val_dir == str(tmp_path / "v")
    assert config.adversary == (0.1, "small_fov", 1)


def test_a_refused_setting_is_named_by_its_flag(capsys, tmp_path):
    (tmp_path / "data").mkdir()
    argv = ["train", "fcn8s", str(tmp_path / "data"), "--num-classes", "4",
            "--checkpoint-dir", "ckpt", "--lr", "0"]
    assert cli.main(argv) == 2
    assert capsys.readouterr().err.strip() == \
        "keras-seg train: error: --lr must be positive, got 0.0"


@pytest.mark.parametrize("settings,message,flags", [
    ({"epochs": 0}, "epochs must be at least 1, got 0", "--epochs must be at least 1, got 0"),
    ({"num_classes": 0}, "num_classes must be at least 1, got 0", "--num-classes must be"),
    ({"batch_size": -1}, "batch_size must be at least 1, got -1", "--batch-size must be"),
    ({"steps_per_epoch": 0}, "steps_per_epoch must be at least 1", "--steps-per-epoch must"),
    ({"crop_size": (0, 32)}, "crop_size takes one or two positive sizes, got 0 32",
     "--crop-size takes one or two positive sizes, got 0 32"),
    ({"crop_size": [32, 32, 32]}, "crop_size takes one or two", "--crop-size takes"),
    ({"learning_rate": 0}, "learning_rate must be positive, got 0", "--lr must be positive"),
    ({"cooldown": 1.0}, "cooldown is a fraction of the run in [0, 1), got 1.0", "--cooldown"),
    ({"momentum": 1.0}, "momentum must be in [0, 1), got 1.0", "--momentum must be"),
    ({"new_layer_rate": 0.0}, "new_layer_rate must be positive, got 0.0",
     "--new-layer-rate must be positive, got 0.0"),
    ({"weight_decay": -1.0}, "weight_decay cannot be negative", "--weight-decay cannot"),
    ({"warmup_epochs": -1.0}, "warmup_epochs cannot be negative", "--warmup-epochs cannot"),
    ({"augment": Augment((32, 32), scale=(2.0, 1.0))}, "scale needs 0 < MIN <= MAX, got 2.0 1.0",
     "--scale needs 0 < MIN <= MAX, got 2.0 1.0"),
    ({"adv_weight": 0.5, "adversary_steps": 2},
     "adv_weight, adversary_steps need adversarial basic|product|scaling",
     "--adv-weight, --adversary-steps need --adversarial basic|product|scaling"),
    ({"adversarial": "basic", "adv_weight": -1.0}, "adv_weight cannot be negative",
     "--adv-weight cannot be negative"),
    ({"adversarial": "basic", "adversary_steps": 0}, "adversary_steps must be at least 1",
     "--adversary-steps must be at least 1"),
    ({"optimizer": "lion"}, "optimizer must be one of sgd, adam, adamw, rmsprop, got 'lion'",
     "--optimizer must be one of"),
    ({"layout": "kitti"}, "layout must be one of folder, voc", "--layout must be one of"),
    ({"adversarial": "basic", "adv_model": "big_fov"}, "adv_model must be one of",
     "--adv-model must be one of"),
    ({"strategy": "tpu"}, "strategy must be one of mirrored, multiworker", "--strategy must"),
    ({"class_weights": "mean"}, "class_weights must be one of 'median' or a list",
     "--class-weights must be"),
    ({"class_weights": [1.0, 2.0]}, "class_weights: 2 weights for 4 classes",
     "--class-weights: 2 weights"),
    ({"unet_weights": (10, 0)}, "unet_weights needs W0 >= 0 and SIGMA > 0, got 10 0",
     "--unet-weights needs W0 >= 0 and SIGMA > 0, got 10 0"),
    ({"loss": "ce+bce"}, "loss must be one of ce, dice, focal, lovasz, tversky or a sum of "
     "them such as ce+dice, got 'ce+bce'", "--loss must be one of ce, dice"),
    ({"loss": "dice+ce+dice"}, "loss 'dice+ce+dice' names a loss twice",
     "--loss 'dice+ce+dice' names a loss twice"),
    ({"loss": "ce+lovasz", "class_weights": "median"},
     "class_weights: the lovasz loss takes no class weights; leave out class_weights or the "
     "lovasz term of loss", "--class-weights: the lovasz loss takes no class weights; leave "
     "out --class-weights or the lovasz term of --loss"),
    ({"loss": "dice", "unet_weights": (10, 5)}, "unet_weights weights the cross-entropy pixel "
     "by pixel; loss 'dice' has no ce term (e.g. ce+dice)", "--unet-weights weights the"),
])
def test_settings_are_refused_naming_parameters_or_flags(settings, message, flags):
    with pytest.raises(ParameterError) as refused:
        _config(**settings)
    assert str(refused.value).startswith(message)
    assert refused.value.render(TrainConfig.flag_names()).startswith(flags)
    assert isinstance(refused.value, InputError)


def test_the_config_is_frozen_and_keeps_what_was_asked():
    config = _config(crop_size=[240, 320], unet_weights=[10, 5])
    assert config.crop_size == (240, 320) and config.unet_weights == (10, 5)
    assert _config(crop_size=96).crop_size == (96, 96)
    assert config.adversary == (0.1, "large_fov_light", 1) and config.augment is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.epochs = 3
    with pytest.raises(TypeError, match="unknown settings learning_rat"):
        TrainConfig.from_settings("fcn8s", "data", **REQUIRED, learning_rat=1e-3)


def test_model_arguments_are_python_literals_named_by_their_parameter():
    config = TrainConfig.from_options({"model_name": "unet", "train_dir": "d", **REQUIRED,
                                       "model_args": ["widths=(4, 8)", "last_upconv=8"]})
    assert config.model_args == {"widths": (4, 8), "last_upconv": 8}
    with pytest.raises(ParameterError) as refused:
        TrainConfig.from_options({"model_name": "unet", "train_dir": "d", **REQUIRED,
                                  "model_args": ["widths"]})
    assert str(refused.value) == "model_args needs KEY=VALUE, got 'widths'"
    assert refused.value.render(TrainConfig.flag_names()).startswith("--model-arg needs")


def test_parameter_messages_render_both_ways_and_survive_pickling():
    error = ParameterError("{resume}: the run in {directory} is already at epoch {epoch}; "
                           "ask for more with {epochs}", directory="ckpt{1}", epoch=3)
    assert error.parameters == ("resume", "epochs")
    assert str(error) == ("resume: the run in ckpt{1} is already at epoch 3; ask for more "
                          "with epochs")
    assert error.render({"resume": "--resume", "epochs": "--epochs"}) == (
        "--resume: the run in ckpt{1} is already at epoch 3; ask for more with --epochs")
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is ParameterError and str(copy) == str(error)
    assert str(ParameterWarning("resuming: {learning_rate} ignored")) == (
        "resuming: learning_rate ignored")


def test_the_config_loads_before_tensorflow():
    code = ("import sys, json; from keras_seg.training.config import TrainConfig; "
            "TrainConfig.command_line_options(); "
            "print(json.dumps(sorted(m for m in ('keras', 'tensorflow', 'numpy', 'PIL') "
            "if m in sys.modules)))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert json.loads(result.stdout) == []


def test_the_choice_lists_are_the_librarys():
    from keras_seg.models.discriminators import ADVERSARIES, FOV_LAYOUTS
    from keras_seg.training import adversarial, recipes

    assert set(ADVERSARIES) == {"stanford_background", *FOV_LAYOUTS}
    assert adversarial.INPUT_KINDS == ("basic", "product", "scaling")
    assert recipes.OPTIMIZERS == ("sgd", "adam", "adamw", "rmsprop")


def _flag_like_strings(path):
    """String literals of a module (docstrings too) that name a ``--flag``.

    The command-line form kept in the config's field metadata (``_option(...)`` calls,
    option dicts with ``"flags"``, ``help=`` keywords) is the one place flags belong, and
    is left out.
    """
    tree = ast.parse(path.read_text())
    exempt = set()
    for node in ast.walk(tree):
        option_call = (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                       and node.func.id == "_option")
        option_dict = isinstance(node, ast.Dict) and any(
            isinstance(key, ast.Constant) and key.value == "flags" for key in node.keys)
        if isinstance(node, ast.keyword) and node.arg == "help":
            exempt.update(id(n) for n in ast.walk(node.value))
        elif option_call or option_dict:
            exempt.update(id(n) for n in ast.walk(node))
    return [node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in exempt and re.search(r"--[a-z]", node.value)]


def test_training_messages_name_parameters_not_flags():
    found = {path.name: strings for path in sorted(TRAINING.glob("*.py"))
             if (strings := _flag_like_strings(path))}
    assert found == {}


def test_the_grep_would_see_a_flag_in_a_message(tmp_path):
    module = tmp_path / "m.py"
    module.write_text('raise ValueError(f"--epochs {x}: bad")\nok = dict(help="--lr")\n'
                      'add(help="--lr x")\n_option("--lr")\nspec = {"flags": ("--lr",)}\n'
                      '"""Doc: pass --seed."""\n')
    assert sorted(_flag_like_strings(module)) == ["--epochs ", "Doc: pass --seed."]


def test_resume_messages_name_parameters(tmp_path):
    from keras_seg.samples import write_shapes_dataset
    from keras_seg.training.trainer import train

    data = write_shapes_dataset(tmp_path / "data", 4, 32, 32, seed=1)
    settings = {"num_classes": 4, "crop_size": 32, "verbose": 0, "tensorboard": False}
    with pytest.raises(ParameterError, match=r"^resume: \S*nowhere does not exist"):
        train("fcn8s", data, checkpoint_dir=tmp_path / "nowhere", resume=True, **settings)
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "state.json").write_text(json.dumps(
        {"epoch": 3, "last": "epoch-3.keras", "plan": {"model": "fcn8s", "num_classes": 4}}))
    with pytest.raises(ParameterError) as refused:
        train("fcn8s", data, checkpoint_dir=tmp_path / "ckpt", resume=True, epochs=3,
              **settings)
    assert str(refused.value).startswith("resume: the run in ")
    assert str(refused.value).endswith("is already at epoch 3; ask for more with epochs")
    with pytest.raises(ParameterError, match="holds a run at epoch 3; pass resume to continue "
                                             "it or overwrite to start afresh"):
        train("fcn8s", data, checkpoint_dir=tmp_path / "ckpt", **settings)


def test_resume_reports_the_parameters_it_ignores():
    from keras_seg.training.checkpoints import check_same_run

    state = {"plan": {"model": "fcn8s", "num_classes": 4}}
    assert check_same_run(state, "fcn8s", 4, learning_rate=0.1, momentum=None,
                          weights="fcn8s") == ["learning_rate", "weights"]
    with pytest.raises(ParameterError) as refused:
        check_same_run(state, "fcn8s", 5)
    assert str(refused.value).startswith("resume: the run was started with num_classes 4, not "
                                         "5; start a new run (another checkpoint_dir or "
                                         "overwrite)")
    # the loss: a checkpoint without one was trained with cross-entropy
    assert check_same_run(state, "fcn8s", 4, loss="ce") == []
    with pytest.raises(ParameterError) as refused:
        check_same_run(state, "fcn8s", 4, loss="dice")
    assert refused.value.render(TrainConfig.flag_names()).startswith(
        "--resume: the run was started with --loss 'ce', not 'dice'; start a new run (another "
        "--checkpoint-dir or --overwrite) to change it, or leave out --loss")
    state = {"plan": {"model": "fcn8s", "num_classes": 4, "loss": "ce+dice"}}
    assert check_same_run(state, "fcn8s", 4, loss="dice + ce") == []  # the same sum
    assert check_same_run(state, "fcn8s", 4, loss=None) == []  # not asked: the checkpoint's


def test_the_distributed_loop_gets_every_callback_but_tensorboard(monkeypatch, tmp_path):
    import keras

    from keras_seg.training import distributed
    from keras_seg.training.trainer import RunState, Trainer

    trainer = Trainer(_config(strategy="multiworker", epochs=2))
    trainer.run_state = RunState([], None, None, Augment(), steps_per_epoch=3,
                                 distribution=None, worker=0, directory=tmp_path)
    received = []
    monkeypatch.setattr(distributed, "fit_distributed",
                        lambda *args: received.extend(args[6]))
    mine, board = keras.callbacks.Callback(), keras.callbacks.TensorBoard(str(tmp_path))
    trainer.fit(None, None, None, [keras.callbacks.History(), board, mine])
    assert board not in received and mine in received and len(received) == 2


def test_trainer_keeps_its_config_and_derives_its_state(tmp_path):
    from keras_seg.samples import write_shapes_dataset
    from keras_seg.training.trainer import Trainer

    data = write_shapes_dataset(tmp_path / "data", 5, 32, 32, seed=1)
    config = TrainConfig("fcn8s", str(data), num_classes=4, checkpoint_dir=str(tmp_path / "c"),
                         crop_size=32, batch_size=2)
    trainer = Trainer(config)
    trainer.check()
    assert trainer.config is config and config.augment is None
    assert trainer.run_state.augment == Augment((32, 32), scale=(1.0, 1.0))
    assert trainer.run_state.steps_per_epoch == 3 and len(trainer.run_state.pairs) == 5
    with pytest.raises(TypeError, match="takes no other settings"):
        Trainer(config, epochs=3)
