"""Deprecated: the model-file container moved to :mod:`torchmusic.io.container`.

Importing it from here still works (with a :class:`DeprecationWarning`), but runs
``torchmusic.models``' own imports (torch, every classifier); import
:mod:`torchmusic.io.container` instead.
"""

from __future__ import annotations

import warnings

from torchmusic.io.container import *  # noqa: F403
from torchmusic.io.container import (  # noqa: F401 (private helpers some callers used)
    _MAX_HEADER_BYTES,
    _SPEC_NAMES,
    _a,
    _json,
    _owned,
    _refuse_pickle,
    _serialise,
    _sha256,
    _split_safetensors,
)

warnings.warn(
    "torchmusic.models.container is deprecated; import torchmusic.io.container instead",
    DeprecationWarning,
    stacklevel=2,
)
