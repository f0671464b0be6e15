"""Do the trainer's defaults learn as well as a plain Keras loop? Every family, several seeds.

Usage: python benchmarks/train_defaults.py [--models fcn8s unet ...] [--epochs 20]
       [--seeds 3] [--out build/defaults] [--full-width] [--images N] [--batch-size N]
       [--fine-tune [--pretrain-epochs 10]]

From scratch (the default): for each family, the same network, the same generated shape
images (4 classes, at a size the network accepts) and the same number of epochs, trained
(a) by keras_seg's ``train`` with no optimizer, learning rate or augmentation given (the
from-scratch recipe: Adam 1e-3 with each kernel's rate scaled by min(1, 576 / fan-in),
constant with a linear cool-down over the last fifth, random flips) and (b) by a plain
``model.fit`` with Adam 1e-3, whole images, no augmentation (the masks lined up with the
output by the same ``target`` crop as training). Both are scored on held-out images with one
confusion matrix (``evaluate_folder``).

``--fine-tune``: the network is first trained from scratch on those 4 classes (seed 100,
``--pretrain-epochs``, saved as a ``.weights.h5`` of one's own), then both (a) ``train``
with ``weights=`` that file (the family's fine-tuning recipe, the rescaling 0.5-2 of
fine-tuning, a new 3-class head whose classifier starts at zero and whose layers learn at
ten times the rate) and (b) a plain ``fit``
with Adam 1e-3 from the same file (a new 3-class head as the builder draws it) learn other
scenes whose boxes and triangles are one class, from a quarter as many images.

Prints per seed (with each run's first-epoch loss) and the mean and spread over seeds, and
appends them to ``<out>/results.csv``. Narrow widths by default; ``--full-width`` builds the
networks as released (FCN-8s: 134M parameters; on a 2-core CPU one step of 4 images of 64
px takes about 6 s, U-Net's step of 2 images of 252 px 1.6 s, SegNet's of 8 images of 64
px 1.3 s); ``--images`` sets how many training images.
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
    "segnet": ({"widths": (16, 32, 64, 64, 64)}, 64, 200),
    "fc_densenet56": ({}, 64, 200),
    "unet": ({"widths": (8, 16, 32, 64, 128), "last_upconv": 16}, 188 + 64, 60),
    "dilation8_camvid": ({"widths": (8, 16, 16, 32, 32, 64)}, 372 + 64, 40),
}
#: The fine-tuning task's classes: background, disc, and boxes and triangles as one.
MERGED = np.array([0, 1, 2, 2] + [255] * 252, np.uint8)


def shapes_data(root, size, colours, count, seeds=(11, 12), merged=False):
    """Generated training and held-out shape images (written once); returns the folder."""
    from PIL import Image

    from keras_seg.samples import write_shapes_dataset

    data = Path(root) / f"{'merged' if merged else 'shapes'}-{size}-{colours}-{count}"
    if not (data / "heldout").exists():
        write_shapes_dataset(data / "train", count, size, size, seed=seeds[0], colours=colours)
        write_shapes_dataset(data / "heldout", 20, size, size, seed=seeds[1], colours=colours)
        for path in (data.glob("*/masks/*.png") if merged else ()):
            mask = Image.open(path)
            merged_mask = Image.fromarray(MERGED[np.asarray(mask)], mode="P")
            merged_mask.putpalette(mask.getpalette())
            merged_mask.save(path)
    return data


def plain_fit(name, arguments, pairs, epochs, seed, batch_size, num_classes, weights=None):
    """A plain ``model.fit`` with Adam 1e-3, from random weights or from a file of one's own."""
    import keras

    import keras_seg
    from keras_seg.convert.load import load_matching
    from keras_seg.inference.preprocess import input_convention
    from keras_seg.training.data import segmentation_dataset
    from keras_seg.training.losses import MaskedSparseCrossEntropy
    from keras_seg.training.trainer import _target

    keras.utils.set_random_seed(seed)
    model = keras_seg.build(name, num_classes=num_classes, **arguments)
    if weights:
        load_matching(model, weights, num_classes)
    data = segmentation_dataset(pairs, num_classes=num_classes,
                                preprocess=input_convention(model), batch_size=batch_size,
                                seed=seed, target=_target(model))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=MaskedSparseCrossEntropy())
    history = model.fit(data, epochs=epochs, verbose=0)
    return model, history.history["loss"][0]


def pretrained_file(name, out, arguments, size, source, epochs, batch_size, full_width):
    """The network trained from scratch on the 4-class shapes, saved once as weights."""
    from keras_seg.training.trainer import train

    path = out / f"pretrained-{name}-{'full' if full_width else 'narrow'}-{epochs}.weights.h5"
    if not path.exists():
        start = time.perf_counter()
        model, _ = train(name, source / "train", num_classes=4,
                         checkpoint_dir=out / "ckpt-pretrain", crop_size=(size, size),
                         batch_size=batch_size, epochs=epochs, seed=100,
                         model_args=arguments, verbose=0, tensorboard=False, overwrite=True)
        model.save_weights(path)
        print(f"{name}: pretrained on 4 classes for {epochs} epochs "
              f"({time.perf_counter() - start:.0f} s)", flush=True)
    return path


def run_family(name, out, epochs, seeds, full_width=False, images=None, batch_size=None,
               fine_tune=False, pretrain_epochs=10):
    import keras_seg
    from keras_seg.training.data import folder_pairs
    from keras_seg.training.evaluate import evaluate_folder
    from keras_seg.training.trainer import train

    arguments, size, count = FAMILIES[name]
    arguments, count = ({} if full_width else arguments), images or count
    batch_size = batch_size or (8 if size <= 96 else 2)
    # one-channel networks (U-Net) see shapes of distinct brightness: the hues of the
    # colour set have about the background's brightness
    colours = "gray" if keras_seg.get_spec(name).input.channels == 1 else "colour"
    data = shapes_data(out, size, colours, count)
    num_classes, weights, settings = 4, None, {}
    if fine_tune:
        weights = pretrained_file(name, out, arguments, size, data, pretrain_epochs,
                                  batch_size, full_width)
        count = max(count // 4, batch_size)
        data = shapes_data(out, size, colours, count, seeds=(13, 14), merged=True)
        num_classes, settings = 3, {"weights": str(weights)}
    pairs = folder_pairs(data / "train")[0]
    rows = []
    for seed in range(seeds):
        start = time.perf_counter()
        model, history = train(name, data / "train", num_classes=num_classes,
                               checkpoint_dir=out / "ckpt", crop_size=(size, size),
                               batch_size=batch_size, epochs=epochs, seed=seed,
                               model_args=arguments, verbose=0, tensorboard=False,
                               overwrite=True, **settings)
        ours = evaluate_folder(model, data / "heldout", progress=False)["mean_iou"]
        middle = time.perf_counter()
        fitted, plain_first = plain_fit(name, arguments, pairs, epochs, seed, batch_size,
                                        num_classes, weights)
        plain = evaluate_folder(fitted, data / "heldout", progress=False)["mean_iou"]
        ours_first = history.history["loss"][0]
        print(f"{name} seed {seed}: train() {ours:.3f} (first-epoch loss {ours_first:.3g}, "
              f"{middle - start:.0f} s), plain fit {plain:.3f} (first-epoch loss "
              f"{plain_first:.3g}, {time.perf_counter() - middle:.0f} s)", flush=True)
        rows.append((ours, plain, ours_first, plain_first))
    ours, plain, ours_first, plain_first = np.array(rows).T
    what = ("fine-tuned" if fine_tune else "from scratch") + (", full width" if full_width
                                                             else ", narrow")
    print(f"{name} ({what}): keras_seg train (defaults) {ours.mean():.3f} +- {ours.std():.3f}, "
          f"plain fit Adam 1e-3 {plain.mean():.3f} +- {plain.std():.3f} ({seeds} seeds, "
          f"{epochs} epochs, {size} px, {count} images, batch {batch_size}; largest "
          f"first-epoch loss {ours_first.max():.3g} against {plain_first.max():.3g})",
          flush=True)
    return {"size": size, "images": count, "batch": batch_size, "ours": ours, "plain": plain,
            "first": ours_first.max(), "plain_first": plain_first.max()}


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
    parser.add_argument("--batch-size", type=int,
                        help="default: 8 at 64 px, 2 for the larger inputs")
    parser.add_argument("--fine-tune", action="store_true",
                        help="from weights trained on other classes, not from scratch")
    parser.add_argument("--pretrain-epochs", type=int, default=10)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in args.models:
        r = run_family(name, out, args.epochs, args.seeds, args.full_width, args.images,
                       args.batch_size, args.fine_tune, args.pretrain_epochs)
        with open(out / "results.csv", "a", newline="") as f:
            csv.writer(f).writerow([
                time.strftime("%Y-%m-%d"), name, r["size"], args.epochs, args.seeds,
                f"{r['ours'].mean():.4f}", f"{r['ours'].std():.4f}",
                f"{r['plain'].mean():.4f}", f"{r['plain'].std():.4f}",
                "full" if args.full_width else "narrow",
                "fine-tune" if args.fine_tune else "scratch", r["images"], r["batch"],
                f"{r['first']:.4g}", f"{r['plain_first']:.4g}"])


if __name__ == "__main__":
    main()
