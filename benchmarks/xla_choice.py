"""Why some families run under XLA and others not, and why bfloat16 keeps some layers float32.

Usage: python benchmarks/xla_choice.py [--models fcn8s unet fc_densenet103 ...]

1. Per network (full width, random weights, its reference size): one float32 forward of the
   compiled inference graph as TensorFlow's graph and under XLA (best of 2 after a warm-up
   that includes the compile). ``ModelSpec.xla`` marks the families faster under XLA.
2. Caffe's bilinear upsampling (FCN's ``upscore`` layers: transposed convolutions of 21
   channels on a 16x16 map): float32 and bfloat16, graph and XLA.
3. FCN's ``fc6`` (7x7, 512 -> 4096 on a 22x22 map, FCN-8s at 500x500) as a convolution
   and as patches times a matrix.

Printed on 2026-11-30 (this 2-core CPU, quiet, oneDNN on):

    fcn8s            500x500: graph 2.72 s, XLA 1.49 s (ModelSpec.xla True)
    fcn32s           500x500: graph 2.55 s, XLA 2.04 s (ModelSpec.xla True)
    unet             572x572: graph 1.54 s, XLA 1.38 s (ModelSpec.xla True)
    segnet           360x480: graph 1.39 s, XLA 0.91 s (ModelSpec.xla True)
    fc_densenet103   360x480: graph 1.11 s, XLA 1.98 s (ModelSpec.xla False)
    upsampling 64x64 stride 32:
        float32 graph 22 ms, float32 XLA 632 ms,
        bfloat16 graph 1651 ms, bfloat16 XLA 631 ms
    upsampling 32x32 stride 16:
        float32 graph 6 ms, float32 XLA 157 ms,
        bfloat16 graph 75 ms, bfloat16 XLA 159 ms
    upsampling 16x16 stride 8:
        float32 graph 2 ms, float32 XLA 3 ms,
        bfloat16 graph 4 ms, bfloat16 XLA 3 ms
    upsampling 4x4 stride 2:
        float32 graph 1 ms, float32 XLA 1 ms,
        bfloat16 graph 1 ms, bfloat16 XLA 1 ms
    fc6 as convolution: 1051 ms (50 GFLOP/s)
    fc6 as patches x matrix: 196 ms (268 GFLOP/s)

So: XLA for FCN, SegNet and U-Net (and DilatedNet VOC at 900x900: ``benchmarks/run.py``
printed 8.95 s before XLA, 7.11 s under it), not for FC-DenseNet; in bfloat16 the
upsampling of stride 8 or more stays float32 (``keras_seg.inference.forward``); FCN-32s's
64x64 upsampling costs 0.6 s under XLA in either precision, which is what keeps FCN-32s
above FCN-8s. In TensorFlow's graph oneDNN runs ``fc6`` at a fifth of the rate of the same
arithmetic as a matrix product.
"""

import argparse
import functools

import numpy as np
from run import best_of  # benchmarks/run.py: warm-up, then the best of the repeats


def _run(function, x):
    return np.asarray(function(x))


def networks(names):
    import tensorflow as tf

    import keras_seg
    from keras_seg.inference import forward
    from keras_seg.zoo import reference_size

    for name in names:
        model = keras_seg.build(name)
        height, width = reference_size(name)
        x = np.random.default_rng(0).normal(0, 50, (1, height, width,
                                                     model.input_shape[-1])).astype("float32")
        times = []
        for compiler in forward.COMPILERS:
            step = functools.partial(forward._forward, model, None, None, "float32",
                                     compiler == "hybrid")
            function = tf.function(step, jit_compile=compiler == "xla")
            seconds = best_of(functools.partial(_run, function, x), 2)
            times.append(f"{compiler} {seconds:.2f} s")
        print(f"{name:16s} {height}x{width}: {', '.join(times)} "
              f"(ModelSpec.compiler {keras_seg.get_spec(name).compiler})", flush=True)


def upsampling():
    import keras
    import tensorflow as tf

    x = np.random.rand(1, 16, 16, 21).astype("float32")
    for kernel, stride in ((64, 32), (32, 16), (16, 8), (4, 2)):
        inputs = keras.Input((None, None, 21))
        layer = keras.layers.Conv2DTranspose(21, kernel, strides=stride, use_bias=False)
        model = keras.Model(inputs, layer(inputs))
        figures = []
        for precision in ("float32", "bfloat16"):
            # the layer itself in each precision (inference keeps the large strides float32)
            layer.dtype_policy = "float32" if precision == "float32" else "mixed_bfloat16"
            for jit in (False, True):
                function = tf.function(model.__call__, jit_compile=jit)
                seconds = best_of(functools.partial(_run, function, x), 3)
                figures.append(f"{precision} {'XLA' if jit else 'graph'} {seconds * 1e3:.0f} ms")
        print(f"upsampling {kernel}x{kernel} stride {stride}: {', '.join(figures)}", flush=True)


def fc6():
    import tensorflow as tf

    x = tf.constant(np.random.rand(1, 22, 22, 512).astype("float32"))
    w = tf.constant(np.random.rand(7, 7, 512, 4096).astype("float32"))
    conv = tf.function(lambda: tf.nn.conv2d(x, w, 1, "VALID"))

    @tf.function
    def patches_matmul():
        patches = tf.image.extract_patches(x, [1, 7, 7, 1], [1, 1, 1, 1], [1, 1, 1, 1], "VALID")
        return tf.matmul(tf.reshape(patches, (-1, 7 * 7 * 512)), tf.reshape(w, (-1, 4096)))

    flop = 2 * 16 * 16 * 7 * 7 * 512 * 4096
    for label, function in (("convolution", conv), ("patches x matrix", patches_matmul)):
        seconds = best_of(lambda f=function: f().numpy(), 3)
        print(f"fc6 as {label}: {seconds * 1e3:.0f} ms ({flop / seconds / 1e9:.0f} GFLOP/s)",
              flush=True)


def convolutions(name="fcn8s"):
    """Each convolution of the network at its reference size, alone, with its ReLU: graph
    and XLA (what sets ``XLA_MIN_CHANNELS`` of the hybrid compiler)."""
    import keras
    import tensorflow as tf

    import keras_seg
    from keras_seg.zoo import reference_size

    model = keras_seg.build(name, input_shape=(*reference_size(name), 3))
    for layer in model.layers:
        if type(layer) is not keras.layers.Conv2D:
            continue
        x = tf.random.normal((1, *layer.input.shape[1:]))
        gflop = 2 * np.prod(layer.output.shape[1:3]) * np.prod(layer.kernel.shape) / 1e9
        figures = []
        for jit in (False, True):
            function = tf.function(layer.__call__, jit_compile=jit)
            seconds = best_of(functools.partial(_run, function, x), 3)
            figures.append(f"{'XLA' if jit else 'graph'} {seconds * 1e3:4.0f} ms "
                           f"({gflop / seconds:3.0f} GFLOP/s)")
        print(f"{name} {layer.name:8s} {layer.kernel.shape[-2]:4d} in: {', '.join(figures)}",
              flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+",
                        default=["fcn8s", "fcn32s", "unet", "segnet", "fc_densenet103"])
    args = parser.parse_args()
    networks(args.models)
    convolutions()
    upsampling()
    fc6()


if __name__ == "__main__":
    main()
