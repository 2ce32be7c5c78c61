"""torchmusic: deep learning on music with PyTorch.

Submodules are imported lazily so that ``import torchmusic`` (and the CLI's
``--help``) stays fast; ``torchmusic.features`` etc. load on first access.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: Every subpackage, reachable as ``torchmusic.<name>`` (``tests/test_layers.py`` checks
#: that none is missing).
_SUBMODULES = {
    "audio",
    "cli",
    "data",
    "embed",
    "enhance",
    "errors",
    "features",
    "io",
    "metrics",
    "models",
    "pretrained",
    "recommend",
    "scale",
    "serve",
    "symbolic",
    "training",
    "web",
}


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"torchmusic.{name}")
    raise AttributeError(f"module 'torchmusic' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _SUBMODULES)
