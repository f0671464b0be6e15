"""U-Net as released: layout, size rule, equality with OpenCV's Caffe importer, overlap-tile."""

import numpy as np
import pytest

import keras_seg
from keras_seg.convert.prototxt import load_prototxt
from keras_seg.models.unet import valid_sizes_near

from caffe_files import opencv_forward, random_blobs, relative_error, write_caffemodel
from torch_files import assert_matches_torch

NARROW = {"widths": (4, 8, 8, 16, 16), "last_upconv": 8, "num_classes": 3}


def _prototxt(height, width, widths=(4, 8, 8, 16, 16), last_upconv=8, classes=3):
    """The release's layer list written as a Caffe deploy prototxt (narrow widths)."""
    layers = []

    def add(text):
        layers.append("layer {\n" + text + "\n}")

    def conv(name, bottom, top, n, k=3, kind="Convolution", stride=1):
        add(f'name: "{name}" type: "{kind}" bottom: "{bottom}" top: "{top}" '
            f"convolution_param {{ num_output: {n} kernel_size: {k} stride: {stride} }}")

    def relu(name, blob):
        add(f'name: "{name}" type: "ReLU" bottom: "{blob}" top: "{blob}"')

    bottom = "data"
    for level, width_ in enumerate(widths):
        conv(f"conv_d{level}a-b", bottom, f"d{level}b", width_)
        relu(f"relu_d{level}b", f"d{level}b")
        conv(f"conv_d{level}b-c", f"d{level}b", f"d{level}c", width_)
        relu(f"relu_d{level}c", f"d{level}c")
        bottom = f"d{level}c"
        if level < 4:
            add(f'name: "pool_d{level}c-{level + 1}a" type: "Pooling" bottom: "{bottom}" '
                f'top: "d{level + 1}a" pooling_param {{ pool: MAX kernel_size: 2 stride: 2 }}')
            bottom = f"d{level + 1}a"
    for level, source, offset in zip((3, 2, 1, 0), ("d4c", "u3d", "u2d", "u1d"),
                                     (4, 16, 40, 88)):
        up = f"u{level}a"
        n = last_upconv if level == 0 else widths[level]
        conv(f"upconv_{source}_u{level}a", bottom, up, n, k=2, kind="Deconvolution", stride=2)
        relu(f"relu_u{level}a", up)
        add(f'name: "crop_d{level}c-d{level}cc" type: "Crop" bottom: "d{level}c" '
            f'bottom: "{up}" top: "d{level}cc" crop_param {{ axis: 2 offset: {offset} }}')
        add(f'name: "concat_d{level}cc_u{level}a-b" type: "Concat" bottom: "{up}" '
            f'bottom: "d{level}cc" top: "u{level}b"')
        conv(f"conv_u{level}b-c", f"u{level}b", f"u{level}c", widths[level])
        relu(f"relu_u{level}c", f"u{level}c")
        conv(f"conv_u{level}c-d", f"u{level}c", f"u{level}d", widths[level])
        relu(f"relu_u{level}d", f"u{level}d")
        bottom = f"u{level}d"
    conv("conv_u0d-score", bottom, "score", classes, k=1)
    head = f'name: "unet" input: "data" input_shape {{ dim: 1 dim: 1 dim: {height} dim: {width} }}'
    return head + "\n" + "\n".join(layers) + "\n"


def test_the_release_layout_and_its_parameter_count():
    model = keras_seg.build("unet")
    assert model.count_params() == 31_100_354  # about 31.1M, with the 128-wide last up-conv
    assert model.get_layer("upconv_u1d_u0a").kernel.shape == (2, 2, 128, 128)
    assert model.get_layer("conv_u0b-c").kernel.shape == (3, 3, 128 + 64, 64)
    assert model.compute_output_shape((1, 572, 572, 1)) == (1, 388, 388, 2)
    assert model.compute_output_shape((1, 380, 444, 1)) == (1, 196, 260, 2)
    names = {layer.name for layer in model.layers}
    assert {"conv_d0a-b", "conv_d4b-c", "upconv_d4c_u3a", "conv_u3b-c", "conv_u3c-d",
            "upconv_u3d_u2a", "upconv_u1d_u0a", "conv_u0d-score", "dropout_d3c",
            "dropout_d4c", "crop_d0c-d0cc", "concat_d0cc_u0a-b"} <= names
    assert keras_seg.get_spec("unet").input.channels == 1


@pytest.mark.parametrize("size,nearest", [(190, "188 and 204"), (100, "188"),
                                          (573, "572 and 588")])
def test_other_sizes_are_refused_naming_the_nearest_valid_ones(size, nearest):
    model = keras_seg.build("unet", **NARROW)
    with pytest.raises(ValueError, match=f"got {size}, nearest valid sizes: {nearest}"):
        model(np.zeros((1, 188, size, 1), "float32"))
    assert valid_sizes_near(572) == (572, 572)


@pytest.mark.parametrize("height,width", [(572, 572), (236, 204)])
def test_equals_opencv_running_the_caffe_layout(tmp_path, height, width):
    prototxt = tmp_path / "unet.prototxt"
    prototxt.write_text(_prototxt(height, width))
    from keras_seg.convert.prototxt import net_layers

    blobs = random_blobs(net_layers(load_prototxt(prototxt)), seed=3, in_channels=1)
    caffemodel = write_caffemodel(tmp_path / "unet.caffemodel", blobs)
    model = keras_seg.build("unet", **NARROW)
    report = keras_seg.load_weights(model, caffemodel, prototxt=prototxt)
    assert report.complete
    x = np.random.default_rng(0).uniform(0, 1, (1, height, width, 1)).astype("float32")
    expected = opencv_forward(prototxt, caffemodel, x)
    actual = np.asarray(model(x))
    assert actual.shape == expected.shape == (1, height - 184, width - 184, 3)
    assert relative_error(actual, expected) < 1e-4


def test_overlap_tile_equals_the_whole_mirrored_forward():
    # the paper's strategy: mirror the border by the 92-pixel context, one forward of a valid
    # size, crop; tiles aligned to 16 must give the same scores wherever the image is
    import cv2

    model = keras_seg.build("unet", **NARROW)
    rng = np.random.default_rng(2)
    for variable in model.weights:
        variable.assign(rng.normal(0, 0.3, variable.shape))
    image = rng.uniform(0, 1, (300, 213, 1)).astype("float32")
    valid = [valid_sizes_near(n + 184)[1] for n in image.shape[:2]]
    padded = cv2.copyMakeBorder(image[..., 0], 92, valid[0] - image.shape[0] - 92, 92,
                                valid[1] - image.shape[1] - 92, cv2.BORDER_REFLECT_101)
    whole = np.asarray(model(padded[None, ..., None]))[0, : image.shape[0], : image.shape[1]]
    tiled = keras_seg.predict_tiled(model, image, tile_size=252, overlap=0.25,
                                    geometry=(92, 1, 16), blend="gaussian")
    np.testing.assert_allclose(tiled, whole, rtol=1e-4, atol=1e-4 * np.abs(whole).max())


def test_overlap_tile_segments_any_size_like_one_large_tile():
    model = keras_seg.build("unet", **NARROW)
    rng = np.random.default_rng(1)
    for layer in model.layers:  # larger weights: scores that vary across the image
        for variable in layer.weights:
            variable.assign(rng.normal(0, 0.3, variable.shape))
    image = rng.integers(0, 256, (150, 230, 3), dtype=np.uint8)
    labels, probs = keras_seg.predict(model, image, return_probabilities=True)
    assert labels.shape == (150, 230) and len(np.unique(labels)) > 1
    # smaller tiles, blended: the network is translation-equivariant by 16-pixel shifts, so
    # tiles aligned to 16 give the whole-image values wherever their full context is inside
    tiled = keras_seg.predict(model, image, return_probabilities=True, tile_size=236,
                              overlap=0.5, blend="constant")[1]
    np.testing.assert_allclose(tiled, probs, atol=1e-4)


def _torch_unet(torch, widths, classes):
    """milesial/Pytorch-UNet's UNet(bilinear=False): module names and forward."""
    nn, functional = torch.nn, torch.nn.functional

    class DoubleConv(nn.Module):
        def __init__(self, c_in, c_out):
            super().__init__()
            self.double_conv = nn.Sequential(
                nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True), nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
                nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))

        def forward(self, x):
            return self.double_conv(x)

    class Down(nn.Module):
        def __init__(self, c_in, c_out):
            super().__init__()
            self.maxpool_conv = nn.Sequential(nn.MaxPool2d(2), DoubleConv(c_in, c_out))

        def forward(self, x):
            return self.maxpool_conv(x)

    class Up(nn.Module):
        def __init__(self, c_in, c_out):
            super().__init__()
            self.up = nn.ConvTranspose2d(c_in, c_in // 2, kernel_size=2, stride=2)
            self.conv = DoubleConv(c_in, c_out)

        def forward(self, x1, x2):
            x1 = self.up(x1)
            dy, dx = x2.size(2) - x1.size(2), x2.size(3) - x1.size(3)
            x1 = functional.pad(x1, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2])
            return self.conv(torch.cat([x2, x1], dim=1))

    class UNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.inc = DoubleConv(3, widths[0])
            for i in range(1, 5):
                setattr(self, f"down{i}", Down(widths[i - 1], widths[i]))
                setattr(self, f"up{i}", Up(widths[5 - i], widths[4 - i]))

            class OutConv(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.conv = nn.Conv2d(widths[0], classes, 1)

                def forward(self, x):
                    return self.conv(x)

            self.outc = OutConv()

        def forward(self, x):
            skips = [self.inc(x)]
            for i in range(1, 5):
                skips.append(getattr(self, f"down{i}")(skips[-1]))
            x = skips[4]
            for i in range(1, 5):
                x = getattr(self, f"up{i}")(x, skips[4 - i])
            return self.outc(x)

    return UNet()


@pytest.mark.parametrize("size", [(32, 48), (37, 45)])
def test_unet_padded_loads_a_milesial_state_dict_and_gives_its_output(tmp_path, size):
    torch = pytest.importorskip("torch", reason="torch==2.13.0 (the 'torch' test extra) is "
                                                "not installed: the PyTorch reference skips")
    widths = (4, 8, 16, 32, 64)  # doubling, as the layout needs (the up-conv halves)
    torch.manual_seed(0)
    reference = _torch_unet(torch, widths, classes=3).eval()
    with torch.no_grad():
        for name, tensor in reference.state_dict().items():
            if name.endswith("running_var"):
                tensor.uniform_(0.5, 2.0)
            elif tensor.is_floating_point():
                tensor.normal_(0, 0.3)
    path = tmp_path / "unet.pth"
    torch.save(reference.state_dict(), path)
    model = keras_seg.build("unet_padded", num_classes=3, widths=widths)
    assert keras_seg.load_weights(model, path).complete
    assert_matches_torch(model, reference,
                         np.random.default_rng(0).uniform(0, 1, (1, *size, 3)).astype("f4"))
