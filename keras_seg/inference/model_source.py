"""A model as a few strings that any process can load: what reaches remote workers.

A Keras model is not sent between processes here (pickling one is slow, version-bound, and
loses the compiled graphs anyway); each worker builds its own copy from a
:class:`ModelSource` once and reuses it for every image:

- a registered name, with ``weights`` (a file, a weights record or a preset of the network)
  and builder arguments; without ``weights``, the name's published weights, converted in
  the Keras cache (fetched by any worker that lacks them);
- a saved ``.keras`` model (a training checkpoint);
- a preset: a folder from ``keras-seg weights export``, or ``hf://owner/repo``.

Files may be local paths (the same on every worker: a shared file system) or any URI
``pyarrow.fs`` reads (``s3://``, ``gs://``, ``hdfs://``), copied to a local temporary file
by the worker that loads them.

Example:
    >>> source = ModelSource("fcn8s", weights="fcn8s.weights.h5",
    ...                      builder_args={"num_classes": 3})
    >>> source.describe()
    'fcn8s with fcn8s.weights.h5'
    >>> model = source.load()  # doctest: +SKIP
"""

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from keras_seg.errors import InputError, ParameterError
from keras_seg.inference.locations import filesystem, is_uri


@dataclass(frozen=True)
class ModelSource:
    """Where a worker gets its model: names and paths only, no arrays.

    Attributes:
        model: a registered name, a ``.keras`` file, or a preset (folder or ``hf://``).
        weights: for a registered name: a weights file, record or preset folder (None: the
            name's published weights, converted in the Keras cache).
        builder_args: builder arguments for a registered name (``num_classes``,
            ``widths``...).
    """

    model: str
    weights: str = None
    builder_args: dict = field(default_factory=dict)

    def kind(self):
        """``"preset"``, ``"keras"`` (a saved model) or ``"name"``.

        Example:
            >>> ModelSource("run/best.keras").kind()
            'keras'
        """
        from keras_seg.presets import is_preset

        if str(self.model).lower().endswith(".keras"):
            return "keras"
        return "preset" if is_preset(self.model) else "name"

    def check(self):
        """The refusals that need neither Keras nor the files' content (run on the driver).

        Raises:
            ParameterError: builder arguments or weights with a saved model or preset.
            InputError: an unknown name, a local file that is not there, or a name whose
                published weights are not converted in the cache.

        Example:
            >>> ModelSource("fcn4s").check()
            Traceback (most recent call last):
            ...
            keras_seg.errors.InputError: unknown model 'fcn4s'; valid names: ...
        """
        kind = self.kind()
        if kind != "name":
            if self.weights or self.builder_args:
                raise ParameterError("{model}: a saved model or preset fixes its network and "
                                     "weights; {weights} and builder arguments cannot be given "
                                     "with it", model=self.model)
            if kind == "keras" and not is_uri(self.model) and not Path(self.model).is_file():
                raise InputError(f"{self.model}: no such .keras file")
            return
        from keras_seg.model_names import BUILT_IN_MODELS

        if self.model not in BUILT_IN_MODELS:
            from keras_seg.registry import get_spec

            get_spec(self.model)  # a model registered in this process, or a refusal
        if self.weights is None:
            from keras_seg.pretrained import is_converted, missing_weights_error
            from keras_seg.registry import get_spec

            record = get_spec(self.model).default_weights
            if not (record and is_converted(record)):
                raise missing_weights_error(self.model, random_option=False)
        elif not is_uri(self.weights) and _looks_like_file(self.weights) \
                and not os.path.exists(self.weights):
            raise InputError(f"{self.weights}: no such weights file")

    def load(self):
        """Build the model (in the process that calls this: a worker).

        Example:
            >>> model = ModelSource("run/best.keras").load()  # doctest: +SKIP
        """
        from keras_seg.registry import unwrap

        kind = self.kind()
        if kind == "preset":
            from keras_seg.presets import load_preset

            return load_preset(self.model)
        if kind == "keras":
            import keras

            from keras_seg.registration import register_with_keras

            register_with_keras()  # the classes the file names
            path = _local_copy(self.model)
            return unwrap(keras.saving.load_model(path, compile=False))
        from keras_seg.pretrained import build

        weights = self.weights
        if weights is None:
            from keras_seg.registry import get_spec

            weights = get_spec(self.model).default_weights
        elif is_uri(weights):
            weights = _local_copy(weights)
        return build(self.model, weights=weights, **self.builder_args)

    def describe(self):
        """The model in a few words, for messages and the README's table.

        Example:
            >>> ModelSource("fcn8s").describe()
            'fcn8s with its published weights'
        """
        if self.kind() != "name":
            return str(self.model)
        return f"{self.model} with {self.weights or 'its published weights'}"


def _looks_like_file(weights):
    from keras_seg.convert.readers import READERS

    return str(weights).lower().endswith(tuple(READERS)) or os.sep in str(weights)


def _local_copy(location):
    """A local path for ``location``: itself, or a URI copied into a temporary folder."""
    if not is_uri(location):
        return location
    from pyarrow import fs

    source, path = filesystem(location)
    local = Path(tempfile.mkdtemp(prefix="keras-seg-model-")) / Path(path).name
    fs.copy_files(path, str(local), source_filesystem=source,
                  destination_filesystem=fs.LocalFileSystem())
    return str(local)
