"""bfloat16 against float32 inference: forward time and label agreement, per VGG network.

Usage:
    python benchmarks/precision.py                  # FCN-8s at 500x500, DilatedNet VOC
    python benchmarks/precision.py --runs 1 --images 1 --networks fcn8s

Full-width networks with random weights (the builders' initialisers; the layers they
initialise to zeros, such as FCN's score layers, get He-normal kernels so the labels are not
all one class), on generated street-like images (``keras_seg.samples.street_scene``). The
time is one forward pass of the compiled graph (preprocessing inside it), best
of ``--runs`` after a warm-up: FCN-8s on a 500x500 frame, DilatedNet VOC on one 900x900
deploy tile. The score error is the RMS difference of the bfloat16 and float32 scores
(logits) of that forward over the RMS of the scores. The agreement is the share of
``keras_seg.predict`` labels that bfloat16 leaves unchanged, over ``--images`` 500x500
images (DilatedNet: one deploy tile each, zoom by 8 included). Run with TensorFlow's
default oneDNN kernels (do not set ``TF_ENABLE_ONEDNN_OPTS=0``): they are what uses the
CPU's bfloat16 instructions.

Measured 2026-11-30 on the project's machine (2 shared cores of an Intel Xeon with
AVX512-BF16 and AMX, TensorFlow 2.21, Keras 3.15.1, oneDNN on), ``--runs 3 --images 3``:

    TensorFlow 2.21.0, 3 runs (best), 3 images, random weights
    network                    input  float32 s  bfloat16 s  speed-up  score error  labels unchanged
    fcn8s                   500x500        9.58        1.35     7.07x       0.65%           97.07%
    dilation8_pascal_voc    900x900       43.64        6.29     6.93x       0.84%           98.57%

The speed-up is far above the 1.8x asked for (presumably oneDNN's bfloat16 kernels on the
CPU's AMX units, against float32 AVX-512). The labels are not: with random weights 97-98.6%
stay unchanged, short of 99.5%, although the scores move by under 1% (the usual bfloat16
rounding, growing evenly through the layers): random networks leave the top two scores of
many pixels close together (FCN-8s at 250x250: median gap 13% of the scores' RMS), where
trained ones separate them.

The published weights cannot be fetched here (no network), so the 99.5% figure for trained
networks is not measured; run this with them converted in the cache (``keras-seg weights
fetch``) and ``--trained`` to measure it.
"""

import argparse
import time

import numpy as np

#: network -> (builder arguments, input of the timed forward)
NETWORKS = {
    "fcn8s": ({}, (500, 500)),
    "dilation8_pascal_voc": ({}, (900, 900)),
}


def network(name, trained=False, seed=0):
    """The full-width network: its published weights (converted in the cache) if
    ``trained``, else random, its all-zero kernels replaced by He-normal ones."""
    import keras

    import keras_seg

    if trained:
        return keras_seg.build(name, weights=keras_seg.get_spec(name).default_weights)
    keras.utils.set_random_seed(seed)
    model = keras_seg.build(name, **NETWORKS[name][0])
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        kernel = getattr(layer, "kernel", None)
        if kernel is not None and len(kernel.shape) == 4 and not np.any(kernel.numpy()):
            fan_in = np.prod(kernel.shape[:3])
            kernel.assign(rng.normal(0, np.sqrt(2 / fan_in), kernel.shape).astype("f4"))
    return model


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


def label_agreement(model, images):
    """Share of the labels of ``keras_seg.predict`` that bfloat16 leaves unchanged."""
    import keras_seg

    same = total = 0
    for image in images:
        labels = keras_seg.predict(model, image)
        fast = keras_seg.predict(model, image, precision="bfloat16")
        same += int(np.sum(labels == fast))
        total += labels.size
    return same / total


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", nargs="+", default=list(NETWORKS), choices=list(NETWORKS))
    parser.add_argument("--runs", type=int, default=3, help="timed forwards (best is kept)")
    parser.add_argument("--images", type=int, default=3, help="images for the agreement")
    parser.add_argument("--trained", action="store_true",
                        help="the published weights, converted in the Keras cache")
    args = parser.parse_args()
    import tensorflow as tf

    from keras_seg.samples import street_scene

    images = [street_scene(500, 500, seed=seed) for seed in range(args.images)]
    weights = "published" if args.trained else "random"
    print(f"TensorFlow {tf.__version__}, {args.runs} runs (best), {args.images} images, "
          f"{weights} weights")
    header = (f"{'network':22s} {'input':>9s} {'float32 s':>10s} {'bfloat16 s':>11s} "
              f"{'speed-up':>9s} {'score error':>12s} {'labels unchanged':>17s}")
    print(header)
    for name in args.networks:
        model = network(name, args.trained)
        size = NETWORKS[name][1]
        fp32, exact = timed_forward(model, size, "float32", args.runs)
        bf16, rounded = timed_forward(model, size, "bfloat16", args.runs)
        error = np.sqrt(np.mean((rounded - exact) ** 2) / np.mean(exact**2))
        agreement = label_agreement(model, images)
        print(f"{name:22s} {size[0]:>4d}x{size[1]:<4d} {fp32:10.2f} {bf16:11.2f} "
              f"{fp32 / bf16:8.2f}x {error:11.2%} {agreement:16.2%}", flush=True)


if __name__ == "__main__":
    main()
