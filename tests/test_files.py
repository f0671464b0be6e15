"""atomic_path: a file is written whole under its name, or not at all."""

import pytest

from keras_seg.files import atomic_path, partial_path


def test_the_partial_file_keeps_the_suffixes_and_hides_beside_the_target(tmp_path):
    assert partial_path(tmp_path / "m.weights.h5") == tmp_path / ".m.partial.weights.h5"
    assert partial_path(tmp_path / "best.keras") == tmp_path / ".best.partial.keras"
    assert partial_path(tmp_path / "README") == tmp_path / ".README.partial"


def test_success_renames_the_partial_file(tmp_path):
    target = tmp_path / "state.json"
    with atomic_path(target) as partial:
        partial.write_text("{}")
        assert not target.exists()
    assert target.read_text() == "{}"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_a_failure_leaves_neither_a_partial_nor_a_final_file(tmp_path):
    target = tmp_path / "labels.png"
    with pytest.raises(RuntimeError), atomic_path(target) as partial:
        partial.write_bytes(b"half")
        raise RuntimeError("writer failed")
    assert not list(tmp_path.iterdir())


def test_a_failure_leaves_an_existing_final_file_untouched(tmp_path):
    target = tmp_path / "fcn8s.weights.h5"
    target.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt), atomic_path(target) as partial:
        partial.write_bytes(b"new, half")
        raise KeyboardInterrupt
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["fcn8s.weights.h5"]


def test_a_writer_that_writes_nothing_fails_and_keeps_the_old_file(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(FileNotFoundError), atomic_path(target):
        pass
    assert target.read_text() == "old"
