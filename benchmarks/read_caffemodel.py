"""Time reading and loading a full-size FCN-8s caffemodel (~537 MB) and report peak memory.

Usage: python benchmarks/read_caffemodel.py [--legacy]
Writes a random-weight caffemodel of the released fcn8s layout to a temporary folder, then
measures keras_seg.read_weights and keras_seg.load_weights in fresh processes.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

CHILD = r"""
import sys, time
import keras_seg

def high_water_mib():  # VmHWM: peak resident memory of this process (reset by exec)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024

mode, path = sys.argv[1], sys.argv[2]
if mode == "load":
    model = keras_seg.build("fcn8s")
base = high_water_mib()
start = time.perf_counter()
if mode == "read":
    blobs = keras_seg.read_weights(path)
    total = sum(float(b.sum()) for b in blobs.values())  # touch every value
else:
    keras_seg.load_weights(model, path)
elapsed = time.perf_counter() - start
peak = high_water_mib()
print(f"{mode}: {elapsed:.2f} s, peak RSS {peak:.0f} MiB (before: {base:.0f} MiB)")
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--legacy", action="store_true", help="V1 format, unpacked floats")
    args = parser.parse_args()
    from caffe_files import FCN, deploy_net, random_blobs, write_caffemodel

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fcn8s.caffemodel"
        write_caffemodel(path, random_blobs(deploy_net(FCN / "voc-fcn8s" / "deploy.prototxt")),
                         v1=args.legacy)
        size = path.stat().st_size / 2**20
        print(f"fcn8s caffemodel ({'V1, unpacked' if args.legacy else 'packed'}): {size:.0f} MiB")
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
        for mode in ("read", "load"):
            start = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", CHILD, mode, str(path)], env=env,
                                 capture_output=True, text=True, check=True).stdout
            print(out.strip(), f"(process total {time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
