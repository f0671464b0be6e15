"""Why some families run under XLA and others not, and why bfloat16 keeps some layers float32.

Usage: python benchmarks/xla_choice.py [--models fcn8s unet fc_densenet103 ...]
       [--sections networks convolutions upsampling fc6 thresholds compile]

1. Per network (full width, random weights, its reference size): one float32 forward of the
   compiled inference graph in each of ``forward.COMPILERS``: TensorFlow's graph, XLA, and
   the hybrid of the two (``keras_seg.inference.forward.hybrid_call``), best of 3 after a
   warm-up that includes the compile, the three timed in turn. ``ModelSpec.compiler`` is
   the family's choice.
2. Each convolution of FCN-8s at 500x500 alone: graph, XLA and (3x3) Winograd's F(2x2, 3x3)
   under XLA; what sets the hybrid's thresholds.
3. Caffe's bilinear upsampling (FCN's ``upscore`` layers: transposed convolutions of 21
   channels on a 16x16 map): float32 and bfloat16, graph and XLA.
4. FCN's ``fc6`` (7x7, 512 -> 4096 on a 22x22 map, FCN-8s at 500x500) as a convolution
   and as patches times a matrix.
5. The hybrid's ``XLA_MIN_CHANNELS`` at 128 and 256 (FCN-8s, U-Net), timed in turn.
6. The compile cost: first and later calls of FCN-8s's float32 inference forward for one
   fixed input shape (hybrid with Winograd) and for any size (without), then a new size.

Printed on 2026-11-30 (this 2-core CPU, oneDNN on; a slower spell of the shared machine:
each figure about 15% above the quiet ones of ``benchmarks/run.py``, the ratios hold). The
families (the first four with ``--models fcn8s fcn32s dilation8_pascal_voc unet`` after the
hybrid thresholds were set; segnet and fc_densenet103 from the full run before, with the
hybrid's threshold at 128 channels):

    fcn8s            500x500: graph 3.08 s, xla 1.73 s, hybrid 1.42 s (ModelSpec.compiler hybrid)
    fcn32s           500x500: graph 2.83 s, xla 2.23 s, hybrid 1.37 s (ModelSpec.compiler hybrid)
    dilation8_pascal_voc 900x900: graph 8.80 s, xla 8.06 s, hybrid 6.65 s (... hybrid)
    unet             572x572: graph 1.70 s, xla 1.54 s, hybrid 1.23 s (ModelSpec.compiler hybrid)
    segnet           360x480: graph 1.71 s, xla 1.03 s, hybrid 1.28 s (ModelSpec.compiler xla)
    fc_densenet103   360x480: graph 1.36 s, xla 2.41 s, hybrid 2.87 s (ModelSpec.compiler graph)

FCN-8s's convolutions one by one (input channels; graph, XLA, Winograd under XLA):

    conv1_1     3 in: graph   10 ms (162 GFLOP/s), XLA   30 ms ( 55), Winograd   78 ms ( 22)
    conv1_2    64 in: graph  120 ms (300 GFLOP/s), XLA  175 ms (205), Winograd  280 ms (128)
    conv2_1    64 in: graph   64 ms (281 GFLOP/s), XLA   80 ms (225), Winograd   99 ms (181)
    conv2_2   128 in: graph  124 ms (289 GFLOP/s), XLA  158 ms (228), Winograd  170 ms (212)
    conv3_1   128 in: graph   73 ms (248 GFLOP/s), XLA   72 ms (250), Winograd   63 ms (285)
    conv3_2   256 in: graph  193 ms (187 GFLOP/s), XLA  143 ms (252), Winograd  122 ms (296)
    conv3_3   256 in: graph  202 ms (179 GFLOP/s), XLA  143 ms (252), Winograd  123 ms (294)
    conv4_1   256 in: graph  110 ms (166 GFLOP/s), XLA   65 ms (283), Winograd   53 ms (343)
    conv4_2   512 in: graph  250 ms (146 GFLOP/s), XLA  137 ms (267), Winograd  104 ms (352)
    conv4_3   512 in: graph  281 ms (130 GFLOP/s), XLA  132 ms (277), Winograd  103 ms (353)
    conv5_1   512 in: graph   82 ms (112 GFLOP/s), XLA   36 ms (252), Winograd   36 ms (251)
    conv5_2   512 in: graph   79 ms (116 GFLOP/s), XLA   36 ms (251), Winograd   36 ms (252)
    conv5_3   512 in: graph   79 ms (115 GFLOP/s), XLA   36 ms (255), Winograd   43 ms (215)
    fc6       512 in: graph 1058 ms ( 50 GFLOP/s), XLA  280 ms (188)
    fc7      4096 in: graph   37 ms (231 GFLOP/s), XLA   40 ms (215)
    (score_fr, score_pool4, score_pool3: 1-2 ms each)
    upsampling 64x64 stride 32: float32 graph 20 ms, float32 XLA 635 ms,
        bfloat16 graph 1529 ms, bfloat16 XLA 619 ms
    upsampling 32x32 stride 16: float32 graph 5 ms, float32 XLA 158 ms,
        bfloat16 graph 76 ms, bfloat16 XLA 160 ms
    upsampling 16x16 stride 8: float32 graph 2 ms, float32 XLA 3 ms,
        bfloat16 graph 5 ms, bfloat16 XLA 5 ms
    upsampling 4x4 stride 2: all 1 ms
    fc6 as convolution: 999 ms (53 GFLOP/s)
    fc6 as patches x matrix: 203 ms (259 GFLOP/s)

So: oneDNN in TensorFlow's graph wins on the first two VGG blocks (64-128 channels on large
maps) and on FCN's upsampling (XLA takes 0.6 s for FCN-32s's 64x64 one), XLA on the
256-512-channel blocks, Winograd's F(2x2, 3x3) under XLA on those of 88x88 and more (the
product does 16 multiplications per 2x2 output block instead of 36), and ``fc6`` as a
matrix product at 5x oneDNN's convolution. The hybrid compiler takes each where it wins
(``XLA_MIN_CHANNELS = 256``: ``--sections thresholds`` below). SegNet stays under XLA, which
fuses its batch normalisations, FC-DenseNet in the graph. In bfloat16 the upsampling of
stride 8 or more stays float32 (``keras_seg.inference.forward``).

``--sections thresholds compile``, the same day:

    fcn8s hybrid, XLA from: 128 channels 1.47 s, 256 channels 1.40 s
    unet hybrid, XLA from: 128 channels 1.44 s, 256 channels 1.25 s
    fcn8s fixed shape: first call 7.54 s, second 1.48 s
    fcn8s any size: first call 2.94 s, second 1.58 s, new size 1.98 s

The fixed-shape forward has Winograd's layers, which XLA compiles per input shape; its first
call is 4.6 s longer. Tiles and fixed batches pay that once; whole frames of any size would
pay it at every new size, so ``compiled_forward`` leaves Winograd out there.
"""

import argparse
import functools

import numpy as np

# benchmarks/run.py: warm-up, then the best of the repeats (of each function in turn)
from run import best_of, best_of_alternating


def _run(function, x):
    return np.asarray(function(x))


def networks(names):
    import tensorflow as tf

    import keras_seg
    from keras_seg.inference import forward
    from keras_seg.model_stats import reference_size

    for name in names:
        model = keras_seg.build(name)
        height, width = reference_size(name)
        x = np.random.default_rng(0).normal(0, 50, (1, height, width,
                                                     model.input_shape[-1])).astype("float32")
        runs = []
        for compiler in forward.COMPILERS:
            step = functools.partial(forward._forward, model, None, None, "float32",
                                     compiler == "hybrid" and "fixed")
            function = tf.function(step, jit_compile=compiler == "xla")
            runs.append(functools.partial(_run, function, x))
        # in turn, so that a slower spell of this shared machine slows each alike
        times = best_of_alternating(runs, 3)
        figures = ", ".join(f"{c} {t:.2f} s" for c, t in zip(forward.COMPILERS, times))
        print(f"{name:16s} {height}x{width}: {figures} "
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
    from keras_seg.inference import forward
    from keras_seg.model_stats import reference_size

    model = keras_seg.build(name, input_shape=(*reference_size(name), 3))
    for layer in model.layers:
        if type(layer) is not keras.layers.Conv2D:
            continue
        x = tf.random.normal((1, *layer.input.shape[1:]))
        gflop = 2 * np.prod(layer.output.shape[1:3]) * np.prod(layer.kernel.shape) / 1e9
        runs = {"graph": tf.function(layer.__call__), "XLA": tf.function(layer.__call__,
                                                                          jit_compile=True)}
        if layer.kernel_size == (3, 3) and layer.dilation_rate == (1, 1):
            runs["Winograd"] = tf.function(functools.partial(forward._winograd_convolution,
                                                             layer), jit_compile=True)
        times = best_of_alternating([functools.partial(_run, f, x) for f in runs.values()], 3)
        figures = [f"{label} {seconds * 1e3:4.0f} ms ({gflop / seconds:3.0f} GFLOP/s)"
                   for label, seconds in zip(runs, times)]
        print(f"{name} {layer.name:8s} {layer.kernel.shape[-2]:4d} in: {', '.join(figures)}",
              flush=True)


def thresholds(names=("fcn8s", "unet"), candidates=(128, 256)):
    """The hybrid forward with each candidate ``XLA_MIN_CHANNELS``, timed in turn."""
    import tensorflow as tf

    import keras_seg
    from keras_seg.inference import forward
    from keras_seg.model_stats import reference_size

    default = forward.XLA_MIN_CHANNELS
    for name in names:
        model = keras_seg.build(name)
        x = np.random.default_rng(0).normal(
            0, 50, (1, *reference_size(name), model.input_shape[-1])).astype("float32")
        runs = []
        for channels in candidates:
            forward.XLA_MIN_CHANNELS = channels  # read while tracing
            function = tf.function(functools.partial(forward.hybrid_call, model))
            function(x)
            runs.append(functools.partial(_run, function, x))
        forward.XLA_MIN_CHANNELS = default
        times = best_of_alternating(runs, 3)
        figures = ", ".join(f"{c} channels {t:.2f} s" for c, t in zip(candidates, times))
        print(f"{name} hybrid, XLA from: {figures}", flush=True)


def compile_cost(name="fcn8s"):
    """First and later calls of the float32 inference forward (``compiled_forward``): one
    fixed input shape (hybrid with Winograd) and any size (without), then a new size."""
    import time

    import keras_seg
    from keras_seg.inference.forward import compiled_forward
    from keras_seg.model_stats import reference_size

    model = keras_seg.build(name)
    height, width = reference_size(name)
    x = np.random.default_rng(0).normal(0, 50, (1, height, width, 3)).astype("float32")
    for label, shape in (("fixed shape", x.shape), ("any size", (None, None, None, 3))):
        function = compiled_forward(model, input_shape=shape, activation=None)
        figures = []
        for call, batch in (("first call", x), ("second", x), ("new size", x[:, 80:, 40:])):
            if call == "new size" and label == "fixed shape":
                continue
            start = time.perf_counter()
            _run(function, batch)
            figures.append(f"{call} {time.perf_counter() - start:.2f} s")
        print(f"{name} {label}: {', '.join(figures)}", flush=True)


SECTIONS = {"networks": None, "convolutions": convolutions, "upsampling": upsampling,
            "fc6": fc6, "thresholds": thresholds, "compile": compile_cost}


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+",
                        default=["fcn8s", "fcn32s", "dilation8_pascal_voc", "unet", "segnet",
                                 "fc_densenet103"])
    parser.add_argument("--sections", nargs="+", default=list(SECTIONS), choices=list(SECTIONS))
    args = parser.parse_args()
    for section in args.sections:
        if section == "networks":
            networks(args.models)
        else:
            SECTIONS[section]()


if __name__ == "__main__":
    main()
