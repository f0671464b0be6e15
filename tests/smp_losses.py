"""segmentation_models.pytorch's loss modules, loaded without the package's ``__init__``.

smp's ``__init__`` imports timm and torchvision (encoders), which do not install beside the
torch wheel used here; its ``losses`` modules need torch alone and only import each other
relatively. So the ``losses`` folder is imported as a stand-in package of its own.
"""

import importlib
import importlib.util
import sys
import types
from pathlib import Path

import pytest

_PACKAGE = "_smp_losses"


def smp_losses():
    """smp's loss modules: ``.dice``, ``.focal``, ``.lovasz``, ``.tversky`` (or skip)."""
    pytest.importorskip("torch")
    spec = importlib.util.find_spec("segmentation_models_pytorch")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("segmentation-models-pytorch is not installed (`make install` adds 0.6.0)")
    folder = Path(next(iter(spec.submodule_search_locations))) / "losses"
    if _PACKAGE not in sys.modules:
        package = types.ModuleType(_PACKAGE)
        package.__path__ = [str(folder)]
        sys.modules[_PACKAGE] = package
    return types.SimpleNamespace(**{
        name: importlib.import_module(f"{_PACKAGE}.{name}")
        for name in ("dice", "focal", "lovasz", "tversky")})
