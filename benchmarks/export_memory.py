"""Peak memory and time of exporting the full-width FCN-8s (134M parameters) to ONNX and TFLite.

Usage: python benchmarks/export_memory.py [--format onnx tflite] [--out DIR] [--check]

Each format runs in a fresh process: build ``fcn8s`` with random weights, export it with
``keras_seg.export.export_model``, and print the peak resident memory of the process
(``resource.getrusage``'s ``ru_maxrss``) after the build and after the export, the times and
the file size. ``--check`` then runs the file in its runtime (ONNX Runtime, LiteRT) on one
64x64 input and prints the relative difference from Keras (after the peak is recorded).
TensorFlow's ONNX route (tf2onnx, ``model.export(format="onnx")``) was killed at 24 GB for
this model; the target is 8 GB.

Measured once on the 2-core, 24 GiB development machine (shared with other jobs, load
average about 9, so the times are long), Keras 3.15.1, TF 2.21, onnx 1.23.2, onnxruntime
1.32.0, ai-edge-litert 2.3.0; FCN-8s with 21 classes, 134,489,759 parameters (538 MB):

    onnx    build 12.7 s (peak 1.94 GB)  export 30.2 s (peak 2.92 GB)  file 538 MB
            relative difference from Keras 7.9e-07 (ONNX Runtime, 64x64)
    tflite  build 9.8 s (peak 1.94 GB)  export 110.6 s (peak 4.22 GB)  file 538 MB
            relative difference from Keras 1.2e-06 (LiteRT, 64x64)

Both peaks (the whole process: TensorFlow, the built model and the export) are under 8 GB.
"""

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SUFFIXES = {"onnx": ".onnx", "tflite": ".tflite"}


def _peak_gb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9  # KiB on Linux


def _child(format, out, check):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import numpy as np

    import keras_seg
    from keras_seg.export import export_model

    start = time.perf_counter()
    model = keras_seg.build("fcn8s")
    rng = np.random.default_rng(0)
    for layer in model.layers:  # FCN zero-initialises its score layers: make them random
        if layer.name in ("score_fr", "score_pool4", "score_pool3"):
            layer.kernel.assign(rng.normal(0, 0.01, layer.kernel.shape).astype("float32"))
    build_s, build_peak = time.perf_counter() - start, _peak_gb()
    path = Path(out) / f"fcn8s{SUFFIXES[format]}"
    start = time.perf_counter()
    export_model(model, path)
    export_s, export_peak = time.perf_counter() - start, _peak_gb()
    print(f"{format:7s} build {build_s:.1f} s (peak {build_peak:.2f} GB)  export {export_s:.1f} "
          f"s (peak {export_peak:.2f} GB)  file {path.stat().st_size / 1e6:.0f} MB  "
          f"({model.count_params():,} parameters)", flush=True)
    if check:
        x = np.random.default_rng(0).normal(0, 50, (1, 64, 64, 3)).astype("float32")
        expected = np.asarray(model(x))
        got, runtime = _run(format, path, x)
        error = np.abs(got - expected).max() / np.abs(expected).max()
        print(f"        relative difference from Keras {error:.1e} ({runtime}, 64x64)")


def _run(format, path, x):
    if format == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return session.run(None, {session.get_inputs()[0].name: x})[0], "ONNX Runtime"
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    index = interpreter.get_input_details()[0]["index"]
    interpreter.resize_tensor_input(index, x.shape, strict=False)
    interpreter.allocate_tensors()
    interpreter.set_tensor(index, x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"]), "LiteRT"


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--format", nargs="+", choices=sorted(SUFFIXES),
                        default=["onnx", "tflite"])
    parser.add_argument("--out", help="folder for the files (default: a temporary one)")
    parser.add_argument("--check", action="store_true",
                        help="compare each file's output with Keras on a 64x64 input")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.out, args.check)
        return
    with tempfile.TemporaryDirectory() as temporary:
        out = args.out or temporary
        for format in args.format:  # one process each: ru_maxrss is the process's peak
            command = [sys.executable, __file__, "--child", format, "--out", out]
            subprocess.run(command + (["--check"] if args.check else []), check=True)


if __name__ == "__main__":
    main()
