"""bfloat16 against float32 inference: forward time and label agreement, per VGG network.

Usage:
    python benchmarks/precision.py                  # FCN-8s at 500x500, DilatedNet VOC
    python benchmarks/precision.py --runs 1 --images 1 --networks fcn8s
    python benchmarks/precision.py --networks fcn8s --weights shapes --images 10 --runs 1
    python benchmarks/precision.py --weights published   # after keras-seg weights fetch

Full-width networks with ``--weights``: ``random`` (the builders' initialisers; the layers
they initialise to zeros, such as FCN's score layers, get He-normal kernels so the labels are
not all one class), on generated street-like images (``keras_seg.samples.street_scene``);
``shapes``, trained here from scratch by ``keras_seg``'s trainer (its defaults, ``--epochs``
epochs, batches of 4) on 64 generated 192x192 shape images of 4 classes and measured on
``--images`` held-out ones (their mean IoU in float32 and bfloat16 printed too); or
``published``, converted in the Keras cache. The time is one forward pass of the compiled
graph (preprocessing inside it), best of ``--runs`` after a warm-up: FCN-8s on a 500x500
frame, DilatedNet VOC on one 900x900 deploy tile. The score error is the RMS difference of
the bfloat16 and float32 scores (logits) of that forward over the RMS of the scores. The
agreement is the share of ``keras_seg.predict`` labels that bfloat16 leaves unchanged, over
the images (DilatedNet: one deploy tile each, zoom by 8 included). Run with TensorFlow's
default oneDNN kernels (do not set ``TF_ENABLE_ONEDNN_OPTS=0``): they are what uses the
CPU's bfloat16 instructions.

Measured 2026-11-30 on the project's machine (2 shared cores of an Intel Xeon with
AVX512-BF16 and AMX, TensorFlow 2.21, Keras 3.15.1, oneDNN on), ``--runs 3 --images 3``
(float32 then in TensorFlow's graph, before the families' XLA and hybrid compilers):

    TensorFlow 2.21.0, 3 runs (best), 3 images, random weights
    network                    input  float32 s  bfloat16 s  speed-up  score error  labels unchanged
    fcn8s                   500x500        9.58        1.35     7.07x       0.65%           97.07%
    dilation8_pascal_voc    900x900       43.64        6.29     6.93x       0.84%           98.57%

With random weights 97-98.6% of the labels stay unchanged, short of 99.5%, although the
scores move by under 1% (the usual bfloat16 rounding, growing evenly through the layers):
random networks leave the top two scores of many pixels close together (FCN-8s at 250x250:
median gap 13% of the scores' RMS), where trained ones separate them. Trained here, the same
day, ``--networks fcn8s --weights shapes --epochs 6 --images 10 --runs 1`` (13 minutes of
training; a network still learning, held-out mean IoU 0.47):

    TensorFlow 2.21.0, 1 runs (best), 10 images, shapes weights
    network                    input  float32 s  bfloat16 s  speed-up  score error  labels unchanged
    fcn8s                   500x500        1.54        0.52     2.96x       0.35%           99.92%
                           held-out mean IoU: float32 0.4743, bfloat16 0.4737

99.92% of its labels unchanged, above the 99.5% asked for. The published weights cannot be
fetched here (no network): ``--weights published`` measures them where they can.
"""

import argparse
import time

import numpy as np

#: network -> (builder arguments, input of the timed forward)
NETWORKS = {
    "fcn8s": ({}, (500, 500)),
    "dilation8_pascal_voc": ({}, (900, 900)),
}


def network(name, weights="random", seed=0, out=None, epochs=6):
    """The full-width network with ``weights``: ``"published"`` (converted in the cache),
    ``"shapes"`` (trained here from scratch on generated shapes, :func:`shapes_images`) or
    ``"random"`` (its all-zero kernels replaced by He-normal ones)."""
    import keras

    import keras_seg

    if weights == "published":
        return keras_seg.build(name, weights=keras_seg.get_spec(name).default_weights)
    if weights == "shapes":
        from keras_seg.training.trainer import train

        model, _ = train(name, shapes_images(out, "train"), num_classes=4,
                         checkpoint_dir=out / f"ckpt-{name}", crop_size=(SHAPES_SIZE,) * 2,
                         batch_size=4, epochs=epochs, seed=seed, verbose=2,
                         tensorboard=False, overwrite=True)
        return model
    keras.utils.set_random_seed(seed)
    model = keras_seg.build(name, **NETWORKS[name][0])
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        kernel = getattr(layer, "kernel", None)
        if kernel is not None and len(kernel.shape) == 4 and not np.any(kernel.numpy()):
            fan_in = np.prod(kernel.shape[:3])
            kernel.assign(rng.normal(0, np.sqrt(2 / fan_in), kernel.shape).astype("f4"))
    return model


#: Side of the generated shape images of ``--weights shapes``; images to train on.
SHAPES_SIZE, SHAPES_TRAIN = 192, 64


def shapes_images(out, split, count=SHAPES_TRAIN):
    """A folder of generated shape images and masks (4 classes), written once."""
    from keras_seg.samples import write_shapes_dataset

    root = out / f"shapes-{SHAPES_SIZE}" / split
    if not (root / "masks").exists():
        write_shapes_dataset(root, count, SHAPES_SIZE, SHAPES_SIZE,
                             seed={"train": 21, "heldout": 22}[split])
    return root


def timed_forward(model, size, precision, runs):
    """Best time of one compiled forward on a (1, H, W, 3) uint8 batch, after a warm-up,
    and its scores (logits)."""
    from keras_seg.inference.forward import compiled_forward
    from keras_seg.inference.preprocess import input_convention
    from keras_seg.samples import street_scene

    forward = compiled_forward(model, input_shape=(1, *size, 3), input_dtype="uint8",
                               preprocess=input_convention(model), activation=None,
                               precision=precision)
    batch = street_scene(*size)[None]
    forward(batch).numpy()  # trace and warm up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        scores = forward(batch).numpy()
        times.append(time.perf_counter() - start)
    return min(times), scores


def label_agreement(model, images, masks=None):
    """Share of the labels of ``keras_seg.predict`` that bfloat16 leaves unchanged, and with
    ``masks`` the mean IoU of the float32 and of the bfloat16 labels."""
    import keras_seg
    from keras_seg.training.metrics import confusion_matrix, scores

    same = total = 0
    confusion = {"float32": 0, "bfloat16": 0}
    for i, image in enumerate(images):
        labels = keras_seg.predict(model, image)
        fast = keras_seg.predict(model, image, precision="bfloat16")
        same += int(np.sum(labels == fast))
        total += labels.size
        if masks is not None:
            for precision, predicted in (("float32", labels), ("bfloat16", fast)):
                confusion[precision] += confusion_matrix(masks[i], predicted, 4)
    if masks is None:
        return same / total, None
    return same / total, {key: scores(matrix)["mean_iou"] for key, matrix in confusion.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", nargs="+", default=list(NETWORKS), choices=list(NETWORKS))
    parser.add_argument("--runs", type=int, default=3, help="timed forwards (best is kept)")
    parser.add_argument("--images", type=int, default=3, help="images for the agreement")
    parser.add_argument("--weights", default="random", choices=("random", "published", "shapes"),
                        help="published: converted in the Keras cache (keras-seg weights "
                             "fetch); shapes: trained here on generated shapes")
    parser.add_argument("--epochs", type=int, default=6, help="training epochs (shapes)")
    parser.add_argument("--out", default="build/precision", help="shapes data and checkpoints")
    args = parser.parse_args()
    from pathlib import Path

    import tensorflow as tf
    from PIL import Image

    from keras_seg.samples import street_scene

    out = Path(args.out)
    masks = None
    if args.weights == "shapes":
        heldout = shapes_images(out, "heldout", args.images)
        images = [np.asarray(Image.open(p).convert("RGB"))
                  for p in sorted((heldout / "images").glob("*.png"))]
        masks = [np.asarray(Image.open(p)) for p in sorted((heldout / "masks").glob("*.png"))]
    else:
        images = [street_scene(500, 500, seed=seed) for seed in range(args.images)]
    print(f"TensorFlow {tf.__version__}, {args.runs} runs (best), {len(images)} images, "
          f"{args.weights} weights")
    header = (f"{'network':22s} {'input':>9s} {'float32 s':>10s} {'bfloat16 s':>11s} "
              f"{'speed-up':>9s} {'score error':>12s} {'labels unchanged':>17s}")
    print(header)
    for name in args.networks:
        model = network(name, args.weights, out=out, epochs=args.epochs)
        size = NETWORKS[name][1]
        fp32, exact = timed_forward(model, size, "float32", args.runs)
        bf16, rounded = timed_forward(model, size, "bfloat16", args.runs)
        error = np.sqrt(np.mean((rounded - exact) ** 2) / np.mean(exact**2))
        agreement, ious = label_agreement(model, images, masks)
        print(f"{name:22s} {size[0]:>4d}x{size[1]:<4d} {fp32:10.2f} {bf16:11.2f} "
              f"{fp32 / bf16:8.2f}x {error:11.2%} {agreement:16.2%}", flush=True)
        if ious:
            print(f"{'':22s} held-out mean IoU: float32 {ious['float32']:.4f}, "
                  f"bfloat16 {ious['bfloat16']:.4f}", flush=True)


if __name__ == "__main__":
    main()
