"""The package's shape: no import cycle, no arrow from a lower layer to a higher one.

Read from the source with :mod:`ast` (no module is imported), so an import inside a
function counts as much as one at the top: a lower layer may not reach up even lazily.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "keras_seg"

#: What each part may not import (prefixes of module names).
FORBIDDEN = {
    "keras_seg.layers": ("keras_seg.models", "keras_seg.inference", "keras_seg.training",
                         "keras_seg.export", "keras_seg.convert", "keras_seg.cli",
                         "keras_seg.pretrained", "keras_seg.model_stats", "keras_seg.demo",
                         "keras_seg.plots",
                         "keras_seg.presets", "keras_seg.mirrors"),
    "keras_seg.models": ("keras_seg.inference", "keras_seg.training", "keras_seg.export",
                         "keras_seg.cli", "keras_seg.pretrained", "keras_seg.model_stats",
                         "keras_seg.demo", "keras_seg.plots",
                         "keras_seg.presets", "keras_seg.mirrors"),
    "keras_seg.convert": ("keras_seg.inference", "keras_seg.training", "keras_seg.export",
                          "keras_seg.cli", "keras_seg.demo", "keras_seg.plots",
                          "keras_seg.presets", "keras_seg.mirrors"),
    "keras_seg.export": ("keras_seg.models.", "keras_seg.training", "keras_seg.cli"),
    "keras_seg.inference": ("keras_seg.training", "keras_seg.cli", "keras_seg.export"),
    "keras_seg.training": ("keras_seg.cli", "keras_seg.export"),
    "keras_seg.published": ("keras_seg.models", "keras_seg.inference", "keras_seg.training",
                            "keras_seg.export", "keras_seg.cli", "keras_seg.pretrained"),
    "keras_seg.registry": ("keras_seg.models", "keras_seg.inference", "keras_seg.training",
                           "keras_seg.export", "keras_seg.cli", "keras_seg.pretrained",
                           "keras_seg.presets", "keras_seg.mirrors"),
}


def _module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path, top_level_only=False):
    """keras_seg modules ``path`` imports (relative imports resolved)."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else ast.walk(tree)
    names = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            base = node.module
            names |= {base} | {f"{base}.{alias.name}" for alias in node.names}
    return {name for name in names if name.startswith("keras_seg")}


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


@pytest.mark.parametrize("part", sorted(FORBIDDEN))
def test_no_arrow_from_a_lower_layer_to_a_higher_one(part):
    offences = [f"{name} imports {target}"
                for name, path in MODULES.items() if name == part or name.startswith(part + ".")
                for target in sorted(_imports(path))
                if any(target.startswith(prefix) for prefix in FORBIDDEN[part])]
    assert not offences, "\n".join(offences)


def test_no_import_cycle_at_module_level():
    graph = {name: {target for target in _imports(path, top_level_only=True)
                    if target in MODULES and target != name}
             for name, path in MODULES.items()}
    # a package's __init__ importing its own submodules is how packages export names
    for name in graph:
        graph[name] = {t for t in graph[name] if not (t.startswith(name + "."))}
    state, cycle = {}, []

    def visit(node, path):
        state[node] = "open"
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                cycle.append([*path[path.index(target):], target])
            elif target not in state:
                visit(target, [*path, target])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not cycle, "\n".join(" -> ".join(c) for c in cycle)


def test_the_check_sees_an_offence(tmp_path):
    """The walk finds imports inside functions too: the check can fail."""
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from keras_seg.inference.predict import predict\n")
    assert "keras_seg.inference.predict" in _imports(source)
    assert not _imports(source, top_level_only=True)
