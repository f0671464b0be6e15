"""``keras-seg models``: the registered models, their classes, weights state and paper.

Example:
    >>> main(["models"])  # doctest: +SKIP
"""

NAME = "models"
HELP = "list the registered models"


def add_arguments(sub):
    """No arguments."""


def check(args):
    """Nothing to refuse."""


def run(args):
    """Print one line per registered model."""
    from keras_seg.pretrained import is_converted
    from keras_seg.registry import get_spec, list_models

    for name in list_models():
        spec = get_spec(name)
        record = spec.default_weights
        state = ("converted" if is_converted(record) else "not fetched") if record else "none"
        print(f"{name:24s} {spec.num_classes:4d} classes  weights: {state:11s}  {spec.paper}")
