"""FC-DenseNet: the paper's counts, the PyTorch port as reference, the Lasagne release in NumPy."""

import numpy as np
import pytest

import keras_seg

from torch_files import assert_matches_torch

PARAMETERS_103 = (9_322_091, 9_425_163)  # trainable; with the BN statistics


def test_fc_densenet103_has_the_papers_parameter_count():
    model = keras_seg.build("fc_densenet103")
    trainable = sum(int(np.prod(v.shape)) for v in model.trainable_weights)
    assert (trainable, model.count_params()) == PARAMETERS_103
    assert model.get_layer("transUpBlocks.0.convTrans").kernel.shape == (3, 3, 240, 240)
    assert keras_seg.get_spec("fc_densenet103").input.scale == 1 / 255


@pytest.mark.parametrize("size", [(32, 48), (37, 51)])
def test_any_input_size_keeps_its_size(size):
    model = keras_seg.build("fc_densenet56", num_classes=3)
    assert model.compute_output_shape((1, *size, 3)) == (1, *size, 3)


def test_batch_statistics_mode_ignores_the_stored_statistics():
    running = keras_seg.build("fc_densenet56", num_classes=3)
    batch = keras_seg.build("fc_densenet56", num_classes=3, batch_norm="batch")
    batch.set_weights(running.get_weights())
    x = np.random.default_rng(0).uniform(0, 1, (1, 16, 24, 3)).astype("f4")
    before = np.asarray(batch(x))
    for layer in batch.layers:
        if hasattr(layer, "moving_mean"):
            layer.moving_mean.assign(layer.moving_mean + 3.0)
    np.testing.assert_array_equal(np.asarray(batch(x)), before)
    assert not np.allclose(np.asarray(running(x)), before, atol=1e-3)


# --- the original release: Lasagne arrays, a NumPy forward with batch statistics -----------

class LasagneReference:
    """FC-DenseNet as SimJeg/FC-DenseNet's Lasagne graph computes it, in NumPy (C, H, W).

    Parameters are drawn as the forward needs them, so their order is the execution order
    that the release's arr_0... follow. Batch norm uses the image's own statistics
    (epsilon 1e-4 inside inv_std); convolutions correlate (flip_filters=False); Lasagne's
    TransposedConv2DLayer with flip_filters=False is the transpose of a true convolution
    (it runs Theano's gradient of a convolution with filter_flip=True), i.e. it scatters
    each input pixel with the kernel flipped in space.
    """

    def __init__(self, growth, blocks, classes, seed=0):
        self.growth, self.blocks, self.classes = growth, blocks, classes
        self.rng, self.params = np.random.default_rng(seed), []

    def _param(self, *shape, scale=0.1, low=None):
        value = (self.rng.uniform(low, 1.0, shape) if low is not None
                 else self.rng.normal(0, scale, shape)).astype("f4")
        self.params.append(value)
        return value.astype("f8")

    def conv(self, x, out, k):
        w = self._param(out, x.shape[0], k, k, scale=np.sqrt(2 / (x.shape[0] * k * k)))
        b = self._param(out)
        p = k // 2
        padded = np.pad(x, ((0, 0), (p, p), (p, p)))
        y = np.zeros((out, *x.shape[1:]))
        for dy in range(k):
            for dx in range(k):
                y += np.einsum("oc,chw->ohw", w[:, :, dy, dx],
                               padded[:, dy : dy + x.shape[1], dx : dx + x.shape[2]])
        return y + b[:, None, None]

    def bn_relu_conv(self, x, out, k):
        beta, gamma = self._param(x.shape[0]), self._param(x.shape[0], low=0.5)
        mean, inv_std = self._param(x.shape[0]), self._param(x.shape[0], low=0.5)
        del mean, inv_std  # stored, never updated: the release normalises with the batch's
        m, v = x.mean(axis=(1, 2), keepdims=True), x.var(axis=(1, 2), keepdims=True)
        x = (x - m) / np.sqrt(v + 1e-4) * gamma[:, None, None] + beta[:, None, None]
        return self.conv(np.maximum(x, 0), out, k)

    def transposed(self, x, out):
        w, b = self._param(x.shape[0], out, 3, 3, scale=0.2), self._param(out)
        height, width = x.shape[1:]
        y = np.zeros((out, 2 * height + 1, 2 * width + 1))
        for a in range(3):
            for c in range(3):
                y[:, a : a + 2 * height : 2, c : c + 2 * width : 2] += np.einsum(
                    "io,ihw->ohw", w[:, :, 2 - a, 2 - c], x)
        return y + b[:, None, None]

    def __call__(self, x):
        pools = len(self.blocks) // 2
        x, skips = self.conv(x, 48, 3), []
        for i in range(pools):
            for _ in range(self.blocks[i]):
                x = np.concatenate([x, self.bn_relu_conv(x, self.growth, 3)])
            skips.append(x)
            x = self.bn_relu_conv(x, x.shape[0], 1)
            h, w = x.shape[1] // 2, x.shape[2] // 2
            x = x[:, : 2 * h, : 2 * w].reshape(x.shape[0], h, 2, w, 2).max(axis=(2, 4))
        new = []
        for _ in range(self.blocks[pools]):
            new.append(self.bn_relu_conv(x, self.growth, 3))
            x = np.concatenate([x, new[-1]])
        for i in range(pools):
            up = self.transposed(np.concatenate(new), self.growth * self.blocks[pools + i])
            skip = skips[-1 - i]
            x, new = np.concatenate([up[:, : skip.shape[1], : skip.shape[2]], skip]), []
            for _ in range(self.blocks[pools + 1 + i]):
                new.append(self.bn_relu_conv(x, self.growth, 3))
                x = np.concatenate([x, new[-1]])
        return self.conv(x, self.classes, 1)


def test_the_lasagne_release_layout_reproduces_its_numpy_forward(tmp_path):
    reference = LasagneReference(12, (4,) * 11, classes=3)
    image = np.random.default_rng(1).uniform(0, 1, (37, 45, 3))  # odd: pooling floors
    expected = reference(image.transpose(2, 0, 1))
    assert np.isfinite(expected).all() and np.abs(expected).max() > 1e-3
    assert len(reference.params) == 308  # 2 + 6 x 49 + 2 x 5 + 2
    path = tmp_path / "FC-DenseNet56_weights.npz"
    np.savez(path, *reference.params)
    model = keras_seg.build("fc_densenet56", num_classes=3, batch_norm="batch", epsilon=1e-4)
    report = keras_seg.load_weights(model, path)
    assert report.complete
    actual = np.asarray(model(image[None].astype("f4")))[0].transpose(2, 0, 1)
    np.testing.assert_allclose(actual, expected, rtol=1e-3, atol=1e-3 * np.abs(expected).max())


def test_a_lasagne_file_of_another_network_is_refused(tmp_path):
    reference = LasagneReference(12, (4,) * 11, classes=3)
    reference(np.zeros((3, 32, 32)))
    path = tmp_path / "w.npz"
    np.savez(path, *reference.params[:-1])  # one array short
    model = keras_seg.build("fc_densenet56", num_classes=3)
    with pytest.raises(keras_seg.ConversionError, match=r"(?s)left unfilled \(1\).*finalConv"):
        keras_seg.load_weights(model, path)


# --- the PyTorch port: torch's own forward -------------------------------------------------

def _torch_tiramisu(torch, growth, blocks, classes):
    nn = torch.nn

    class DenseLayer(nn.Sequential):
        def __init__(self, channels):
            super().__init__()
            self.add_module("norm", nn.BatchNorm2d(channels))
            self.add_module("relu", nn.ReLU(True))
            self.add_module("conv", nn.Conv2d(channels, growth, 3, padding=1, bias=True))
            self.add_module("drop", nn.Dropout2d(0.2))

    class DenseBlock(nn.Module):
        def __init__(self, channels, n, upsample):
            super().__init__()
            self.upsample = upsample
            self.layers = nn.ModuleList([DenseLayer(channels + i * growth) for i in range(n)])

        def forward(self, x):
            new = []
            for layer in self.layers:
                out = layer(x)
                x = torch.cat([x, out], 1)
                new.append(out)
            return torch.cat(new, 1) if self.upsample else x

    class TransitionDown(nn.Sequential):
        def __init__(self, channels):
            super().__init__()
            self.add_module("norm", nn.BatchNorm2d(channels))
            self.add_module("relu", nn.ReLU(True))
            self.add_module("conv", nn.Conv2d(channels, channels, 1, bias=True))
            self.add_module("drop", nn.Dropout2d(0.2))
            self.add_module("maxpool", nn.MaxPool2d(2))

    class TransitionUp(nn.Module):
        def __init__(self, channels):
            super().__init__()
            self.convTrans = nn.ConvTranspose2d(channels, channels, 3, stride=2, bias=True)

        def forward(self, x, skip):
            out = self.convTrans(x)
            h, w = skip.size(2), skip.size(3)
            top, left = (out.size(2) - h) // 2, (out.size(3) - w) // 2
            return torch.cat([out[:, :, top : top + h, left : left + w], skip], 1)

    class Bottleneck(nn.Sequential):
        def __init__(self, channels, n):
            super().__init__()
            self.add_module("bottleneck", DenseBlock(channels, n, True))

    class Tiramisu(nn.Module):
        def __init__(self):
            super().__init__()
            pools = len(blocks) // 2
            self.firstconv = nn.Conv2d(3, 48, 3, padding=1, bias=True)
            self.denseBlocksDown, self.transDownBlocks = nn.ModuleList(), nn.ModuleList()
            channels, skips = 48, []
            for i in range(pools):
                self.denseBlocksDown.append(DenseBlock(channels, blocks[i], False))
                channels += growth * blocks[i]
                skips.append(channels)
                self.transDownBlocks.append(TransitionDown(channels))
            self.bottleneck = Bottleneck(channels, blocks[pools])
            previous = growth * blocks[pools]
            self.transUpBlocks, self.denseBlocksUp = nn.ModuleList(), nn.ModuleList()
            for i in range(pools):
                self.transUpBlocks.append(TransitionUp(previous))
                channels = previous + skips[-1 - i]
                last = i == pools - 1
                self.denseBlocksUp.append(DenseBlock(channels, blocks[pools + 1 + i], not last))
                previous = growth * blocks[pools + 1 + i]
            self.finalConv = nn.Conv2d(channels + previous, classes, 1, bias=True)

        def forward(self, x):
            out, skips = self.firstconv(x), []
            for block, down in zip(self.denseBlocksDown, self.transDownBlocks):
                out = block(out)
                skips.append(out)
                out = down(out)
            out = self.bottleneck(out)
            for up, block in zip(self.transUpBlocks, self.denseBlocksUp):
                out = block(up(out, skips.pop()))
            return self.finalConv(out)

    return Tiramisu()


@pytest.mark.parametrize("name,legacy,size", [
    ("fc_densenet56", False, (32, 48)), ("fc_densenet56", True, (37, 51)),
    ("fc_densenet67", False, (37, 51)), ("fc_densenet103", True, (32, 48)),
])
def test_a_state_dict_of_the_pytorch_port_gives_its_output(tmp_path, name, legacy, size):
    torch = pytest.importorskip("torch", reason="torch==2.13.0 (the 'torch' test extra) is "
                                                "not installed: the PyTorch reference skips")
    from keras_seg.models.fc_densenet import TABLE

    torch.manual_seed(0)
    growth, blocks = TABLE[name]
    reference = _torch_tiramisu(torch, growth, blocks, classes=3).eval()
    with torch.no_grad():
        for key, tensor in reference.state_dict().items():
            if key.endswith("running_mean"):
                tensor.normal_(0, 0.5)
            elif key.endswith("running_var"):
                tensor.uniform_(0.5, 2.0)
            elif tensor.is_floating_point():
                tensor.normal_(0, 0.1)
    path = tmp_path / "tiramisu.pth"
    torch.save({"state_dict": reference.state_dict()}, path,
               _use_new_zipfile_serialization=not legacy)
    model = keras_seg.build(name, num_classes=3)
    report = keras_seg.load_weights(model, path)
    assert report.complete
    assert_matches_torch(model, reference,
                         np.random.default_rng(1).uniform(0, 1, (1, *size, 3)).astype("f4"))
