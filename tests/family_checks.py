"""The checks every registered family passes (in the manner of keras-hub's backbone tests).

A family's test table gives, per model, narrow builder arguments and an input size it accepts;
:func:`check_family_contract` then builds it, gives every weight a random non-zero value (FCN's
score layers start at zero, which would make any comparison pass), and checks the config round
trip, ``.keras`` save and reload with equal outputs, the metadata that inference relies on, and
the registered geometry against the output size.
"""

import keras
import numpy as np

import keras_seg

VGG_NARROW = (4, 8, 8, 8, 8, 16)
#: Narrow builder arguments and an accepted input size, per registered model.
CASES = {
    "fcn32s": ({"num_classes": 3, "widths": VGG_NARROW}, (45, 38)),
    "fcn16s": ({"num_classes": 3, "widths": VGG_NARROW}, (45, 38)),
    "fcn8s": ({"num_classes": 3, "widths": VGG_NARROW}, (45, 38)),
    "fcn8s_atonce": ({"num_classes": 3, "widths": VGG_NARROW}, (45, 38)),
    "dilation8_pascal_voc": ({"num_classes": 3, "widths": VGG_NARROW}, (380, 396)),
    "dilation8_camvid": ({"num_classes": 3, "widths": VGG_NARROW}, (380, 396)),
    "dilation7_kitti": ({"num_classes": 3, "widths": VGG_NARROW}, (380, 396)),
    "dilation10_cityscapes": ({"num_classes": 3, "widths": VGG_NARROW}, (380, 396)),
    "unet": ({"num_classes": 3, "widths": (4, 8, 8, 16, 16), "last_upconv": 8}, (188, 220)),
    "unet_padded": ({"num_classes": 3, "widths": (4, 8, 16, 32, 64)}, (37, 45)),
    "segnet": ({"num_classes": 3, "widths": (4, 8, 8, 8, 8)}, (45, 61)),
    "bayesian_segnet": ({"num_classes": 3, "widths": (4, 8, 8, 8, 8)}, (45, 61)),
    "segnet_basic": ({"num_classes": 3, "width": 4}, (27, 35)),
    "bayesian_segnet_basic": ({"num_classes": 3, "width": 4}, (27, 35)),
    "fc_densenet56": ({"num_classes": 3}, (37, 45)),
    "fc_densenet67": ({"num_classes": 3}, (32, 32)),
    "fc_densenet103": ({"num_classes": 3, "batch_norm": "batch"}, (32, 32)),
}


def randomise(model, seed=0, *, kernels_only=False):
    """Give every variable of ``model`` random values (in place); returns the model.

    By default He-scaled noise is added to every kernel, so that FCN's zero-initialised
    score layers become random (they would make any comparison pass) while DilatedNet's
    identity context module and the bilinear upsampling keep a signal through narrow
    networks; vectors (biases, batch-norm scales and shifts) get noise around their value;
    batch-norm variances stay positive. ``kernels_only``: the 4-D kernels are replaced by
    He-normal values and nothing else changes.
    """
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        value, shape = np.asarray(variable), tuple(variable.shape)
        he = np.sqrt(2 / np.prod(shape[:-1])) if len(shape) > 1 else 0.0
        if kernels_only:
            if len(shape) != 4:
                continue
            value = rng.normal(0, he, shape)
        elif "variance" in variable.path:
            value = rng.uniform(0.5, 1.5, shape)
        elif len(shape) > 1:
            value = value + rng.normal(0, 0.5, shape) * he
        else:
            value = value + rng.normal(0, 0.1, shape)
        variable.assign(value.astype(variable.dtype))
    return model


def random_network(name, seed=0, *, kernels_only=False, **overrides):
    """The narrow network of ``CASES[name]`` with random weights, and its input size.

    Keras is seeded first: narrow networks' ReLUs can all die on some draws of the initial
    weights, which the test order under pytest-xdist would otherwise pick.
    """
    arguments, size = CASES[name]
    keras.utils.set_random_seed(seed)
    model = keras_seg.build(name, **{**arguments, **overrides})
    return randomise(model, seed, kernels_only=kernels_only), size


#: Networks that repeat another one's builder and layer types with more or wider blocks
#: (FC-DenseNet 67 and 103 are 56's): serialising or exporting them again checks no new layer.
SAME_LAYERS_AS = {"fc_densenet67": "fc_densenet56", "fc_densenet103": "fc_densenet56"}


def check_family_contract(name, arguments, size, tmp_path, *, atol=1e-4, round_trip=True):
    """Build ``name`` narrow and check what every family must do.

    Args:
        name: registered model name.
        arguments: narrow builder arguments (widths, classes...).
        size: (height, width) of an input the network accepts.
        tmp_path: a folder for the saved files.
        atol: tolerance of the output comparisons.
        round_trip: also rebuild it from its config and reload it from a ``.keras`` file
            (skipped where another network of the same builder and layers does it).
    """
    spec = keras_seg.get_spec(name)
    model = randomise(keras_seg.build(name, **arguments))
    channels = spec.input.channels
    x = np.random.default_rng(1).normal(size=(1, *size, channels)).astype("float32") * 20
    expected = np.asarray(model(x))
    assert np.abs(expected).max() > 1e-3, "outputs all zero: the comparison would prove nothing"
    # metadata that predict and training read
    assert model.metadata["model"] == name
    assert model.metadata["num_classes"] == expected.shape[-1]
    assert model.input_shape[-1] == channels
    if round_trip:
        _check_round_trips(model, x, expected, tmp_path, atol)
    # the registered geometry says where the outputs sit
    margin, stride, _ = spec.geometry.as_tuple()
    if spec.zoom == 1 and stride == 1:
        assert expected.shape[1:3] == tuple(n - 2 * margin for n in size)
    else:
        assert expected.shape[1:3] == tuple((n - 2 * margin) // stride for n in size)
    return model


def _check_round_trips(model, x, expected, tmp_path, atol):
    """From its config, and from a ``.keras`` file: the same layers, metadata and outputs."""
    name = model.metadata["model"]
    clone = keras.Model.from_config(model.get_config())
    assert [layer.name for layer in clone.layers] == [layer.name for layer in model.layers]
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(np.asarray(clone(x)), expected, rtol=1e-5, atol=atol)
    # a .keras file reloads with its metadata and its outputs
    model.save(tmp_path / f"{name}.keras")
    restored = keras.saving.load_model(tmp_path / f"{name}.keras")
    assert restored.metadata == model.metadata
    np.testing.assert_allclose(np.asarray(restored(x)), expected, rtol=1e-5, atol=atol)
