"""Benchmarks of keras_seg.predict_tiled: peak memory on 8192x8192 and throughput on 2048x2048.

Usage:
    python benchmarks/tiled_inference.py throughput   # tiled vs ideal, 2048x2048
    python benchmarks/tiled_inference.py memory       # runs itself under /usr/bin/time -v

The network is small: five 'same' 3x3 convolutions of 32 channels, 2 output channels, no
bias (so tiled and whole-image outputs agree exactly with a margin of 5 pixels).
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np


def small_network():
    import keras

    inputs = keras.Input((None, None, 3))
    x = inputs
    for i in range(5):
        x = keras.layers.Conv2D(32 if i < 4 else 2, 3, padding="same", use_bias=False,
                                activation="relu" if i < 4 else None,
                                kernel_initializer=keras.initializers.GlorotNormal(i))(x)
    return keras.Model(inputs, x)


def compiled(model):
    import tensorflow as tf

    forward = tf.function(lambda t: model(t, training=False), reduce_retracing=True)
    return lambda batch: forward(tf.convert_to_tensor(batch)).numpy()


def throughput(args):
    from keras_seg import predict_tiled
    from keras_seg.inference.tiling import _layout

    model = compiled(small_network())
    image = np.random.default_rng(0).uniform(0, 1, (args.size, args.size, 3)).astype("f4")
    model(image[None])  # trace the whole-frame shape
    start = time.perf_counter()
    for _ in range(args.runs):
        whole = model(image[None])[0]
    full = (time.perf_counter() - start) / args.runs
    tiles_per_axis = len(_layout(args.size, args.tile, args.tile - 10, 5, args.overlap,
                                 "gaussian", 1))
    factor = tiles_per_axis**2 * args.tile**2 / args.size**2
    predict_tiled(model, image, tile_size=args.tile, overlap=args.overlap, margin=5,
                  batch_size=args.batch, geometry=(0, 1, 1))  # trace the tile shape
    start = time.perf_counter()
    for _ in range(args.runs):
        tiled = predict_tiled(model, image, tile_size=args.tile, overlap=args.overlap,
                              margin=5, batch_size=args.batch, geometry=(0, 1, 1))
    elapsed = (time.perf_counter() - start) / args.runs
    print(f"{args.size}x{args.size} image, tiles {args.tile} (margin 5), overlap "
          f"{args.overlap}, batch {args.batch}: {tiles_per_axis**2} tiles, overlap factor "
          f"{factor:.3f}")
    print(f"  whole-frame forward {full:.3f} s; ideal tiled {full * factor:.3f} s; "
          f"tiled {elapsed:.3f} s = {elapsed / (full * factor):.3f} x ideal")
    print(f"  max |tiled - whole| = {np.abs(tiled - whole).max():.2e}")


def memory(args):
    if not args.child:
        with tempfile.TemporaryDirectory() as tmp:
            command = ["/usr/bin/time", "-v", sys.executable, __file__, "memory", "--child",
                       "--size", str(args.size), "--tile", str(args.tile), "--dir", tmp]
            result = subprocess.run(command, capture_output=True, text=True, check=True)
        print(result.stdout.strip())
        peak = [line for line in result.stderr.splitlines() if "Maximum resident" in line]
        print(f"  /usr/bin/time -v: {peak[0].strip()}")
        return
    from keras_seg import predict_tiled

    path = os.path.join(args.dir, "image.npy")
    image = np.lib.format.open_memmap(path, "w+", np.uint8, (args.size, args.size, 3))
    for row in range(0, args.size, 1024):  # write the input without holding it
        block = image[row : row + 1024]
        block[:] = np.random.default_rng(row).integers(0, 256, block.shape, dtype=np.uint8)
    image.flush()
    del image
    image = np.load(path, mmap_mode="r")
    model = compiled(small_network())
    model(np.zeros((4, args.tile, args.tile, 3), np.float32))  # trace and allocate once
    before = _resident_mib()
    start = time.perf_counter()
    out = predict_tiled(model, image, tile_size=args.tile, overlap=0.25, margin=5,
                        batch_size=4, geometry=(0, 1, 1))
    elapsed = time.perf_counter() - start
    from keras_seg.inference.tiling import _layout

    n_tiles = len(_layout(args.size, args.tile, args.tile - 10, 5, 0.25, "gaussian", 1)) ** 2
    print(f"{args.size}x{args.size} uint8 image (memory-mapped, {image.nbytes / 2**20:.0f} MiB), "
          f"tile {args.tile}, {n_tiles} tiles: {elapsed:.1f} s; output "
          f"{out.shape} float32 = {out.nbytes / 2**20:.0f} MiB")
    print(f"  resident before predict_tiled (TF, model, one batch traced): {before:.0f} MiB; "
          f"peak: {_peak_mib():.0f} MiB")


def _status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    return float("nan")


def _resident_mib():
    return _status("VmRSS:")


def _peak_mib():
    return _status("VmHWM:")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("what", choices=["throughput", "memory"])
    parser.add_argument("--size", type=int)
    parser.add_argument("--tile", type=int, default=512)
    parser.add_argument("--overlap", type=float, default=0.25)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.size = args.size or (2048 if args.what == "throughput" else 8192)
    (throughput if args.what == "throughput" else memory)(args)


if __name__ == "__main__":
    main()
