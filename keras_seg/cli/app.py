"""The command line's frame: parse, check without TensorFlow, then run; one line on error.

Example:
    >>> main(["models"])  # doctest: +SKIP
"""

import argparse
import functools
import itertools
import os
import sys
import warnings

from keras_seg.cli import (
    convert,
    demo,
    evaluate,
    export,
    models,
    predict,
    train,
    verify_data,
    weights,
)

#: The command modules, in the order ``keras-seg --help`` lists them.
COMMANDS = (models, convert, predict, train, verify_data, evaluate, export, weights, demo)


def main(argv=None):
    """Run the command line; returns the exit status.

    Exit status: 0 done, 2 refused before any work (usage, missing weights, unreadable
    input, an output that cannot be written), 1 failed during the work. Refusals that need
    no model (flag values, model names, files, output suffixes) come before TensorFlow is
    imported.

    Example:
        >>> main(["models"])  # doctest: +SKIP
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    from keras_seg.errors import InputError

    with warnings.catch_warnings():
        warnings.showwarning = functools.partial(_note, args.flags)
        try:
            args.check(args)
            if args.tensorflow and not args.verbose:
                _quiet_tensorflow()
            return args.run(args) or 0
        except BrokenPipeError:  # `keras-seg weights list | head`
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        except (ValueError, OSError) as error:  # ConversionError and InputError are ValueErrors
            if args.verbose:
                import traceback

                traceback.print_exc()
            print(f"keras-seg {args.command}: error: {one_line(_named(error, args.flags))}",
                  file=sys.stderr)
            return 2 if isinstance(error, InputError) else 1


def build_parser():
    """The argument parser: one sub-command per module of :data:`COMMANDS`.

    Example:
        >>> build_parser().parse_args(["models"]).command
        'models'
    """
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--verbose", action="store_true",
                        help="keep TensorFlow's start-up and device messages (and tracebacks)")
    parser = argparse.ArgumentParser(
        prog="keras-seg", description="Classic segmentation networks for Keras 3.",
        parents=[common])
    commands = parser.add_subparsers(dest="command", metavar="COMMAND",
                                     parser_class=_CommandParser)
    for module in COMMANDS:
        sub = commands.add_parser(module.NAME, help=module.HELP, description=module.HELP,
                                  parents=[common])
        sub.intermixed = getattr(module, "INTERMIXED", False)
        module.add_arguments(sub)
        sub.set_defaults(check=module.check, run=module.run, flags=_flags(sub),
                         tensorflow=getattr(module, "USES_TENSORFLOW", True))
    return parser


class _CommandParser(argparse.ArgumentParser):
    """A command's parser; an ``intermixed`` one reads its positionals after all options.

    argparse fills positionals in runs between options, so a command with an optional
    positional (``evaluate [MODEL] DATA``) would take ``evaluate m --json s.json d`` as
    DATA=m and refuse d; read intermixed, it is MODEL=m, DATA=d, as before.
    """

    intermixed = False
    _inside = False

    def parse_known_args(self, args=None, namespace=None):
        if not self.intermixed or self._inside:  # the intermixed parse calls this again
            return super().parse_known_args(args, namespace)
        self._inside = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._inside = False


def one_line(message):
    r"""A multi-line message as one line: "a:\n  b\n  c" -> "a: b; c".

    Example:
        >>> one_line("a:\n  b\n  c")
        'a: b; c'
    """
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    text = lines[0] if lines else ""
    for previous, line in itertools.pairwise(lines):
        text += (" " if previous.endswith(":") else "; ") + line
    return text


def _flags(parser):
    """How the command line names each parameter: ``{dest: "--flag"}`` (positionals by name).

    The library's messages about parameters name them as Python does (``learning_rate``);
    the command line shows them as the user typed them (``--lr``).
    """
    flags = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):  # weights fetch|export: theirs too
            for choice in action.choices.values():
                flags = {**_flags(choice), **flags}
        else:
            flags[action.dest] = (action.option_strings[0] if action.option_strings
                                  else action.metavar or action.dest)
    return flags


def _named(message, flags):
    """A message or warning as text, its parameters named by their flags where it has any."""
    from keras_seg.errors import ParameterMessage

    return message.render(flags) if isinstance(message, ParameterMessage) else str(message)


def _note(flags, message, category, filename, lineno, file=None, line=None):
    print(f"keras-seg: note: {_named(message, flags)}", file=sys.stderr)


def _quiet_tensorflow():
    """Import TensorFlow with its start-up lines (CUDA probing, oneDNN notice) discarded.

    TensorFlow writes them to the process's stderr before its logging is set up, so
    ``TF_CPP_MIN_LOG_LEVEL`` cannot hide them; ``--verbose`` keeps them.
    """
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    try:
        import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)
