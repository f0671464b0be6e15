"""The offline demo behind ``make demo`` / ``keras-seg demo``: nothing is downloaded.

In about a minute on two CPU cores it shows the project end to end: a narrow FCN-8s trained
from random weights on generated shape images (:mod:`keras_seg.samples`), scored on held-out
images with one confusion matrix, a larger generated image segmented with blended tiles, and,
for every family whose published weights are converted in the Keras cache, a prediction
with them (otherwise one line saying how to get them). ``<out>/summary.png`` (input |
ground truth | prediction | overlay | per-class IoU, with a legend of the class colours) is
the picture to open first; its path is printed last.

Example:
    >>> scores = run_demo("build/demo")  # doctest: +SKIP
"""

import time
from pathlib import Path

import numpy as np

#: Widths of the narrow FCN-8s the demo trains (the release's are 64 ... 4096).
WIDTHS = (16, 32, 64, 64, 64, 128)
#: Training length: under a minute on two idle cores (README), held-out mean IoU near 0.9.
EPOCHS = 6
TRAIN_IMAGES = 160
HELD_OUT_IMAGES = 16
#: One network per family: (family, model); the model's default record is the one shown.
FAMILIES = (("FCN", "fcn8s"), ("DilatedNet", "dilation8_camvid"), ("U-Net", "unet"),
            ("SegNet", "segnet"), ("FC-DenseNet", "fc_densenet103"))


def run_demo(out="build/demo", epochs=None, train_images=TRAIN_IMAGES, seed=0):
    """Run the demo: train, evaluate, tile, then the published weights found in the cache.

    Args:
        out: output folder (created).
        epochs: training epochs (None: :data:`EPOCHS`).
        train_images: generated training images (96x128 each).
        seed: seed of the data, the initial weights and the shuffling.

    Returns:
        The held-out scores (a dict of
        :func:`~keras_seg.training.evaluate.evaluate_folder`), with ``"published"``: the
        families predicted with published weights, ``{family: overlay path}``.

    Example:
        >>> scores = run_demo("build/demo")  # doctest: +SKIP
        >>> round(scores["mean_iou"], 1)  # doctest: +SKIP
        0.9
    """
    from PIL import Image

    from keras_seg.images import overlay, with_legend, write_image, write_labels
    from keras_seg.inference.predict import predict
    from keras_seg.plots import plot_summary
    from keras_seg.samples import (
        SHAPE_CLASSES,
        SHAPE_PALETTE,
        shapes_example,
        write_shapes_dataset,
    )
    from keras_seg.training.evaluate import evaluate_folder, format_table
    from keras_seg.training.trainer import train

    begin = time.perf_counter()
    epochs = EPOCHS if epochs is None else epochs
    out = Path(out)
    print(f"1/4 generating {train_images} training and {HELD_OUT_IMAGES} held-out shape "
          f"images (96x128) in {out}/shapes")
    write_shapes_dataset(out / "shapes" / "train", train_images, 96, 128, seed=seed + 1)
    write_shapes_dataset(out / "shapes" / "heldout", HELD_OUT_IMAGES, 96, 128, seed=seed + 2)
    print(f"2/4 training a narrow FCN-8s for {epochs} epochs, starting from RANDOM weights "
          f"(no published weights are used; checkpoints in {out}/ckpt)")
    start = time.perf_counter()
    model, _ = train("fcn8s", out / "shapes" / "train", num_classes=4,
                     checkpoint_dir=out / "ckpt", crop_size=(96, 96), batch_size=8,
                     epochs=epochs, model_args={"widths": WIDTHS},
                     seed=seed, tensorboard=False, verbose=2, overwrite=True)
    print(f"trained in {time.perf_counter() - start:.0f} s")
    weights = out / "fcn8s_shapes.weights.h5"
    model.save_weights(weights)
    result = evaluate_folder("fcn8s", out / "shapes" / "heldout", weights, num_classes=4,
                             model_args={"widths": WIDTHS}, progress=False)
    result["per_class_iou"] = dict(zip(SHAPE_CLASSES, result["per_class_iou"].values()))
    print(format_table(result))
    print(f"held-out mean IoU: {result['mean_iou']:.3f} (on {HELD_OUT_IMAGES} images never "
          "seen in training)")
    # shapes grow with the image: 192x256 keeps them within the training scales (0.5-2x)
    print("3/4 segmenting a 192x256 image with blended 96-pixel tiles")
    image, truth = shapes_example(192, 256, seed=seed + 99)
    labels = predict(model, image, tile_size=96, overlap=0.25, progress=True)
    labelled = truth != 255
    print(f"pixel accuracy on it: {np.mean(labels[labelled] == truth[labelled]):.4f}")
    write_image(out / "shapes_image.png", image)
    write_labels(out / "shapes_labels.png", labels, SHAPE_PALETTE)
    overlaid = overlay(image, labels, SHAPE_PALETTE)
    Image.fromarray(with_legend(overlaid, labels, SHAPE_PALETTE, SHAPE_CLASSES)).save(
        out / "shapes_overlay.png")
    print(f"wrote {out / 'shapes_image.png'}, {out / 'shapes_labels.png'}, "
          f"{out / 'shapes_overlay.png'}")
    print("4/4 published weights, one network per family (from the Keras cache; nothing is "
          "downloaded)")
    result["published"] = published_predictions(out / "published")
    summary = plot_summary(image, labels, overlaid, result, out / "summary.png",
                           SHAPE_PALETTE, SHAPE_CLASSES, truth=truth)
    print(f"demo done in {time.perf_counter() - begin:.0f} s (wall time)")
    print(f"open first: {summary} (input | ground truth | prediction | overlay | per-class "
          "IoU, with the class colours)")
    return result


def published_predictions(out, families=FAMILIES):
    """Segment a generated image with each family's published weights found in the cache.

    For a family whose default record is not converted in the cache, prints one line
    naming the ``keras-seg weights fetch`` command that gets it.

    Args:
        out: folder for the overlays (``<model>.png``; created when one is written).
        families: ``(family, model)`` pairs.

    Returns:
        ``{family: overlay path}`` for the families predicted.

    Example:
        >>> published_predictions("build/demo/published")  # doctest: +SKIP
        FCN: published weights not in the cache; get them with: keras-seg weights fetch fcn8s
        ...
    """
    from keras_seg.pretrained import is_converted
    from keras_seg.registry import get_spec

    written = {}
    for family, name in families:
        record = get_spec(name).default_weights
        if not (record and is_converted(record)):
            print(f"{family}: published weights not in the cache; get them with: "
                  f"keras-seg weights fetch {record}")
            continue
        start = time.perf_counter()
        written[family] = _published_overlay(name, record, Path(out))
        print(f"{family}: {name} with the published weights {record} -> {written[family]} "
              f"({time.perf_counter() - start:.0f} s)")
    return written


def _published_overlay(name, record, out):
    """Predict a generated image with ``record``'s weights; write its overlay with a legend."""
    from PIL import Image

    from keras_seg.convert.load import load_weights
    from keras_seg.images import overlay, with_legend
    from keras_seg.inference.predict import predict
    from keras_seg.pretrained import converted_path
    from keras_seg.registry import (
        build_model,
        class_names,
        describe_weights,
        get_spec,
        get_weights_record,
        label_palette,
    )
    from keras_seg.samples import street_scene

    spec, record = get_spec(name), get_weights_record(record)
    # the record's builder arguments (SegNet's web demo: 12 classes; FC-DenseNet103:
    # batch-statistics BN), as the conversion into the cache used them
    model = build_model(record.model, **record.builder_args)
    load_weights(model, converted_path(record.name))
    image = _cells_image() if spec.input.channels == 1 else street_scene()
    labels = predict(model, image)
    describe_weights(model, record)
    palette = label_palette(model)
    rgb = np.repeat(image[..., None], 3, axis=-1) if image.ndim == 2 else image
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.png"
    Image.fromarray(with_legend(overlay(rgb, labels, palette), labels, palette,
                                class_names(model))).save(path)
    return path


def _cells_image(height=256, width=256, seed=0):
    """A generated phase-contrast-like grayscale image: bright-rimmed cells on gray (uint8)."""
    import cv2

    rng = np.random.default_rng(seed)
    image = np.full((height, width), 110.0)
    for _ in range(8):
        centre = (int(rng.integers(20, width - 20)), int(rng.integers(20, height - 20)))
        axes = (int(rng.integers(12, 28)), int(rng.integers(10, 22)))
        angle = float(rng.uniform(0, 180))
        cv2.ellipse(image, centre, axes, angle, 0, 360, 80.0, -1)
        cv2.ellipse(image, centre, axes, angle, 0, 360, 200.0, 3)
    image = cv2.GaussianBlur(image, (0, 0), 1.5) + rng.normal(0, 6, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)
