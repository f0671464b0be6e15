"""Batch prediction throughput against back-to-back forwards of the same tensors.

Usage:
    python benchmarks/batch_predict.py                      # 48 images 240x320, float32
    python benchmarks/batch_predict.py --precision bfloat16 --images 96

A folder of generated street-like JPEG images (``keras_seg.samples.street_scene``) goes
through :func:`keras_seg.inference.batch.predict_files` (tf.data parallel decoding, the
compiled whole-frame graph, label PNGs written by a background thread), against the ideal:
the same images decoded beforehand, the same compiled graph called back to back on the
same batches, nothing written. The network is FCN-8s at a quarter of VGG's widths
(16, 32, 64, 128, 128, 1024; random weights), so that a forward is short and the decoding
and writing around it weigh as much as they can; each figure is the best of ``--runs``,
the two measurements alternating (the machine's cores are shared with other work, which
makes single runs vary by a factor of two).

Measured 2026-11-30 on the project's machine (2 shared cores, TensorFlow 2.21, oneDNN on):

    FCN-8s widths (16, 32, 64, 128, 128, 1024), 48 images 240x320, batch size 1, float32, best of 5
    back-to-back forwards:   8.72 images/s
    batch prediction:        8.37 images/s (0.96x the forwards alone)

    --precision bfloat16:
    back-to-back forwards:  13.14 images/s
    batch prediction:       12.77 images/s (0.97x the forwards alone)

    --batch-size 4 (float32):
    back-to-back forwards:  10.21 images/s
    batch prediction:        9.94 images/s (0.97x the forwards alone)

Decoding the 48 JPEGs alone takes 31 ms and writing their label PNGs 24 ms (about 1% of
the run), done by other threads while the forwards run.
"""

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

WIDTHS = (16, 32, 64, 128, 128, 1024)


def make_folder(folder, count, height, width):
    from PIL import Image

    from keras_seg.samples import street_scene

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        Image.fromarray(street_scene(height, width, seed=i)).save(folder / f"{i:05d}.jpg",
                                                                   quality=90)
    return sorted(folder.iterdir())


def back_to_back(model, paths, batch_size, precision, runs):
    """Seconds for the compiled forwards alone, on images decoded beforehand (best of runs)."""
    from keras_seg.images import read_image
    from keras_seg.inference.forward import compiled_forward
    from keras_seg.inference.preprocess import input_convention

    images = np.stack([read_image(path) for path in paths])
    batches = [images[i : i + batch_size] for i in range(0, len(images), batch_size)]
    forward = compiled_forward(model, input_shape=(None, None, None, 3), input_dtype="uint8",
                               preprocess=input_convention(model), activation="argmax",
                               precision=precision)
    forward(batches[0]).numpy()  # traced already by the warm-up; make sure
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        for batch in batches:
            forward(batch).numpy()
        best = min(best, time.perf_counter() - start)
    return best


def streamed(model, paths, out_root, batch_size, precision, runs):
    """Seconds of predict_files writing every label PNG into a fresh folder (best of runs)."""
    from keras_seg.inference.batch import predict_files

    best = float("inf")
    for run in range(runs):
        out = out_root / f"run{run}"
        out.mkdir()
        report = predict_files(model, paths, out, batch_size=batch_size, precision=precision)
        assert len(report.written) == len(paths) and not report.failed
        best = min(best, report.seconds)
        shutil.rmtree(out)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=48)
    parser.add_argument("--size", type=int, nargs=2, default=(240, 320), metavar=("H", "W"))
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--precision", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    import keras

    import keras_seg
    from keras_seg.inference.batch import predict_files

    keras.utils.set_random_seed(0)
    model = keras_seg.build("fcn8s", num_classes=21, widths=WIDTHS)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        paths = make_folder(tmp / "images", args.images, *args.size)
        (tmp / "warm").mkdir()
        predict_files(model, paths[: args.batch_size], tmp / "warm", batch_size=args.batch_size,
                      precision=args.precision)  # trace the graph once
        ideal = batch = float("inf")
        for _ in range(args.runs):  # alternated, so that load from elsewhere hits both alike
            ideal = min(ideal, back_to_back(model, paths, args.batch_size, args.precision, 1))
            batch = min(batch, streamed(model, paths, tmp, args.batch_size, args.precision, 1))
    print(f"FCN-8s widths {WIDTHS}, {args.images} images {args.size[0]}x{args.size[1]}, "
          f"batch size {args.batch_size}, {args.precision}, best of {args.runs}")
    print(f"back-to-back forwards: {args.images / ideal:6.2f} images/s")
    print(f"batch prediction:      {args.images / batch:6.2f} images/s "
          f"({ideal / batch:.2f}x the forwards alone)")


if __name__ == "__main__":
    main()
