"""The augmentation hook: albumentations or a function, in the input workers, reproducible."""

import threading

import albumentations as A
import numpy as np
import pytest

from keras_seg import cli
from keras_seg.errors import BadDataError, ParameterError
from keras_seg.samples import write_shapes_dataset
from keras_seg.training.config import Augment, TrainConfig
from keras_seg.training.custom_augment import CustomAugment, load_augment
from keras_seg.training.data import folder_pairs, segmentation_dataset

CROP = (24, 28)


def _crop(seed=0):
    rng = np.random.default_rng(seed)
    image = rng.uniform(0, 255, (*CROP, 3)).astype(np.float32)
    mask = rng.integers(0, 4, CROP).astype(np.int32)
    mask[:3] = 255
    return image, mask


def _rotate_and_shift():
    return A.Compose([A.Rotate(limit=40, p=1.0, fill_mask=255),
                      A.RandomBrightnessContrast(p=1.0)])


def test_albumentations_runs_seeded_per_crop_and_per_thread():
    hook, (image, mask) = CustomAugment(_rotate_and_shift()), _crop()
    first = hook(image, mask, 11)
    results = []
    threads = [threading.Thread(target=lambda: results.append(hook(image, mask, 11)))
               for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for other in [hook(image, mask, 11), *results]:  # same seed: the same crop, any thread
        np.testing.assert_array_equal(first[0], other[0])
        np.testing.assert_array_equal(first[1], other[1])
    assert not np.array_equal(first[1], hook(image, mask, 12)[1])
    assert first[0].dtype == np.float32 and first[1].dtype == np.int32
    assert set(np.unique(first[1])) <= {0, 1, 2, 3, 255}  # labels moved, never blended


def test_a_function_gets_the_crop_and_a_seed_when_it_takes_one():
    seen = []

    def with_seed(image, mask, seed):
        seen.append((image.dtype, image.shape, mask.dtype, seed))
        return image[:, ::-1], mask[:, ::-1]

    image, mask = _crop()
    out_image, out_mask = CustomAugment(with_seed)(image, mask, 2**40 + 5)
    assert seen == [(np.uint8, (*CROP, 3), np.uint8, 5)]
    np.testing.assert_array_equal(out_mask, mask[:, ::-1])
    np.testing.assert_array_equal(out_image, np.rint(image)[:, ::-1])
    out = CustomAugment(lambda image, mask: (image, mask))(image, mask, 0)
    np.testing.assert_array_equal(out[1], mask)


def test_a_function_that_changes_the_size_or_fails_is_named():
    def shrink(image, mask):
        return image[1:], mask[1:]

    with pytest.raises(ValueError, match=r"augment .*shrink returned an image \(23, 28, 3\)"):
        CustomAugment(shrink)(*_crop(), 0)
    with pytest.raises(ParameterError, match="shrink returned"):
        CustomAugment(shrink).check(CROP, 4, 255)

    def broken(image, mask):
        raise KeyError("oops")

    with pytest.raises(ParameterError, match="augment .*broken failed: KeyError: 'oops'"):
        CustomAugment(broken).check(CROP, 4, 255)
    with pytest.raises(ParameterError, match="is not callable"):
        CustomAugment("flip")


def test_module_and_file_specs_are_loaded_or_refused_by_name(tmp_path):
    assert load_augment("math:sqrt")(9.0) == 3.0
    source = tmp_path / "my_aug.py"
    source.write_text("def flip(image, mask):\n    return image[:, ::-1], mask[:, ::-1]\n")
    assert load_augment(f"{source}:flip").__name__ == "flip"
    for spec, message in [("flip", "give module:function"),
                          ("no_such_module_xyz:flip", "cannot import no_such_module_xyz: "
                                                      "ModuleNotFoundError"),
                          (f"{source}:rotate", "defines no rotate"),
                          (f"{tmp_path}/absent.py:flip", "absent.py does not exist")]:
        with pytest.raises(ParameterError, match=message):
            load_augment(spec)


def test_the_configuration_takes_a_function_after_the_default_augmentation():
    def flip(image, mask):
        return image, mask

    config = TrainConfig("fcn8s", "d", num_classes=3, checkpoint_dir="c", crop_size=48,
                         augment=flip)
    assert config.augment == Augment((48, 48), custom=flip)
    with pytest.raises(ParameterError, match="cannot move U-Net's weight maps"):
        TrainConfig("unet", "d", num_classes=3, checkpoint_dir="c", augment=flip,
                    unet_weights=(10, 5))
    with pytest.raises(ParameterError, match="augment must be an Augment, a function"):
        TrainConfig("fcn8s", "d", num_classes=3, checkpoint_dir="c", augment="flip")
    options = {"model_name": "fcn8s", "train_dir": "d", "num_classes": 3,
               "checkpoint_dir": "c", "augment": "math:sqrt"}
    assert TrainConfig.from_options(options).augment.custom(4.0) == 2.0


def test_the_pipeline_runs_it_after_the_crop_reproducibly(tmp_path):
    pairs = folder_pairs(write_shapes_dataset(tmp_path, 4, 40, 40, seed=2))[0]

    def batches(seed, custom):
        ds = segmentation_dataset(pairs, num_classes=4, batch_size=4, preprocess=lambda x: x,
                                  augment=Augment((32, 32), custom=custom), seed=seed)
        images, masks = next(iter(ds))
        return images.numpy(), masks.numpy()

    plain = batches(1, lambda image, mask: (image, mask))
    inverted = batches(1, lambda image, mask: (255 - image, mask))
    np.testing.assert_array_equal(inverted[1], plain[1])  # the built-in crop unchanged
    np.testing.assert_array_equal(inverted[0], 255 - np.rint(plain[0]))  # then the hook
    first, again = batches(1, _rotate_and_shift()), batches(1, _rotate_and_shift())
    np.testing.assert_array_equal(first[1], again[1])
    np.testing.assert_array_equal(first[0], again[0])
    assert not np.array_equal(first[1], plain[1])


def test_a_failing_function_in_the_workers_stops_the_run_even_when_skipping(tmp_path):
    pairs = folder_pairs(write_shapes_dataset(tmp_path, 2, 40, 40))[0]

    def broken(image, mask):
        raise RuntimeError("boom")

    ds = segmentation_dataset(pairs, num_classes=4, batch_size=2, preprocess=lambda x: x,
                              augment=Augment((32, 32), custom=broken))
    ds.bad_files.skip = True
    next(iter(ds))
    with pytest.raises(BadDataError, match="augment .*broken failed: RuntimeError: boom "
                                           r"\(on .*\.png\)"):
        ds.bad_files.check()


def test_the_command_line_refuses_a_bad_spec_before_any_work(tmp_path, capsys):
    data = write_shapes_dataset(tmp_path / "data", 2, 40, 40)
    argv = ["train", "fcn8s", str(data), "--num-classes", "4", "--checkpoint-dir",
            str(tmp_path / "ckpt"), "--augment"]
    assert cli.main([*argv, "nowhere_module_xyz:flip"]) == 2
    err = capsys.readouterr().err
    assert "--augment nowhere_module_xyz:flip: cannot import nowhere_module_xyz" in err
    (tmp_path / "shrink.py").write_text("def f(image, mask):\n    return image[1:], mask\n")
    assert cli.main([*argv, f"{tmp_path / 'shrink.py'}:f", "--model-arg",
                     "widths=(4, 8, 8, 8, 8, 16)", "--crop-size", "32"]) == 2
    assert "--augment: augment f returned an image (31, 32, 3)" in capsys.readouterr().err
    assert not (tmp_path / "ckpt").exists()
