"""Speed of every network at its original input size, against OpenCV and ONNX Runtime.

Usage: python benchmarks/run.py [--models fcn8s dilation8_pascal_voc ...] [--repeats 3]
       [--out build/benchmarks] [--skip opencv onnx bf16 tiled convert]

Per network (full width, random weights, one image at its deploy or reference size; each in
a process of its own so that its peak memory is its own), best of ``--repeats``:

- keras_seg forward in float32 and in bfloat16 (the compiled forward of
  :mod:`keras_seg.inference.forward`), and the share of labels bfloat16 leaves unchanged;
- OpenCV's DNN module on the same weights written as a caffemodel with the release's
  deploy prototxt (FCN and DilatedNet, whose prototxts are in ``../shared/reference``);
- ONNX Runtime on the file ``keras-seg export`` writes;
- GFLOP/s achieved (FLOPs from :mod:`keras_seg.model_stats`) against the rate of a large float32
  matrix product measured first, and the process's peak resident memory.

Then the time to convert a full-size FCN-8s caffemodel and the throughput of blended tiled
prediction. Prints a Markdown table and saves ``results.csv`` and ``results.md`` in
``--out``; the README quotes them with the command and the date.

The float32 forward and ONNX Runtime are timed in turn (``best_of_alternating``): this
shared machine has slower spells of 10-20% that would otherwise fall on one of the two.

Printed on 2026-11-30 (this 2-core CPU, oneDNN on, ``--repeats 3 --skip convert --models
fcn8s dilation8_pascal_voc unet fcn32s fcn16s fcn8s_atonce``; the float32 matrix product ran
at 284 GFLOP/s; SegNet and FC-DenseNet-103 from an earlier run, ``--repeats 2``, 310 GFLOP/s):

| model | input | GFLOP | fp32 | bf16 | speed-up | OpenCV | ONNX RT | fp32 GFLOP/s | peak GB |
|---|---|---|---|---|---|---|---|---|---|
| fcn8s (hybrid) | 500x500 | 363 | 1.30 s | 0.50 s | 2.59 | 2.10 s | 1.32 s | 279 (0.98) | 4.51 |
| dil8_voc (hyb.) | 900x900 | 1653 | 6.20 s | 1.47 s | 4.23 | 13.9 s | 5.20 s | 267 (0.94) | 4.56 |
| unet (hybrid) | 572x572 | 315 | 1.22 s | 0.29 s | 4.17 | - | 1.17 s | 258 (0.91) | 2.89 |
| fcn32s (hybrid) | 500x500 | 363 | 1.31 s | 0.49 s | 2.68 | - | 1.32 s | 277 (0.98) | 4.56 |
| fcn16s (hybrid) | 500x500 | 363 | 1.27 s | 0.47 s | 2.72 | - | 1.31 s | 286 (1.01) | 4.49 |
| fcn8s_atonce (hybrid) | 500x500 | 363 | 1.37 s | 0.54 s | 2.52 | - | 1.39 s | 266 (0.93) | 4.50 |
| segnet (xla) | 360x480 | 213 | 0.83 s | 0.43 s | 1.92 | - | 0.78 s | 256 (0.81) | 1.90 |
| fc_densenet103 (graph) | 360x480 | 138 | 1.06 s | 1.05 s | 1.01 | - | 1.15 s | 130 (0.41) | 3.39 |

(In brackets: the share of the matrix-product rate; GFLOP count the direct convolutions'
arithmetic, which Winograd's algorithm in the hybrid compiler cuts, hence shares near or
above 1.) Blended tiled FCN-8s prediction (512-px tiles, overlap 0.25, 1536x1536): 0.08
Mpixel/s; conversion of a full-size FCN-8s caffemodel: 3.6 s (an earlier run). Labels
unchanged by bfloat16 are measured on random weights (``benchmarks/precision.py`` explains
why they say little and measures a network trained here). Float32 FCN-8s took 2.88 s in
TensorFlow's graph and 1.48 s under whole-network XLA, DilatedNet 8.95 s and 7.11 s. The
fp32 targets hold: FCN-8s at 0.62x OpenCV and 0.99x ONNX Runtime, DilatedNet at 0.45x
OpenCV (1.19x ONNX Runtime).
"""

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# As the tests find them (tests/references.py): the variable, CI's copy, then `fetch`'s default.
_SHARED = Path(__file__).resolve().parents[2] / "shared" / "reference"
REFERENCE = Path(os.environ.get("KERAS_SEG_REFERENCE") or (
    _SHARED if _SHARED.is_dir() else Path(__file__).resolve().parents[1] / ".references"))
DEFAULT_MODELS = ("fcn8s", "dilation8_pascal_voc", "dilation10_cityscapes", "unet",
                  "segnet", "fc_densenet103")
PROTOTXTS = {
    "fcn32s": "shelhamer+fcn.berkeleyvision.org/voc-fcn32s/deploy.prototxt",
    "fcn16s": "shelhamer+fcn.berkeleyvision.org/voc-fcn16s/deploy.prototxt",
    "fcn8s": "shelhamer+fcn.berkeleyvision.org/voc-fcn8s/deploy.prototxt",
    **{name: f"fyu+dilation/models/{name}_deploy.prototxt"
       for name in ("dilation8_pascal_voc", "dilation8_camvid", "dilation7_kitti",
                    "dilation10_cityscapes")},
}
COLUMNS = ("model", "input", "gflop", "fp32_compiler", "fp32_s", "bf16_s", "bf16_speedup",
           "bf16_labels_same", "opencv_s", "fp32_vs_opencv", "onnxruntime_s", "fp32_vs_onnxruntime",
           "fp32_gflops", "share_of_matmul", "peak_gb")


def best_of(function, repeats):
    function()  # warm-up: tracing, allocation
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def matmul_rate(size=4096, repeats=3):
    """GFLOP/s of a float32 matrix product through TensorFlow (the ceiling of convolutions)."""
    import tensorflow as tf

    a = tf.random.normal((size, size))
    seconds = best_of(lambda: tf.linalg.matmul(a, a).numpy(), repeats)
    return 2 * size ** 3 / seconds / 1e9


def measure(name, repeats, skip):
    """One network's figures (run in a process of its own)."""
    import resource

    import keras_seg
    from keras_seg.inference.forward import compiled_forward
    from keras_seg.inference.preprocess import input_convention
    from keras_seg.model_stats import model_stats, reference_size
    from keras_seg.samples import street_scene

    spec = keras_seg.get_spec(name)
    height, width = reference_size(name)
    model = keras_seg.build(name)
    convention = input_convention(model)
    image = street_scene(height, width, seed=1)
    if convention.channels == 1:
        image = image[..., :1].repeat(3, axis=-1)
    x = np.asarray(convention(image), np.float32)[None]
    row = {"model": name, "input": f"{height}x{width}",
           "gflop": 2 * model_stats(model, (height, width)).macs / 1e9,
           "fp32_compiler": spec.compiler}

    def forward(precision):
        function = compiled_forward(model, input_shape=(1, height, width, x.shape[-1]),
                                    activation=None, precision=precision)
        return lambda: np.asarray(function(x))

    fp32 = forward("float32")
    row["fp32_s"] = best_of(fp32, repeats)
    reference = fp32()
    if "bf16" not in skip:
        bf16 = forward("bfloat16")
        row["bf16_s"] = best_of(bf16, repeats)
        row["bf16_speedup"] = row["fp32_s"] / row["bf16_s"]
        row["bf16_labels_same"] = float(np.mean(bf16().argmax(-1) == reference.argmax(-1)))
    with tempfile.TemporaryDirectory() as folder:
        if "opencv" not in skip and name in PROTOTXTS and (REFERENCE / PROTOTXTS[name]).exists():
            row["opencv_s"] = _opencv_time(model, REFERENCE / PROTOTXTS[name], x, folder,
                                           repeats)
            row["fp32_vs_opencv"] = row["fp32_s"] / row["opencv_s"]
        if "onnx" not in skip:
            # alternately, so that a slower spell of this shared machine slows both
            onnx = _onnx_session(model, x, folder)
            row["onnxruntime_s"], fp32_again = best_of_alternating((onnx, fp32), repeats)
            row["fp32_s"] = min(row["fp32_s"], fp32_again)
            row["fp32_vs_onnxruntime"] = row["fp32_s"] / row["onnxruntime_s"]
    row["fp32_gflops"] = row["gflop"] / row["fp32_s"]
    row["peak_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    del spec
    return row


def _opencv_time(model, prototxt, x, folder, repeats):
    import cv2

    from keras_seg.convert.caffe_writer import save_caffemodel

    caffemodel = Path(folder) / "weights.caffemodel"
    save_caffemodel(model, caffemodel)
    net = cv2.dnn.readNetFromCaffe(str(prototxt), str(caffemodel))
    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
    blob = np.ascontiguousarray(x.transpose(0, 3, 1, 2))

    def run():
        net.setInput(blob)
        return net.forward()

    return best_of(run, repeats)


def _onnx_session(model, x, folder):
    """A function running ONNX Runtime on the exported model's file, on ``x``."""
    import onnxruntime

    from keras_seg.export import export_model

    path = Path(folder) / "model.onnx"
    export_model(model, path, "onnx")
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = {session.get_inputs()[0].name: x}
    return lambda: session.run(None, feed)


def best_of_alternating(functions, repeats):
    """The best time of each function, called in turn ``repeats`` times after a warm-up."""
    for function in functions:
        function()
    times = [[] for _ in functions]
    for _ in range(repeats):
        for function, seconds in zip(functions, times):
            start = time.perf_counter()
            function()
            seconds.append(time.perf_counter() - start)
    return [min(seconds) for seconds in times]


def conversion_time():
    """Seconds to read and load a full-size FCN-8s caffemodel (134M parameters)."""
    import keras_seg
    from keras_seg.convert.caffe_writer import save_caffemodel

    model = keras_seg.build("fcn8s")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fcn8s.caffemodel"
        save_caffemodel(model, path)
        start = time.perf_counter()
        keras_seg.load_weights(keras_seg.build("fcn8s"), path)
        return time.perf_counter() - start


def tiled_throughput(size=1536, tile=512):
    """Megapixels per second of blended tiled FCN-8s prediction on a large image."""
    import keras_seg
    from keras_seg.samples import street_scene

    model = keras_seg.build("fcn8s")
    image = street_scene(size, size, seed=2)
    keras_seg.predict(model, image[:tile, :tile], tile_size=tile)  # warm-up
    start = time.perf_counter()
    keras_seg.predict(model, image, tile_size=tile, overlap=0.25, batch_size=2)
    return size * size / 1e6 / (time.perf_counter() - start)


def _format(value):
    if value is None:
        return "-"
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default="build/benchmarks")
    parser.add_argument("--skip", nargs="*", default=[],
                        choices=["opencv", "onnx", "bf16", "tiled", "convert"])
    parser.add_argument("--one", help=argparse.SUPPRESS)  # a child process: one network
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.repeats, set(args.skip))))
        return
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rate = matmul_rate()
    print(f"float32 matrix product (4096x4096, TensorFlow): {rate:.0f} GFLOP/s", flush=True)
    rows = []
    for name in args.models:
        command = [sys.executable, __file__, "--one", name, "--repeats", str(args.repeats)]
        if args.skip:
            command += ["--skip", *args.skip]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode:
            print(f"{name}: failed: {result.stderr.strip().splitlines()[-1]}", flush=True)
            continue
        row = json.loads(result.stdout.strip().splitlines()[-1])
        row["share_of_matmul"] = row["fp32_gflops"] / rate
        rows.append(row)
        print(", ".join(f"{key} {_format(row.get(key))}" for key in COLUMNS), flush=True)
    extras = []
    if "convert" not in args.skip:
        extras.append(f"conversion of a full-size FCN-8s caffemodel: {conversion_time():.1f} s")
    if "tiled" not in args.skip:
        extras.append(f"blended tiled FCN-8s prediction (512-px tiles, overlap 0.25, "
                      f"1536x1536): {tiled_throughput():.2f} Mpixel/s")
    with open(out / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    lines = [f"{time.strftime('%Y-%m-%d')}, `python benchmarks/run.py`, {os.cpu_count()} CPU "
             f"cores; float32 matrix product {rate:.0f} GFLOP/s", "",
             "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(_format(row.get(key)) for key in COLUMNS) + " |"
              for row in rows]
    lines += ["", *extras]
    (out / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
