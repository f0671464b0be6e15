"""Do the trainer's defaults learn as well as a plain Keras loop? Held-out mIoU, several seeds.

Usage: python benchmarks/train_defaults.py [--epochs 25] [--seeds 3] [--out build/defaults]
The same narrow FCN-8s, the same generated data (200 training and 40 held-out 64x64 shape
images, 4 classes) and the same number of epochs, trained (a) by keras_seg's `train` with no
optimizer, learning rate or augmentation given, and (b) by a plain `model.fit` with Adam 1e-3
on the whole images, no augmentation. Both are scored on the held-out images with one
confusion matrix (`evaluate_folder`). Prints mean and spread over the seeds.
"""

import argparse
import time
from pathlib import Path

import numpy as np

WIDTHS = (16, 32, 64, 64, 64, 128)


def plain_fit(pairs, epochs, seed):
    import keras

    import keras_seg
    from keras_seg.training.data import load_pair
    from keras_seg.training.losses import MaskedSparseCrossEntropy

    keras.utils.set_random_seed(seed)
    model = keras_seg.build("fcn8s", num_classes=4, widths=WIDTHS)
    images, masks = zip(*(load_pair(i, m, 4) for i, m in pairs))
    x = keras_seg.get_spec("fcn8s").input(np.stack(images))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=MaskedSparseCrossEntropy())
    model.fit(x, np.stack(masks), batch_size=8, epochs=epochs, verbose=0, shuffle=True)
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", default="build/defaults")
    args = parser.parse_args()
    from keras_seg.samples import write_shapes_dataset
    from keras_seg.training.data import folder_pairs
    from keras_seg.training.evaluate import evaluate_folder
    from keras_seg.training.train import train

    out = Path(args.out)
    write_shapes_dataset(out / "train", 200, 64, 64, seed=11)
    write_shapes_dataset(out / "heldout", 40, 64, 64, seed=12)
    pairs = folder_pairs(out / "train")[0]
    scores = {"keras_seg train (defaults)": [], "plain fit, Adam 1e-3": []}
    for seed in range(args.seeds):
        start = time.perf_counter()
        model, _ = train("fcn8s", out / "train", num_classes=4, checkpoint_dir=out / "ckpt",
                         crop_size=(64, 64), batch_size=8, epochs=args.epochs, seed=seed,
                         model_args={"widths": WIDTHS}, verbose=0, tensorboard=False,
                         overwrite=True)
        ours = evaluate_folder(model, out / "heldout", progress=False)["mean_iou"]
        middle = time.perf_counter()
        plain = evaluate_folder(plain_fit(pairs, args.epochs, seed), out / "heldout",
                                progress=False)["mean_iou"]
        scores["keras_seg train (defaults)"].append(ours)
        scores["plain fit, Adam 1e-3"].append(plain)
        print(f"seed {seed}: train() {ours:.3f} ({middle - start:.0f} s), plain fit "
              f"{plain:.3f} ({time.perf_counter() - middle:.0f} s)", flush=True)
    for name, values in scores.items():
        print(f"{name:28s} held-out mIoU {np.mean(values):.3f} +- {np.std(values):.3f} "
              f"over {len(values)} seeds, {args.epochs} epochs")


if __name__ == "__main__":
    main()
