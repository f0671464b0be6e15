"""wkentaro/pytorch-fcn state dicts: torch's own forward is the reference (torch optional)."""

import numpy as np
import pytest

import keras_seg

from caffe_files import write_caffemodel
from torch_files import assert_matches_torch

torch = pytest.importorskip("torch", reason="torch==2.13.0 (the 'torch' test extra) is not "
                                            "installed: the PyTorch reference tests skip")
nn = torch.nn
WIDTHS = (4, 8, 8, 8, 8, 16)


class TorchFCN8s(nn.Module):
    """pytorch-fcn's FCN8s (module names and forward), at reduced widths."""

    def __init__(self, n_class=3, widths=WIDTHS):
        super().__init__()
        blocks, c_in = [], 3
        for block, (width, depth) in enumerate(zip(widths[:5], (2, 2, 3, 3, 3)), start=1):
            for i in range(1, depth + 1):
                pad = 100 if (block, i) == (1, 1) else 1
                setattr(self, f"conv{block}_{i}", nn.Conv2d(c_in, width, 3, padding=pad))
                blocks.append(f"conv{block}_{i}")
                c_in = width
        self.fc6 = nn.Conv2d(widths[4], widths[5], 7)
        self.fc7 = nn.Conv2d(widths[5], widths[5], 1)
        self.score_fr = nn.Conv2d(widths[5], n_class, 1)
        self.score_pool3 = nn.Conv2d(widths[2], n_class, 1)
        self.score_pool4 = nn.Conv2d(widths[3], n_class, 1)
        self.upscore2 = nn.ConvTranspose2d(n_class, n_class, 4, stride=2, bias=False)
        self.upscore8 = nn.ConvTranspose2d(n_class, n_class, 16, stride=8, bias=False)
        self.upscore_pool4 = nn.ConvTranspose2d(n_class, n_class, 4, stride=2, bias=False)
        self.depths = (2, 2, 3, 3, 3)

    def forward(self, x):
        h, pools = x, {}
        for block, depth in enumerate(self.depths, start=1):
            for i in range(1, depth + 1):
                h = torch.relu(getattr(self, f"conv{block}_{i}")(h))
            h = nn.functional.max_pool2d(h, 2, stride=2, ceil_mode=True)
            pools[block] = h
        h = torch.relu(self.fc7(torch.relu(self.fc6(h))))
        upscore2 = self.upscore2(self.score_fr(h))
        h = self.score_pool4(pools[4])[:, :, 5 : 5 + upscore2.size(2), 5 : 5 + upscore2.size(3)]
        upscore_pool4 = self.upscore_pool4(upscore2 + h)
        h = self.score_pool3(pools[3])
        h = h[:, :, 9 : 9 + upscore_pool4.size(2), 9 : 9 + upscore_pool4.size(3)]
        h = self.upscore8(upscore_pool4 + h)
        return h[:, :, 31 : 31 + x.size(2), 31 : 31 + x.size(3)]


@pytest.fixture(scope="module")
def torch_model():
    torch.manual_seed(0)
    model = TorchFCN8s().eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0, 0.2)
    return model


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
@pytest.mark.parametrize("size", [(61, 83), (96, 70)])
def test_pth_gives_torchs_own_output(tmp_path, torch_model, legacy, size):
    path = tmp_path / "fcn8s_from_caffe.pth"
    torch.save(torch_model.state_dict(), path, _use_new_zipfile_serialization=not legacy)
    model = keras_seg.build("fcn8s", num_classes=3, widths=WIDTHS)
    report = keras_seg.load_weights(model, path)
    assert report.complete
    assert_matches_torch(model, torch_model,
                         np.random.default_rng(1).normal(0, 40, (1, *size, 3)).astype("f4"))


def test_pth_and_caffemodel_of_the_same_weights_agree(tmp_path, torch_model):
    path = tmp_path / "fcn8s.pth"
    torch.save({"model_state_dict": torch_model.state_dict(), "epoch": 3}, path)
    state = {k: v.numpy() for k, v in torch_model.state_dict().items()}
    layers = sorted({key.rsplit(".", 1)[0] for key in state})
    blobs = [(name, "Deconvolution" if name.startswith("upscore") else "Convolution",
              [state[f"{name}.weight"]] + ([state[f"{name}.bias"]]
                                           if f"{name}.bias" in state else []))
             for name in layers]
    caffemodel = write_caffemodel(tmp_path / "fcn8s.caffemodel", blobs)
    from_torch = keras_seg.build("fcn8s", num_classes=3, widths=WIDTHS)
    from_caffe = keras_seg.build("fcn8s", num_classes=3, widths=WIDTHS)
    keras_seg.load_weights(from_torch, path)
    keras_seg.load_weights(from_caffe, caffemodel)
    x = np.random.default_rng(2).normal(0, 40, (1, 50, 66, 3)).astype("f4")
    np.testing.assert_array_equal(np.asarray(from_torch(x)), np.asarray(from_caffe(x)))
