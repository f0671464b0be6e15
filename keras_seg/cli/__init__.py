"""The ``keras-seg`` command: a face over the library.

Each command is a module of this package with ``add_arguments`` (its flags), ``check``
(refusals that need no TensorFlow: flag values, model names, input files, output suffixes
and folders) and ``run`` (the work, importing the library). :func:`main` parses, checks and
only then imports TensorFlow, so a refusal comes back in a fraction of a second. Importing
this package imports neither TensorFlow nor Keras.

Example:
    >>> from keras_seg.cli import main
    >>> main(["models"])  # doctest: +SKIP
"""

from keras_seg.cli.app import main

__all__ = ["main"]
