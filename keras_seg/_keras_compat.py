"""Every use keras-seg makes of Keras's private API, written for ``keras==3.15.1``.

Keras 3.15.1 is pinned in ``setup.cfg``; :data:`KERAS_VERSION` names it and
``tests/test_keras_compat.py`` fails when another Keras is installed, pointing here. On an
upgrade, check each wrapper below against the new Keras (its private names may have moved
or changed meaning), then update :data:`KERAS_VERSION` and the pin together. Nothing outside
this module imports ``keras.src`` or reads a private attribute of a Keras object.

Example:
    >>> import keras
    >>> x = keras.Input((4,))
    >>> producing_layer(keras.layers.Dense(2, name="head")(x)).name
    'head'
"""

#: The Keras release this module was written for (and ``setup.cfg`` pins).
KERAS_VERSION = "3.15.1"


def run_graph(model, x, operation_fn):
    """Run the functional ``model``'s graph on ``x``, each layer called as ``operation_fn(layer)``.

    The walk ``Functional.call`` itself makes (nodes in depth order); ``operation_fn`` returns
    the callable that stands for a layer (the layer itself, or a replacement).

    Example:
        >>> outputs = run_graph(model, x, operation_fn=lambda layer: layer)  # doctest: +SKIP
    """
    return model._run_through_graph(x, operation_fn=operation_fn)


def runs_graph(model):
    """Whether ``model`` is a functional model :func:`run_graph` can walk.

    Example:
        >>> import keras
        >>> x = keras.Input((4,))
        >>> runs_graph(keras.Model(x, keras.layers.Dense(2)(x)))
        True
    """
    return hasattr(model, "_run_through_graph")


def nodes_by_depth(model):
    """The functional ``model``'s call nodes by depth (0: the outputs' nodes).

    Example:
        >>> depths = sorted(nodes_by_depth(model), reverse=True)  # inputs first  # doctest: +SKIP
    """
    return model._nodes_by_depth


def producing_layer(tensor):
    """The layer (operation) whose call produced the symbolic ``tensor``.

    Example:
        >>> producing_layer(model.outputs[0]).name  # doctest: +SKIP
        'score'
    """
    return tensor._keras_history.operation


def build_for_batch(model, batch):
    """Create the variables of ``model``, its optimizer and metrics for ``batch`` (as ``fit``).

    Example:
        >>> build_for_batch(model, next(iter(dataset)))  # doctest: +SKIP
    """
    model._symbolic_build(data_batch=batch)


def learning_rate_schedule(optimizer):
    """The optimizer's learning rate as given: a schedule object, or a variable for a constant.

    Example:
        >>> learning_rate_schedule(optimizer).decay_steps  # doctest: +SKIP
        1000
    """
    return optimizer._learning_rate


def loss_tracker(model):
    """The metric behind the ``loss`` that ``fit`` reports, for a model's own ``train_step``.

    Example:
        >>> loss_tracker(model).update_state(loss, sample_weight=batch)  # doctest: +SKIP
    """
    return model._loss_tracker


def distribution_scaled_loss(loss):
    """``loss`` divided by the replicas in sync, as Keras's own train step scales it.

    Example:
        >>> distribution_scaled_loss(loss)  # doctest: +SKIP
    """
    from keras.src.losses.loss import scale_loss_for_distribution

    return scale_loss_for_distribution(loss)


def distribution_unscaled_loss(loss):
    """The inverse of :func:`distribution_scaled_loss` (what the loss metrics record).

    Example:
        >>> distribution_unscaled_loss(distribution_scaled_loss(loss))  # doctest: +SKIP
    """
    from keras.src.losses.loss import unscale_loss_for_distribution

    return unscale_loss_for_distribution(loss)


def snake_case(name):
    """A class name as Keras writes it in weights files' group names.

    Example:
        >>> snake_case("CaffeBN")
        'caffe_bn'
    """
    from keras.src.utils.naming import to_snake_case

    return to_snake_case(name)


def functional_from_config(cls, config, custom_objects=None):
    """An instance of the ``Functional`` subclass ``cls`` rebuilt from its layer graph config.

    Example:
        >>> model = functional_from_config(SegmentationModel, config)  # doctest: +SKIP
    """
    from keras.src.models.functional import functional_from_config as from_config

    return from_config(cls, config, custom_objects=custom_objects)


def key_torch_parameters(parameter_key):
    """Make Keras's torch layers register each variable as torch parameter ``parameter_key(path)``.

    Under ``KERAS_BACKEND=torch`` a layer keys its torch parameters by the variable's path,
    and torch refuses keys with dots. Replaces three private methods of ``TorchLayer`` for
    the whole process; idempotent. Two variables whose keys would collide are refused with
    both paths named. Call only under the torch backend.

    Example:
        >>> key_torch_parameters(lambda path: path.replace(".", "_"))  # doctest: +SKIP
    """
    import torch
    from keras.src.backend.torch.layer import TorchLayer

    if getattr(TorchLayer, "_keras_seg_keys", False):
        return

    def _track_variables(self):
        parameters = {}
        for variable in self.variables:
            key = parameter_key(variable.path)
            if key in parameters and parameters[key] is not variable.value:
                raise ValueError(f"two variables would share the torch parameter name {key!r} "
                                 f"(one of them {variable.path!r}); rename one of the layers")
            parameters[key] = variable.value
        self._torch_params = torch.nn.ParameterDict(parameters)

    def _post_track_variable(self, variable):
        if hasattr(self, "_torch_params"):
            key = parameter_key(variable.path)
            if key not in self.torch_params:
                self.torch_params[key] = variable.value

    def _post_untrack_variable(self, variable):
        if hasattr(self, "_torch_params"):
            self.torch_params.pop(parameter_key(variable.path), None)

    TorchLayer._track_variables = _track_variables
    TorchLayer._post_track_variable = _post_track_variable
    TorchLayer._post_untrack_variable = _post_untrack_variable
    TorchLayer._keras_seg_keys = True
