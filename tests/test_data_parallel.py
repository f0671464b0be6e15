"""Training on Keras's distribution API: two JAX processes train as one, one resumes their run."""

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from keras_seg.cli import main
from keras_seg.errors import ParameterError
from keras_seg.samples import write_shapes_dataset
from keras_seg.training.config import TrainConfig

SCRIPT = Path(__file__).parent / "scripts" / "train_data_parallel.py"
PACKAGE = Path(__file__).resolve().parents[1] / "keras_seg"


def _free_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _compilation_cache(tmp_path):
    """JAX's compilation cache, kept with KERAS_HOME (the suite's own) when there is one.

    Compiling, not running, is what these few steps cost; the cache serves the resumed run
    the programs the reference compiled, and a later test run all of them.
    """
    cache = Path(os.environ.get("KERAS_HOME", tmp_path)) / "jax-compilation-cache"
    return {"JAX_COMPILATION_CACHE_DIR": str(cache),
            "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
            "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0"}


def test_two_processes_train_as_one_and_one_process_resumes_their_run(tmp_path):
    """2 processes x 1 CPU device against 1 process on the same global batch of 4.

    The reference runs beside the cluster (3 processes on the machine at once) and, once the
    cluster has finished, resumes the cluster's checkpoint alone for one more epoch. One
    width everywhere (fewer kernel shapes to compile initializers for) and a constant
    learning rate (the resumed run's programs are the reference's, from the cache).
    """
    data = write_shapes_dataset(tmp_path / "train", 6, 32, 32, seed=1)
    val = write_shapes_dataset(tmp_path / "val", 2, 32, 40, seed=2)  # whole, not crop-sized
    argv = ["train", "fcn8s", str(data), "--val", str(val), "--num-classes", "4",
            "--crop-size", "32", "--batch-size", "4", "--epochs", "1", "--steps-per-epoch",
            "3", "--model-arg", "widths=(4, 4, 4, 4, 4, 4)", "--seed", "3", "--cooldown", "0",
            "--distribution", "data-parallel"]
    reference, cluster = tmp_path / "reference", tmp_path / "cluster"
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu",
           "TF_CPP_MIN_LOG_LEVEL": "3", **_compilation_cache(tmp_path)}
    alone = subprocess.Popen([sys.executable, str(SCRIPT), json.dumps(argv), str(reference),
                              str(cluster)], env=env, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    address = f"127.0.0.1:{_free_port()}"
    logs = [open(tmp_path / f"process-{index}.log", "w+") for index in range(2)]  # noqa: SIM115
    processes = [subprocess.Popen(
        [sys.executable, "-m", "keras_seg.cli", *argv, "--checkpoint-dir", str(cluster)],
        env={**env, "KERAS_DISTRIBUTION_JOB_ADDRESSES": address,
             "KERAS_DISTRIBUTION_NUM_PROCESSES": "2",
             "KERAS_DISTRIBUTION_PROCESS_ID": str(index)},
        stdout=log, stderr=subprocess.STDOUT, text=True) for index, log in enumerate(logs)]
    try:
        for process, log in zip(processes, logs):
            process.wait(timeout=180)
            log.seek(0)
            assert process.returncode == 0, log.read()[-3000:]
        out, err = alone.communicate("the cluster has finished\n", timeout=180)
    finally:
        for process in [alone, *processes]:
            if process.poll() is None:
                process.kill()
        for log in logs:
            log.close()
    assert alone.returncode == 0, err[-3000:]
    compared, resumed = (json.loads(line) for line in out.splitlines() if line.startswith("{"))
    # one global batch: the same weights (up to the order of float sums) and the same logs
    assert compared["difference"] < 1e-5, compared
    ran_alone, ran_together = compared["logs"]
    assert ran_alone.keys() == ran_together.keys() >= {"loss", "mean_iou", "val_mean_iou"}
    for key in ran_alone:
        np.testing.assert_allclose(ran_together[key], ran_alone[key], rtol=1e-4, err_msg=key)
    # process 0 wrote the checkpoints; the run resumed in one process for its second epoch
    assert resumed["epoch"] == 2 and resumed["last"] == "epoch-2.keras"
    assert np.isfinite(resumed["logs"]["loss"]) and not (cluster / "worker-1").exists()


def test_data_parallel_needs_the_jax_backend_and_no_strategy(tmp_path, capsys):
    import keras

    assert keras.backend.backend() == "tensorflow"  # the suite's backend
    data = write_shapes_dataset(tmp_path / "data", 1, 32, 32, seed=1)
    argv = ["train", "fcn8s", str(data), "--num-classes", "4", "--checkpoint-dir",
            str(tmp_path / "ckpt"), "--distribution", "data-parallel"]
    assert main(argv) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "keras-seg train: error: --distribution data-parallel (Keras's distribution API) "
        "needs Keras's JAX backend (KERAS_BACKEND=jax); KERAS_BACKEND is tensorflow (ordinary "
        "training and prediction run under any backend)"]
    assert not (tmp_path / "ckpt").exists()
    with pytest.raises(ParameterError) as refused:
        TrainConfig("fcn8s", "d", num_classes=4, checkpoint_dir="c",
                    distribution="data-parallel", strategy="mirrored")
    assert refused.value.render(TrainConfig.flag_names()) == (
        "--distribution data-parallel is Keras's own distribution (JAX backend), --strategy "
        "mirrored TensorFlow's: ask for one")


def test_a_cluster_is_named_whole_and_the_batch_splits_over_its_devices():
    from types import SimpleNamespace

    from keras_seg.errors import InputError
    from keras_seg.training import data_parallel

    with pytest.raises(InputError, match="KERAS_DISTRIBUTION_JOB_ADDRESSES, "
                                         "KERAS_DISTRIBUTION_PROCESS_ID not set"):
        data_parallel.join_cluster({"KERAS_DISTRIBUTION_NUM_PROCESSES": "2"})
    data_parallel.check_batch_size(8, SimpleNamespace(num_model_replicas=4))
    with pytest.raises(ParameterError) as refused:
        data_parallel.check_batch_size(6, SimpleNamespace(num_model_replicas=4))
    assert refused.value.render(TrainConfig.flag_names()) == (
        "--batch-size 6 does not split over the 4 devices of --distribution data-parallel; "
        "use a multiple of 4")


def test_the_jax_distribution_is_imported_only_when_asked_for():
    """No module imports ``data_parallel`` at its top, which imports JAX in functions only."""
    def top_level_imports(path):
        found = set()
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                found |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
        return found

    for path in PACKAGE.rglob("*.py"):
        assert "keras_seg.training.data_parallel" not in top_level_imports(path), path
    assert not {name for name in top_level_imports(PACKAGE / "training" / "data_parallel.py")
                if name.split(".")[0] == "jax"}
