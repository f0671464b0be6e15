"""What the networks need from Keras's other backends (JAX and PyTorch).

The builders and custom layers are written with ``keras.ops`` only, so they run wherever
Keras 3 does. One thing needs help: under ``KERAS_BACKEND=torch`` every Keras layer is a
``torch.nn.Module`` that registers its variables as torch parameters keyed by the variable's
path (``"inc.double_conv.0/kernel"``), and torch refuses parameter names that contain a dot.
U-Net's padded variant and FC-DenseNet keep the original PyTorch module names as layer names
(so that state dicts load by name), and those contain dots. :func:`use_torch_parameter_keys`
registers such parameters with the dots written as underscores; the Keras layer names and
variable paths (what weights files, converters and ``.keras`` files use) stay as they are.

Example:
    >>> torch_parameter_key("inc.double_conv.0/kernel")
    'inc_double_conv_0/kernel'
"""

import keras


def torch_parameter_key(path):
    """The name under which a variable at ``path`` is registered as a torch parameter."""
    return path.replace(".", "_")


def use_torch_parameter_keys():
    """Make Keras's torch layers register parameters under :func:`torch_parameter_key`.

    A no-op under the other backends; idempotent. Two variables whose keys would collide
    are refused with both paths named rather than one silently hiding the other.
    """
    if keras.backend.backend() != "torch":
        return
    import torch
    from keras.src.backend.torch.layer import TorchLayer

    if getattr(TorchLayer, "_keras_seg_keys", False):
        return

    def _track_variables(self):
        parameters = {}
        for variable in self.variables:
            key = torch_parameter_key(variable.path)
            if key in parameters and parameters[key] is not variable.value:
                raise ValueError(f"two variables would share the torch parameter name {key!r} "
                                 f"(one of them {variable.path!r}); rename one of the layers")
            parameters[key] = variable.value
        self._torch_params = torch.nn.ParameterDict(parameters)

    def _post_track_variable(self, variable):
        if hasattr(self, "_torch_params"):
            key = torch_parameter_key(variable.path)
            if key not in self.torch_params:
                self.torch_params[key] = variable.value

    def _post_untrack_variable(self, variable):
        if hasattr(self, "_torch_params"):
            self.torch_params.pop(torch_parameter_key(variable.path), None)

    TorchLayer._track_variables = _track_variables
    TorchLayer._post_track_variable = _post_track_variable
    TorchLayer._post_untrack_variable = _post_untrack_variable
    TorchLayer._keras_seg_keys = True
