"""Package attributes that load on first use (one helper for every lazy ``__init__``).

Why: importing one module of a package must not import all of it, or the cheapest
command would cost what the heaviest does (``recommend`` on an ALS file would load
torch through ``torchmusic.models``). Each package ``__init__`` maps its public names
to the modules that define them and gets its ``__getattr__`` / ``__dir__`` from here.
Imports nothing of torchmusic, so any layer may use it.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Iterable, Mapping
from typing import Any


def lazy_package(
    package: str,
    exports: Mapping[str, str],
    *,
    submodules: bool = False,
    eager: Iterable[str] = (),
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``: ``exports`` maps a name to its module.

    With ``submodules=True``, ``package.<submodule>`` also works as an attribute
    without an import statement, as when the package imported its modules eagerly.
    ``eager`` lists public names the package defines itself (shown by ``dir``).

    Examples
    --------
    >>> __getattr__, __dir__ = lazy_package(__name__, {"Registry": "torchmusic.io.registry"})
    """

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is not None:
            return getattr(importlib.import_module(module), name)
        if submodules and not name.startswith("__"):
            if importlib.util.find_spec(f"{package}.{name}") is not None:
                return importlib.import_module(f"{package}.{name}")
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted({*exports, *eager})

    return __getattr__, __dir__
