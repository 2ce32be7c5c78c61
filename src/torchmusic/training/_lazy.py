"""Lazy package attributes: ``torchmusic.training.<task>.X`` loads X's module on first use.

Why: a task package holds torch-free settings next to Lightning-heavy jobs; the CLI
reads the settings to check arguments before anything heavy is imported.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any


def lazy_getattr(package: str, modules: Sequence[str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that looks ``name`` up in ``modules``, in order."""

    def __getattr__(name: str) -> Any:
        if not name.startswith("__"):
            for module in modules:
                mod = importlib.import_module(f"{package}.{module}")
                if name in vars(mod):
                    return vars(mod)[name]
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
