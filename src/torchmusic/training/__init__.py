"""Training with PyTorch Lightning: the only place torchmusic imports Lightning.

- :class:`TrainConfig`: every setting of a run, from a YAML recipe plus
  ``--key value`` overrides (instant to build: no torch import).
- :func:`train_classifier`: folder or manifest -> trained model file
  (``model.safetensors``), with early stopping, best-checkpoint selection,
  resume, CSV/TensorBoard logs and DDP through Lightning.
- :mod:`~torchmusic.training.augment`: gain, SpecAugment masks and mixup in
  plain torch, usable without Lightning.

Examples
--------
>>> from torchmusic.training import TrainConfig, train_classifier
>>> cfg = TrainConfig(data="genres/", model="shortchunk", max_epochs=20)
>>> result = train_classifier(cfg)  # doctest: +SKIP
>>> result.model_file  # doctest: +SKIP
PosixPath('runs/genres-shortchunk/model.safetensors')
"""

from __future__ import annotations

import importlib
from typing import Any

from torchmusic.training.config import AUGMENT_DEFAULTS, TrainConfig

# Lightning takes seconds to import: load the training machinery on first use, so
# that building a TrainConfig (and the CLI's argument checks) stays instant.
_LAZY = {
    "train_classifier": "torchmusic.training.classify",
    "TrainResult": "torchmusic.training.classify",
    "ClassifierModule": "torchmusic.training.module",
    "ClassificationData": "torchmusic.training.datamodule",
}

__all__ = [
    "AUGMENT_DEFAULTS",
    "ClassificationData",
    "ClassifierModule",
    "TrainConfig",
    "TrainResult",
    "train_classifier",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'torchmusic.training' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
