"""The README's Python blocks run as written (each in a fresh namespace, nothing injected)."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
#: The sentence that marks, in the paragraph right before it, a block the tests cannot run.
NOT_EXECUTED = "Not executed by the tests"


def _blocks():
    """(line number, code, whether it is marked not executed) for every ```python block."""
    text = README.read_text()
    blocks = []
    for match in re.finditer(r"```python\n(.*?)```", text, re.S):
        before = text[: match.start()].rstrip("\n").rsplit("\n\n", 1)[-1]
        blocks.append((text.count("\n", 0, match.start()) + 1, match.group(1),
                       NOT_EXECUTED in before))
    return blocks


def test_the_readme_marks_only_blocks_that_need_published_files():
    blocks = _blocks()
    assert len(blocks) >= 2 and any(not skipped for *_, skipped in blocks)
    for line, code, skipped in blocks:
        if skipped:  # a block left out names what it needs from outside
            assert re.search(r"weights=\"|\.caffemodel|rgb_image", code), line


@pytest.mark.parametrize("line,code", [(line, code) for line, code, skipped in _blocks()
                                       if not skipped])
def test_readme_python_blocks_run_as_written(line, code, monkeypatch):
    from keras_seg import registry

    monkeypatch.setattr(registry, "_MODELS", dict(registry._MODELS))  # leave no trace
    monkeypatch.setattr(registry, "_WEIGHTS", dict(registry._WEIGHTS))
    namespace = {"__name__": "readme"}
    exec(compile(code, f"README.md:{line}", "exec"), namespace)
