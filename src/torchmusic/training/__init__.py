"""Training with PyTorch Lightning: the only place torchmusic imports Lightning.

- :class:`TrainConfig`: every setting of a run, from a YAML recipe plus
  ``--key value`` overrides (instant to build: no torch import).
- :func:`train_classifier`: folder or manifest -> trained model file
  (``model.safetensors``), with early stopping, best-checkpoint selection,
  resume, CSV/TensorBoard logs and DDP through Lightning.
- :mod:`~torchmusic.training.augment`: gain, SpecAugment masks and mixup in
  plain torch, usable without Lightning.
- :func:`train_lm` (token Transformer / LSTM / VAE on MIDI), :func:`train_pianoroll`
  (JSB piano-roll model), :func:`train_embedder` (autoencoder / contrastive audio
  embeddings); the recommenders' PyTorch model trains in
  :mod:`~torchmusic.training.recommend`. All share :mod:`~torchmusic.training.engine`.

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
    "LMTrainConfig": "torchmusic.training.lm_config",
    "train_lm": "torchmusic.training.lm",
    "LMResult": "torchmusic.training.lm",
    "PianoRollTrainConfig": "torchmusic.training.pianoroll",
    "train_pianoroll": "torchmusic.training.pianoroll",
    "EmbedTrainConfig": "torchmusic.training.embed",
    "train_embedder": "torchmusic.training.embed",
}

__all__ = ["AUGMENT_DEFAULTS", "TrainConfig", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'torchmusic.training' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
