"""End to end on a 2048x1024 image with the full dilation10_cityscapes network (CLI).

Usage: python benchmarks/predict_cityscapes.py [--out build/cityscapes]
A random-weight caffemodel of the released layout stands in for the published file (no
download): `keras-seg convert`, then `keras-seg predict` on a generated 2048x1024 street
image, timing both and checking the label image's size.
"""

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def run(*args):
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "keras_seg.cli", *args], check=True)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="build/cityscapes")
    args = parser.parse_args()
    from PIL import Image

    from keras_seg.samples import street_scene

    from caffe_files import DILATION, deploy_net, random_blobs, write_caffemodel

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    source = DILATION / "models" / "dilation10_cityscapes_deploy.prototxt"
    caffemodel = write_caffemodel(out / "random.caffemodel", random_blobs(deploy_net(source)))
    weights = out / "dilation10_cityscapes.weights.h5"
    convert = run("convert", "dilation10_cityscapes", str(caffemodel), "--out", str(weights),
                  "--prototxt", str(source))
    image = out / "big.png"
    Image.fromarray(street_scene(1024, 2048)).save(image)
    predict = run("predict", "dilation10_cityscapes", str(image), "--weights", str(weights),
                  "--overlay", str(out / "overlay.png"))
    with Image.open(out / "big_labels.png") as labels:
        size, mode = labels.size, labels.mode
    print(f"convert {convert:.0f} s; predict 2048x1024 (2 tiles of 1396x1396) {predict:.0f} s; "
          f"labels {size[0]}x{size[1]} mode {mode}")


if __name__ == "__main__":
    main()
