"""Time DilatedNet VOC's forward at its deploy size (900x900): Keras vs OpenCV, same weights.

Usage: python benchmarks/dilation_forward.py [--runs 3] [--size 900]
A random-weight caffemodel of the released dilation8_pascal_voc layout is written, then
OpenCV's dnn module (readNetFromCaffe) and keras_seg (build + load_weights) each run warm-up
plus --runs forwards of one tile; the best and median times are printed, with the largest
relative difference between the two outputs.
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def _time(fn, runs):
    fn()  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return out, min(times), statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--size", type=int, default=900)
    args = parser.parse_args()
    import cv2
    import tensorflow as tf

    import keras_seg

    from caffe_files import DILATION, relative_error, write_reference_pair

    source = DILATION / "models" / "dilation8_pascal_voc_deploy.prototxt"
    x = np.random.default_rng(0).uniform(-120, 120, (1, args.size, args.size, 3)).astype("f4")
    with tempfile.TemporaryDirectory() as tmp:
        prototxt, caffemodel, _ = write_reference_pair(tmp, source, height=args.size,
                                                       width=args.size)
        net = cv2.dnn.readNetFromCaffe(str(prototxt), str(caffemodel))
        net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
        blob = np.ascontiguousarray(x.transpose(0, 3, 1, 2))

        def opencv():
            net.setInput(blob)
            return net.forward("ct_final").transpose(0, 2, 3, 1)

        model = keras_seg.build("dilation8_pascal_voc")
        keras_seg.load_weights(model, caffemodel)
        forward = tf.function(lambda t: model(t, training=False), jit_compile=False)

        def keras_forward():
            return forward(tf.constant(x)).numpy()

        print(f"dilation8_pascal_voc forward of one {args.size}x{args.size} tile, "
              f"{args.runs} runs after a warm-up; cv2 {cv2.__version__}, TF {tf.__version__}, "
              f"threads cv2={cv2.getNumThreads()}")
        ref, cv_best, cv_median = _time(opencv, args.runs)
        print(f"  OpenCV dnn : best {cv_best:6.2f} s, median {cv_median:6.2f} s")
        out, k_best, k_median = _time(keras_forward, args.runs)
        print(f"  keras_seg  : best {k_best:6.2f} s, median {k_median:6.2f} s")
        print(f"  keras / OpenCV (median): {k_median / cv_median:.2f}; "
              f"relative difference of outputs {relative_error(out, ref):.1e}")


if __name__ == "__main__":
    main()
