"""The offline demo behind ``make demo`` / ``keras-seg demo``: nothing is downloaded.

It trains a narrow FCN-8s (random start) on generated shape images (keras_seg.samples),
scores held-out images with one confusion matrix, segments a larger generated image with
blended tiles and writes the results; if converted FCN-8s weights are in the Keras cache, it
also segments a generated street image with them.
"""

import time
from pathlib import Path

import numpy as np

WIDTHS = (16, 32, 64, 64, 64, 128)


def run_demo(out="build/demo", epochs=12, train_images=200, seed=0):
    """Run the demo; returns the held-out scores.

    Example:
        >>> scores = run_demo("build/demo")  # doctest: +SKIP
    """
    from PIL import Image

    from keras_seg.datasets import pascal_palette
    from keras_seg.hub import converted_path
    from keras_seg.inference.images import overlay, with_legend, write_image, write_labels
    from keras_seg.inference.predict import predict
    from keras_seg.plots import plot_summary
    from keras_seg.samples import SHAPE_CLASSES, shapes_example, write_shapes_dataset
    from keras_seg.training.evaluate import evaluate_folder, format_table
    from keras_seg.training.train import train

    out = Path(out)
    print(f"1/3 generating {train_images} training and 16 held-out shape images in {out}")
    write_shapes_dataset(out / "shapes" / "train", train_images, 96, 128, seed=seed + 1)
    write_shapes_dataset(out / "shapes" / "heldout", 16, 96, 128, seed=seed + 2)
    print(f"2/3 training a narrow FCN-8s from random weights for {epochs} epochs (checkpoints "
          f"in {out}/ckpt)")
    start = time.perf_counter()
    model, _ = train("fcn8s", out / "shapes" / "train", num_classes=4,
                     checkpoint_dir=out / "ckpt", crop_size=(96, 96), batch_size=8,
                     epochs=epochs, model_args={"widths": WIDTHS},
                     seed=seed, tensorboard=False, verbose=2, overwrite=True)
    weights = out / "fcn8s_shapes.weights.h5"
    model.save_weights(weights)
    result = evaluate_folder("fcn8s", out / "shapes" / "heldout", weights, num_classes=4,
                             model_args={"widths": WIDTHS}, progress=False)
    result["per_class_iou"] = dict(zip(SHAPE_CLASSES, result["per_class_iou"].values()))
    print(format_table(result))
    print(f"trained in {time.perf_counter() - start:.0f} s")
    # shapes grow with the image: 192x256 keeps them within the training scales (0.5-2x)
    print("3/3 segmenting a 192x256 image with blended 96-pixel tiles")
    image, truth = shapes_example(192, 256, seed=seed + 99)
    labels = predict(model, image, tile_size=96, overlap=0.25, progress=True)
    labelled = truth != 255
    print(f"pixel accuracy on it: {np.mean(labels[labelled] == truth[labelled]):.4f}")
    palette = np.array([[40, 40, 40], [255, 200, 0], [0, 200, 255], [255, 60, 200]],
                       np.uint8)  # label colours that stand out from the shapes' colours
    write_image(out / "shapes_image.png", image)
    write_labels(out / "shapes_labels.png", labels, palette)
    overlaid = with_legend(overlay(image, labels, palette), labels, palette, SHAPE_CLASSES)
    Image.fromarray(overlaid).save(out / "shapes_overlay.png")
    written = ["shapes_image.png", "shapes_labels.png", "shapes_overlay.png"]
    converted = converted_path("fcn8s")
    if converted.exists():
        from keras_seg.samples import street_scene

        street = street_scene()
        street_labels = predict("fcn8s", street)
        write_image(out / "street.png", street)
        write_labels(out / "street_labels.png", street_labels, pascal_palette(21))
        written += ["street.png", "street_labels.png"]
    else:
        print(f"(no converted weights at {converted}: `keras-seg weights fetch fcn8s` adds a "
              "street-scene segmentation with the published FCN-8s)")
    summary = plot_summary(image, palette[labels], overlay(image, labels, palette), result,
                           out / "summary.png", class_names=list(SHAPE_CLASSES))
    print(f"wrote {', '.join(str(out / name) for name in written)}; held-out mean IoU "
          f"{result['mean_iou']:.3f}")
    print(f"summary (input | labels | overlay | per-class IoU): {summary}")
    return result
