"""Fine-tuning example and benchmark: train a narrow FCN-8s on generated shapes, report mIoU.

Usage: python benchmarks/train_shapes.py [--epochs 12] [--out build/train_shapes]
Generates a train and a held-out set of shape images (keras_seg.samples), trains with
keras_seg.training.trainer (its default recipe, ignore label, checkpoints), then scores the
held-out images with keras-seg's evaluation (one confusion matrix) and prints the time taken.
"""

import argparse
import time
from pathlib import Path

WIDTHS = (16, 32, 64, 64, 64, 128)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--train-images", type=int, default=200)
    parser.add_argument("--lr", type=float, help="default: the trainer's recipe")
    parser.add_argument("--out", default="build/train_shapes")
    args = parser.parse_args()
    from keras_seg.samples import write_shapes_dataset
    from keras_seg.training.evaluate import evaluate_folder, format_table
    from keras_seg.training.trainer import train

    out = Path(args.out)
    write_shapes_dataset(out / "train", args.train_images, 96, 128, seed=1)
    write_shapes_dataset(out / "heldout", 40, 96, 128, seed=2)
    start = time.perf_counter()
    model, _ = train("fcn8s", out / "train", num_classes=4, checkpoint_dir=out / "ckpt",
                     crop_size=(96, 96), batch_size=8, epochs=args.epochs, learning_rate=args.lr,
                     model_args={"widths": WIDTHS}, verbose=2, tensorboard=False, overwrite=True)
    elapsed = time.perf_counter() - start
    model.save_weights(out / "fcn8s_shapes.weights.h5")
    result = evaluate_folder("fcn8s", out / "heldout", out / "fcn8s_shapes.weights.h5",
                             num_classes=4, model_args={"widths": WIDTHS}, progress=False)
    print(format_table(result))
    print(f"training: {args.epochs} epochs of {args.train_images} images in {elapsed:.0f} s; "
          f"held-out mean IoU {result['mean_iou']:.4f}")


if __name__ == "__main__":
    main()
