"""Do the trainer's defaults learn as well as a plain Keras loop? Every family, several seeds.

Usage: python benchmarks/train_defaults.py [--models fcn8s unet ...] [--epochs 20]
       [--seeds 3] [--out build/defaults] [--full-width] [--images N]

For each family, the same narrow network, the same generated shape images (4 classes, at a
size the network accepts) and the same number of epochs, trained (a) by keras_seg's
``train`` with no optimizer, learning rate or augmentation given (the from-scratch recipe:
Adam 1e-3, constant with a linear cool-down over the last fifth, random flips) and (b) by a plain
``model.fit`` with Adam 1e-3, whole images, no augmentation (the masks lined up with the
output by the same ``target`` crop as training). Both are scored on held-out images with one
confusion matrix (``evaluate_folder``). Prints per seed (with each run's first-epoch loss)
and the mean and spread over seeds, and appends them to ``<out>/results.csv``.

``--full-width`` builds the networks as released (FCN-8s: 134M parameters; a GPU's work:
on a 2-core CPU one step of 4 images of 64 px takes about 6 s), ``--images`` sets how many
training images.
"""

import argparse
import csv
import time
from pathlib import Path

import numpy as np

#: Per family: builder arguments (narrow), image size, training images.
FAMILIES = {
    "fcn8s": ({"widths": (16, 32, 64, 64, 64, 128)}, 64, 200),
    "segnet_basic": ({"width": 16}, 64, 200),
    "fc_densenet56": ({}, 64, 200),
    "unet": ({"widths": (8, 16, 32, 64, 128), "last_upconv": 16}, 188 + 64, 60),
    "dilation8_camvid": ({"widths": (8, 16, 16, 32, 32, 64)}, 372 + 64, 40),
}


def plain_fit(name, arguments, pairs, epochs, seed, batch_size):
    import keras

    import keras_seg
    from keras_seg.inference.preprocess import input_convention
    from keras_seg.training.data import segmentation_dataset
    from keras_seg.training.losses import MaskedSparseCrossEntropy
    from keras_seg.training.trainer import _target

    keras.utils.set_random_seed(seed)
    model = keras_seg.build(name, num_classes=4, **arguments)
    data = segmentation_dataset(pairs, num_classes=4, preprocess=input_convention(model),
                                batch_size=batch_size, seed=seed, target=_target(model))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=MaskedSparseCrossEntropy())
    history = model.fit(data, epochs=epochs, verbose=0)
    return model, history.history["loss"][0]


def run_family(name, out, epochs, seeds, full_width=False, images=None):
    import keras_seg
    from keras_seg.samples import write_shapes_dataset
    from keras_seg.training.data import folder_pairs
    from keras_seg.training.evaluate import evaluate_folder
    from keras_seg.training.trainer import train

    arguments, size, count = FAMILIES[name]
    arguments, count = ({} if full_width else arguments), images or count
    batch_size = 8 if size <= 96 else 2
    # one-channel networks (U-Net) see shapes of distinct brightness: the hues of the
    # colour set have about the background's brightness
    colours = "gray" if keras_seg.get_spec(name).input.channels == 1 else "colour"
    data = out / f"shapes-{size}-{colours}-{count}"
    if not (data / "heldout").exists():
        write_shapes_dataset(data / "train", count, size, size, seed=11, colours=colours)
        write_shapes_dataset(data / "heldout", 20, size, size, seed=12, colours=colours)
    pairs = folder_pairs(data / "train")[0]
    rows = []
    for seed in range(seeds):
        start = time.perf_counter()
        model, history = train(name, data / "train", num_classes=4,
                               checkpoint_dir=out / "ckpt", crop_size=(size, size),
                               batch_size=batch_size, epochs=epochs, seed=seed,
                               model_args=arguments, verbose=0, tensorboard=False,
                               overwrite=True)
        ours = evaluate_folder(model, data / "heldout", progress=False)["mean_iou"]
        middle = time.perf_counter()
        fitted, plain_first = plain_fit(name, arguments, pairs, epochs, seed, batch_size)
        plain = evaluate_folder(fitted, data / "heldout", progress=False)["mean_iou"]
        print(f"{name} seed {seed}: train() {ours:.3f} (first-epoch loss "
              f"{history.history['loss'][0]:.3g}, {middle - start:.0f} s), plain fit "
              f"{plain:.3f} (first-epoch loss {plain_first:.3g}, "
              f"{time.perf_counter() - middle:.0f} s)", flush=True)
        rows.append((ours, plain))
    ours, plain = np.array(rows).T
    print(f"{name}{' (full width)' if full_width else ''}: keras_seg train (defaults) "
          f"{ours.mean():.3f} +- {ours.std():.3f}, plain fit Adam 1e-3 {plain.mean():.3f} +- "
          f"{plain.std():.3f} ({seeds} seeds, {epochs} epochs, {size} px, {count} images)",
          flush=True)
    return ours, plain, size


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=list(FAMILIES), choices=list(FAMILIES))
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", default="build/defaults")
    parser.add_argument("--full-width", action="store_true",
                        help="the networks as released, not narrow")
    parser.add_argument("--images", type=int, help="training images (default: per family)")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in args.models:
        ours, plain, size = run_family(name, out, args.epochs, args.seeds, args.full_width,
                                       args.images)
        with open(out / "results.csv", "a", newline="") as f:
            csv.writer(f).writerow([time.strftime("%Y-%m-%d"), name, size, args.epochs,
                                    args.seeds, f"{ours.mean():.4f}", f"{ours.std():.4f}",
                                    f"{plain.mean():.4f}", f"{plain.std():.4f}",
                                    "full" if args.full_width else "narrow"])


if __name__ == "__main__":
    main()
