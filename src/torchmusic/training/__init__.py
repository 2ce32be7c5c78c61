"""Training with PyTorch Lightning: the only place torchmusic imports Lightning.

Laid out by task, each holding its settings (a torch-free
:class:`~torchmusic.training.recipe.RunRecipe`), data, LightningModule and job:

- :mod:`~torchmusic.training.classify`: :class:`TrainConfig`, :func:`train_classifier`
  (folder or manifest -> ``model.safetensors``; also the ``mfcc-svm`` baseline);
- :mod:`~torchmusic.training.lm`: :class:`LMTrainConfig`, :func:`train_lm`
  (token Transformer / LSTM / VAE on MIDI);
- :mod:`~torchmusic.training.pianoroll`: :func:`train_pianoroll` (JSB piano rolls);
- :mod:`~torchmusic.training.embed`: :func:`train_embedder` (autoencoder / contrastive);
- :mod:`~torchmusic.training.recommend`: :func:`fit_two_tower` (the PyTorch recommender).

Shared machinery: :mod:`~torchmusic.training.recipe` (settings: YAML + overrides),
:mod:`~torchmusic.training.engine` (run folder, Trainer, fit, evaluate-best, export),
:mod:`~torchmusic.training.adversarial` (several optimisers: GANs) and
:mod:`~torchmusic.training.augment` (gain, EQ, SpecAugment, mixup in plain torch).

Examples
--------
>>> from torchmusic.training import TrainConfig, train_classifier
>>> cfg = TrainConfig(data="genres/", model="shortchunk", max_epochs=20)
>>> result = train_classifier(cfg)  # doctest: +SKIP
>>> result.model_file  # doctest: +SKIP
PosixPath('runs/genres-shortchunk/model.safetensors')
"""

from __future__ import annotations

from torchmusic._lazy import lazy_package
from torchmusic.training.classify.settings import AUGMENT_DEFAULTS, TrainConfig

# Lightning takes seconds to import: load the training machinery on first use, so
# that building a TrainConfig (and the CLI's argument checks) stays instant.
_LAZY = {
    "train_classifier": "torchmusic.training.classify.job",
    "TrainResult": "torchmusic.training.classify.job",
    "ClassifierModule": "torchmusic.training.classify.module",
    "ClassificationData": "torchmusic.training.classify.datamodule",
    "LMTrainConfig": "torchmusic.training.lm.settings",
    "train_lm": "torchmusic.training.lm.job",
    "LMResult": "torchmusic.training.lm.job",
    "PianoRollTrainConfig": "torchmusic.training.pianoroll.settings",
    "train_pianoroll": "torchmusic.training.pianoroll.job",
    "EmbedTrainConfig": "torchmusic.training.embed.settings",
    "train_embedder": "torchmusic.training.embed.job",
    "TwoTowerTrainConfig": "torchmusic.training.recommend.settings",
    "fit_two_tower": "torchmusic.training.recommend.job",
    "RunRecipe": "torchmusic.training.recipe",
    "Recipe": "torchmusic.training.recipe",
}

__all__ = ["AUGMENT_DEFAULTS", "TrainConfig", *sorted(_LAZY)]


__getattr__, __dir__ = lazy_package(__name__, _LAZY, eager=("AUGMENT_DEFAULTS", "TrainConfig"))
