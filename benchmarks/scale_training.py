"""Training steps per second under ``--distribution data-parallel``, 1 and 2 local processes.

Usage: python benchmarks/scale_training.py [--processes 1 2] [--steps 24] [--batch-size 8]
    [--crop-size 96] [--out build/scale_training]

Each run trains the same narrow FCN-8s on generated shapes with one global batch
(``--batch-size``) under ``KERAS_BACKEND=jax``: N processes on this machine, each with one
CPU device and its share of every batch, joined through a coordinator on 127.0.0.1 (Keras's
``KERAS_DISTRIBUTION_*`` variables). Steps per second are timed in process 0 from the end of
the warm-up steps (compilation) to the end of the epoch. On one machine the processes share
its cores: the figure shows the cost of the distribution (process start-up excluded), not a
speed-up; on a cluster each process has a machine (or an accelerator) of its own.
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

WIDTHS = (16, 32, 64, 64, 64, 128)
WARMUP = 4


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--steps", type=int, default=24, help="steps per run, warm-up included")
    parser.add_argument("--batch-size", type=int, default=8, help="the global batch")
    parser.add_argument("--crop-size", type=int, default=96)
    parser.add_argument("--out", default="build/scale_training")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # a process of a run (JSON)
    args = parser.parse_args()
    if args.worker:
        return worker(json.loads(args.worker))
    from keras_seg.samples import write_shapes_dataset

    out = Path(args.out)
    data = write_shapes_dataset(out / "train", 4 * args.batch_size, 128, 128, seed=1)
    print(f"training: fcn8s widths {WIDTHS}, crops {args.crop_size}, global batch "
          f"{args.batch_size}, {args.steps - WARMUP} timed steps, {os.cpu_count()} cores, "
          f"KERAS_BACKEND=jax")
    for count in args.processes:
        settings = {"data": str(data), "checkpoint_dir": str(out / f"ckpt-{count}"),
                    "batch_size": args.batch_size, "crop_size": args.crop_size,
                    "steps": args.steps}
        rate = run(count, settings)
        print(f"  {count} process(es) x 1 CPU device: {rate:.2f} steps/s "
              f"({rate * args.batch_size:.1f} crops/s)", flush=True)


def run(count, settings):
    """Start ``count`` processes of one run; process 0's steps per second."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu",
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    processes = []
    for index in range(count):
        cluster = {} if count == 1 else {
            "KERAS_DISTRIBUTION_JOB_ADDRESSES": f"127.0.0.1:{port}",
            "KERAS_DISTRIBUTION_NUM_PROCESSES": str(count),
            "KERAS_DISTRIBUTION_PROCESS_ID": str(index)}
        processes.append(subprocess.Popen(
            [sys.executable, __file__, "--worker", json.dumps(settings)],
            env={**env, **cluster}, stdout=subprocess.PIPE, text=True))
    outputs = [process.communicate()[0] for process in processes]
    if any(process.returncode for process in processes):
        raise SystemExit(f"a process of the {count}-process run failed")
    return json.loads(outputs[0].strip().splitlines()[-1])["steps_per_second"]


def worker(settings):
    """One process of a run: train, print the steps per second as JSON."""
    import keras

    from keras_seg.training.trainer import Trainer

    class Timer(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == WARMUP - 1:
                self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):  # the weights are back: every step done
            self.rate = (settings["steps"] - WARMUP) / (time.perf_counter() - self.start)

    timer = Timer()

    class TimedTrainer(Trainer):
        def callbacks(self, train_ds, val_ds):
            return [timer, *super().callbacks(train_ds, val_ds)]

    TimedTrainer("fcn8s", settings["data"], num_classes=4,
                 checkpoint_dir=settings["checkpoint_dir"], overwrite=True,
                 crop_size=settings["crop_size"], batch_size=settings["batch_size"], epochs=1,
                 steps_per_epoch=settings["steps"], model_args={"widths": WIDTHS},
                 distribution="data-parallel", verbose=0, tensorboard=False).run()
    print(json.dumps({"steps_per_second": timer.rate}))


if __name__ == "__main__":
    main()
