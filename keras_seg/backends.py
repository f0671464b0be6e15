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
    are refused with both paths named rather than one silently hiding the other. Applied
    when keras-seg's builders are imported (``keras_seg.models``), never by ``import keras``.
    """
    if keras.backend.backend() != "torch":
        return
    from keras_seg._keras_compat import key_torch_parameters

    key_torch_parameters(torch_parameter_key)
