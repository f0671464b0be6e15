"""keras-seg train with bad inputs: one line, the right exit status, nothing lost, no hang."""

import shutil

import numpy as np
import pytest
from PIL import Image

from keras_seg import cli
from keras_seg.samples import write_shapes_dataset
from keras_seg.training.checkpoints import read_state

WIDTHS = "widths=(8, 16, 32, 32, 32, 64)"


def _command(data, ckpt, *extra, epochs=1):
    return ["train", "fcn8s", str(data), "--num-classes", "4", "--checkpoint-dir", str(ckpt),
            "--epochs", str(epochs), "--batch-size", "4", "--crop-size", "32",
            "--steps-per-epoch", "3", "--model-arg", WIDTHS, *extra]


@pytest.fixture()
def data(tmp_path):
    return write_shapes_dataset(tmp_path / "data", 12, 48, 48, seed=5)


@pytest.fixture(scope="module")
def one_epoch(tmp_path_factory):
    """A finished one-epoch run: its data and checkpoint folder (tests continue copies)."""
    root = tmp_path_factory.mktemp("one_epoch")
    data = write_shapes_dataset(root / "data", 12, 48, 48, seed=5)
    assert cli.main(_command(data, root / "ckpt")) == 0
    return data, root / "ckpt"


def _copy_of(run, tmp_path):
    data, ckpt = run
    return data, shutil.copytree(ckpt, tmp_path / "ckpt")


def _break_mask(data, stem="0003"):
    path = data / "masks" / f"{stem}.png"
    mask = np.array(Image.open(path))
    mask[0, 0] = 9
    Image.fromarray(mask).save(path)
    return path


def test_a_mask_with_labels_that_are_no_classes_is_refused_before_any_work(data, tmp_path,
                                                                          capsys):
    bad = _break_mask(data)
    assert cli.main(_command(data, tmp_path / "ckpt")) == 2
    err = capsys.readouterr().err.strip()
    assert f"{bad}: label values [9] are not classes 0..3 nor the ignore label 255" in err
    assert "\n" not in err and not (tmp_path / "ckpt").exists()


def test_a_bad_image_ends_the_run_promptly_with_one_line(data, tmp_path, capfd):
    bad = data / "images" / "0003.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n truncated")  # read only when training reaches it
    assert cli.main(_command(data, tmp_path / "ckpt", "--steps-per-epoch", "6")) == 1
    err = capfd.readouterr().err  # file descriptor 2: tf.data's threads included
    last = err.strip().splitlines()[-1]
    assert last.startswith("keras-seg train: error: bad training data:") and str(bad) in last
    assert "cannot read the image" in last and "Traceback" not in err
    assert not (tmp_path / "ckpt" / "log.csv").exists()  # no empty log left behind


def test_skip_bad_files_counts_them(data, tmp_path, capsys):
    (data / "images" / "0002.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    assert cli.main(_command(data, tmp_path / "ckpt", "--skip-bad-files")) == 0
    out = capsys.readouterr().out
    assert "skipped 1 bad file(s)" in out and "0002.png: cannot read the image" in out
    assert read_state(tmp_path / "ckpt")["epoch"] == 1


def test_a_fresh_run_does_not_mix_with_another(one_epoch, tmp_path, capsys):
    data, ckpt = _copy_of(one_epoch, tmp_path)
    before = {p.name: p.read_bytes() for p in ckpt.iterdir() if p.is_file()}
    assert cli.main(_command(data, ckpt)) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("holds a run at epoch 1; pass --resume to continue it or --overwrite "
                        "to start afresh") and "\n" not in err
    assert {p.name: p.read_bytes() for p in ckpt.iterdir() if p.is_file()} == before
    assert cli.main(_command(data, ckpt, "--overwrite", "--seed", "3")) == 0
    assert read_state(ckpt)["epoch"] == 1 and (ckpt / "epoch-1.keras").exists()


def test_resume_refuses_a_missing_folder(data, tmp_path, capsys):
    assert cli.main(_command(data, tmp_path / "nowhere", "--resume")) == 2
    assert "nowhere does not exist; nothing to continue" in capsys.readouterr().err
    assert not (tmp_path / "nowhere").exists()


def test_resume_stretches_a_longer_schedule(one_epoch, tmp_path, capsys):
    import keras

    data, ckpt = _copy_of(one_epoch, tmp_path)
    assert cli.main(_command(data, ckpt, "--resume", epochs=3)) == 0
    assert "planned for 1 epochs (3 steps); stretched to 3 epochs (9 steps)" in (
        capsys.readouterr().out)
    model = keras.saving.load_model(ckpt / read_state(ckpt)["last"])
    assert model.optimizer._learning_rate.decay_steps == 9
    assert model.optimizer.iterations.numpy() == 9


def test_unmatched_images_are_refused_unless_allowed(data, tmp_path, capsys):
    (data / "masks" / "0004.png").unlink()
    assert cli.main(_command(data, tmp_path / "ckpt")) == 2
    err = capsys.readouterr().err
    assert "1 file(s) without a partner image or mask" in err and "0004.png" in err
    assert not (tmp_path / "ckpt").exists()
    assert cli.main(_command(data, tmp_path / "ckpt", "--allow-unmatched")) == 0


def test_networks_with_smaller_outputs_train_on_masks_cropped_to_them(tmp_path, capsys):
    data = write_shapes_dataset(tmp_path / "big", 4, 200, 200, seed=1)
    unet = ["train", "unet", str(data), "--num-classes", "4", "--checkpoint-dir",
            str(tmp_path / "u"), "--epochs", "1", "--batch-size", "2", "--model-arg",
            "widths=(4, 8, 8, 16, 16)", "--model-arg", "last_upconv=8"]
    assert cli.main([*unet, "--crop-size", "32"]) == 2
    assert "--crop-size 32: unet takes sizes of the form 60 + 16k from 188; the next is 188" \
        in capsys.readouterr().err
    assert cli.main([*unet, "--crop-size", "188"]) == 0
    assert read_state(tmp_path / "u")["epoch"] == 1


def test_resume_refuses_another_model_and_names_what_it_ignores(one_epoch, tmp_path, capsys):
    data, ckpt = _copy_of(one_epoch, tmp_path)
    other = _command(data, ckpt, "--resume", epochs=2)
    other[other.index("--num-classes") + 1] = "5"
    assert cli.main(other) == 2
    assert "started with num_classes 4, not 5" in capsys.readouterr().err
    assert cli.main(_command(data, ckpt, "--resume", "--lr", "0.5", epochs=2)) == 0
    assert "note: resuming: --lr ignored" in capsys.readouterr().err
    assert cli.main(_command(data, tmp_path / "x", "--adv-weight", "0.5")) == 2
    assert "--adv-weight needs --adversarial" in capsys.readouterr().err
