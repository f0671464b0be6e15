"""Scaling with Ray workers: throughput for 1, 2, ... workers on one machine or a cluster.

Usage:
    python benchmarks/scale.py prediction                      # 1 and 2 workers, local
    python benchmarks/scale.py prediction --workers 1 2 4 --address HOST:PORT
    python benchmarks/scale.py training                        # 1 and 2 JAX processes

One section per job, each a function of its own: its arguments, its run, its printed lines.
``training`` runs ``benchmarks/scale_training.py`` (training steps per second under
``--distribution data-parallel``, whose processes that script starts as its own workers).

**Prediction.** A folder of generated street-like JPEGs (``keras_seg.samples``) goes
through :func:`keras_seg.predict_dataset` into a fresh output folder, on a local Ray cluster
of ``--num-cpus`` CPUs (or the cluster at ``--address``), with each number of workers (one
CPU and one TensorFlow thread each). The network is FCN-8s at a quarter of VGG's widths
(``benchmarks/batch_predict.py``'s, random weights in a ``.weights.h5`` every worker loads).
A run has a cost per worker start (Python, TensorFlow, the model built and its weights
loaded, the graph traced) and a cost per image (read, forward, label PNG written, a row sent
back). From the manifest's ``finished`` times: ``steady`` counts the images finished while
every worker was running (from the last worker's first image to the first worker's last)
per second, ``start`` is the time from the call to the first image done, ``end to end`` the
images over the call's wall time, start included. Each figure is the best of ``--runs``.
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

PREDICTION_WIDTHS = (16, 32, 64, 128, 128, 1024)


# -- prediction --------------------------------------------------------------------------


def prediction_arguments(parser):
    parser.add_argument("--images", type=int, default=96)
    parser.add_argument("--size", type=int, nargs=2, default=(240, 320), metavar=("H", "W"))
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--num-cpus", type=int, default=2, help="CPUs of the local cluster")
    parser.add_argument("--address", help="a running cluster instead of a local one")
    parser.add_argument("--runs", type=int, default=1)


def write_images(folder, count, height, width):
    """``count`` generated JPEG street scenes in ``folder``."""
    from PIL import Image

    from keras_seg.samples import street_scene

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        Image.fromarray(street_scene(height, width, seed=i)).save(folder / f"{i:05d}.jpg",
                                                                   quality=90)


def write_weights(path):
    """Random weights of the benchmark's network (score layers too, so labels vary)."""
    import keras

    import keras_seg

    keras.utils.set_random_seed(0)
    model = keras_seg.build("fcn8s", num_classes=21, widths=PREDICTION_WIDTHS)
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if layer.name.startswith("score_") and hasattr(layer, "kernel"):
            layer.kernel.assign(rng.normal(0, 0.05, layer.kernel.shape))
    model.save_weights(path)


def predict_run(folder, out, weights, workers):
    """(steady images/s, start s, end-to-end images/s) of one predict_dataset run."""
    import pyarrow.parquet as pq

    import keras_seg

    called = time.time()
    report = keras_seg.predict_dataset(
        "fcn8s", folder, out, weights=weights, workers=workers,
        builder_args={"num_classes": 21, "widths": PREDICTION_WIDTHS})
    wall = time.time() - called
    assert report.workers == workers and not report.failed and not report.skipped
    rows = pq.read_table(out / "manifest.parquet").to_pylist()
    by_worker = {}
    for row in rows:
        by_worker.setdefault(row["worker"], []).append(row["finished"])
    assert len(by_worker) == workers, "a worker got no image: too few images"
    since = max(min(times) for times in by_worker.values())
    until = min(max(times) for times in by_worker.values())
    inside = sum(since < row["finished"] <= until for row in rows)
    steady = inside / (until - since) if until > since else float("nan")
    first = min(row["finished"] for row in rows)
    return steady, first - called, len(rows) / wall


def prediction(args):
    from keras_seg.inference.ray_predict import connect

    ray = connect(args.address, num_cpus=None if args.address else args.num_cpus)
    cpus = int(ray.cluster_resources().get("CPU", 0))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        weights = tmp / "fcn8s.weights.h5"
        write_weights(weights)
        write_images(tmp / "images", args.images, *args.size)
        print(f"FCN-8s widths {PREDICTION_WIDTHS}, {args.images} JPEGs "
              f"{args.size[0]}x{args.size[1]}, Ray cluster of {cpus} CPUs, one CPU per "
              f"worker, best of {args.runs}")
        print("workers | steady images/s | start s | end to end images/s")
        for workers in args.workers:
            results = [predict_run(tmp / "images", tmp / f"out-{workers}-{run}", weights,
                                   workers) for run in range(args.runs)]
            steady = max(r[0] for r in results)
            start = min(r[1] for r in results)
            end_to_end = max(r[2] for r in results)
            print(f"{workers:7d} | {steady:15.2f} | {start:7.1f} | {end_to_end:19.2f}")
    ray.shutdown()


# -- training ------------------------------------------------------------------------------

def training_arguments(parser):
    """``training [ARGS...]``: passed on to ``benchmarks/scale_training.py``."""
    parser.add_argument("rest", nargs=argparse.REMAINDER,
                        help="scale_training.py's options (--processes 1 2, --steps ...)")


def training(args):
    """Training steps per second for 1 and 2 processes (``scale_training.py``)."""
    import subprocess
    import sys

    script = Path(__file__).with_name("scale_training.py")
    subprocess.run([sys.executable, str(script), *args.rest], check=True)


# -- the command line ----------------------------------------------------------------------

SECTIONS = {"prediction": (prediction_arguments, prediction),
            "training": (training_arguments, training)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parts = parser.add_subparsers(dest="section", required=True)
    for name, (arguments, _) in SECTIONS.items():
        arguments(parts.add_parser(name))
    args = parser.parse_args()
    SECTIONS[args.section][1](args)


if __name__ == "__main__":
    main()
