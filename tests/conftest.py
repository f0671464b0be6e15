import os

import pytest

import references

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("KERAS_HOME", os.path.join(os.path.dirname(__file__), "..", ".keras_home"))
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

#: The longest test files, started first: pytest-xdist hands each worker whole files in this
#: order (``--dist loadfile``), so that the two workers finish together instead of one
#: waiting on a long file handed out last.
LONGEST_FIRST = ("test_backends.py", "test_data_parallel.py", "test_train.py",
                 "test_notebooks.py", "test_export.py", "test_fast_inference.py",
                 "test_train_inputs.py", "test_adversarial.py", "test_ray_predict.py",
                 "test_cli.py", "test_registration.py", "test_wheel.py")


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(LONGEST_FIRST)))  # stable


# Reference-parity tests: those that asked `references.reference_or_skip` for a file. The
# request travels in the reports' user_properties, so that the controller of a pytest-xdist
# run (which sees reports, not items) can count them for the last line of the summary.
_PROPERTY = "reference file"
_outcomes = {}  # nodeid -> "passed" | "failed" | skip reason
_LINE = pytest.StashKey[str]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    item.user_properties.extend((_PROPERTY, path) for path in references.drain())
    return (yield)


def pytest_runtest_logreport(report):
    if not any(name == _PROPERTY for name, _ in report.user_properties):
        return
    if report.failed:
        _outcomes[report.nodeid] = "failed"
    elif report.skipped and _outcomes.get(report.nodeid) != "failed":
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else "skipped"
        _outcomes[report.nodeid] = reason
    else:
        _outcomes.setdefault(report.nodeid, "passed")


def pytest_terminal_summary(terminalreporter, config):
    if hasattr(config, "workerinput") or not _outcomes:
        return
    outcomes = list(_outcomes.values())
    ran = sum(o in ("passed", "failed") for o in outcomes)
    absent = sum(references.SKIP_PREFIX in o for o in outcomes)
    line = f"reference-parity tests: {ran} ran"
    if "failed" in outcomes:
        line += f" ({outcomes.count('failed')} failed)"
    line += f", {absent} skipped for want of the reference files"
    if not absent:
        line += f" (read from {references.reference_root()})"
    else:
        line += (f" (absent from {references.reference_root()}: run `python tests/references.py"
                 f" fetch` or set {references.ENV_FOLDER})")
    if len(outcomes) - ran - absent:
        line += f", {len(outcomes) - ran - absent} skipped for other reasons"
    config.stash[_LINE] = line  # written last, after pytest's own "N passed" line


def pytest_unconfigure(config):
    line = config.stash.get(_LINE, None)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if line and reporter is not None:
        reporter.write_line(line)
