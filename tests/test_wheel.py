"""The package as a user gets it: a wheel installed outside the source tree, offline."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import keras_seg

from caffe_files import caffemodel_from_model

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The wheel built from this checkout, installed into a folder of its own."""
    tmp = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", "--wheel-dir", str(tmp / "dist"), str(ROOT)],
                   check=True, capture_output=True, timeout=300)
    wheel = next((tmp / "dist").glob("keras_seg-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--target", str(tmp / "site"), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    return tmp, wheel


def _run(tmp, *args):
    env = {**os.environ, "PYTHONPATH": str(tmp / "site"),
           "KERAS_SEG_WEIGHTS": str(tmp / "cache")}
    return subprocess.run([sys.executable, str(tmp / "site" / "bin" / "keras-seg"), *args],
                          cwd=tmp, env=env, capture_output=True, text=True, timeout=600)


def test_the_wheel_holds_every_package(installed):
    _, wheel = installed
    names = zipfile.ZipFile(wheel).namelist()
    source = {str(p.relative_to(ROOT)) for p in (ROOT / "keras_seg").rglob("*.py")}
    assert source <= set(names)


def test_fetch_from_a_file_then_predict_from_the_installed_wheel(installed):
    """SegNet-Basic's CamVid release (1.4M parameters) in its published layout, random values."""
    tmp, _ = installed
    published = tmp / "segnet_basic_camvid.caffemodel"
    caffemodel_from_model(keras_seg.build("segnet_basic", variant="camvid"), published, seed=1)
    image = tmp / "street.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 56, 3), np.uint8)).save(image)
    fetched = _run(tmp, "weights", "fetch", "segnet_basic", "--from", str(published))
    assert fetched.returncode == 0, fetched.stderr
    assert f"wrote {tmp / 'cache' / 'segnet_basic_camvid.weights.h5'}" in fetched.stdout
    predicted = _run(tmp, "predict", "segnet_basic", str(image), "--verbose")
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    assert str(tmp / "site" / "keras_seg") in _run_python(tmp, "import keras_seg; "
                                                          "print(keras_seg.__file__)")
    labels = np.asarray(Image.open(tmp / "street_labels.png"))
    assert labels.shape == (40, 56) and labels.max() < 11
    assert not list((ROOT / "weights").glob("*.weights.h5"))  # nothing in the source tree


def _run_python(tmp, code):
    env = {**os.environ, "PYTHONPATH": str(tmp / "site")}
    return subprocess.run([sys.executable, "-c", code], cwd=tmp, env=env, capture_output=True,
                          text=True, timeout=120, check=True).stdout
