"""Deprecated location: use :mod:`torchmusic.training.classify.settings` (kept so old imports work)."""

import importlib as _importlib

_moved = _importlib.import_module("torchmusic.training.classify.settings")
globals().update({k: v for k, v in vars(_moved).items() if not k.startswith("__")})
