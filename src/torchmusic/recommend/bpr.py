"""The PyTorch collaborative-filtering recommender: a two-tower network trained with Lightning."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from torchmusic.errors import ParameterError
from torchmusic.recommend.base import Recommender
from torchmusic.recommend.data import ListeningData
from torchmusic.recommend.factors import FactorModel

# Defaults of TwoTowerTrainConfig, repeated here so that building (and validating)
# a recommender does not import torch or Lightning; a test keeps the two in step.
# Settings renamed to the shared training vocabulary; files and recipes written with
# the old names keep working (a recipe gets a warning from the recipe layer).
_RENAMED = {"epochs": "max_epochs", "schedule": "scheduler"}
_DEFAULTS: dict[str, Any] = {
    "dim": 64,
    "max_epochs": 40,
    "batch_size": 128,
    "lr": 3e-3,
    "scheduler": "constant",
    "weight_decay": 5.0,
    "input_dropout": 0.5,
    "loss": "softmax",
    "negatives": 16,
    "val_fraction": 0.0,
    "patience": 5,
    "seed": 0,
    "accelerator": "cpu",
}


class BPRRecommender(FactorModel, Recommender):
    """Two-tower collaborative filtering in PyTorch (:class:`~torchmusic.models.recommend.TwoTower`).

    A user is the pooled embedding of the items they played, an item its own
    embedding plus a bias; training (:func:`torchmusic.training.recommend.fit_two_tower`,
    Lightning) maximises the softmax likelihood of each user's items over all
    items from a randomly thinned input bag -- BPR with every item as a negative --
    or, with ``loss="bpr"``, classic BPR with sampled negatives. Recommending needs
    only numpy (two matrix products), not torch.

    Parameters
    ----------
    num_threads : int
        torch threads while training (0 = leave torch's setting alone).
    **settings
        Any field of :class:`~torchmusic.training.recommend.TwoTowerTrainConfig`
        (``dim``, ``max_epochs``, ``lr``, ``weight_decay``, ``input_dropout``,
        ``loss``, ``negatives``, ``val_fraction``, ``seed``, ``accelerator``, ...).

    Examples
    --------
    >>> model = BPRRecommender(max_epochs=40, num_threads=1).fit(train)  # doctest: +SKIP
    >>> model.recommend_similar(["Coldplay"], k=5)  # doctest: +SKIP
    """

    kind = "bpr"

    def __init__(self, *, num_threads: int = 1, progress: bool = False, **settings: Any):
        super().__init__()
        settings = {_RENAMED.get(k, k): v for k, v in settings.items()}
        unknown = sorted(set(settings) - set(_DEFAULTS))
        if unknown:
            raise ParameterError(
                f"unknown BPRRecommender settings {unknown}; expected some of {sorted(_DEFAULTS)}"
            )
        self.settings = {**_DEFAULTS, **settings}
        self.num_threads = int(num_threads)
        self.progress = bool(progress)
        self.train_info_: dict[str, Any] = {}

    def get_config(self) -> dict[str, Any]:
        return {**self.settings, "num_threads": self.num_threads}

    def _fit(self, train: ListeningData) -> None:
        import torch

        from torchmusic.training.recommend import TwoTowerTrainConfig, fit_two_tower

        cfg = TwoTowerTrainConfig(**self.settings, progress=self.progress)
        threads = torch.get_num_threads()
        if self.num_threads > 0:
            torch.set_num_threads(self.num_threads)
        try:
            net, self.train_info_ = fit_two_tower(train.plays, cfg)
        finally:
            torch.set_num_threads(threads)
        self.context_ = net.context.weight.detach().numpy().astype(np.float32)
        self.item_factors_ = net.items.weight.detach().numpy().astype(np.float32)
        self.bias_ = net.bias.detach().numpy().astype(np.float32)

    def user_vectors(self, profiles: sp.csr_matrix) -> np.ndarray:
        """The user tower in numpy: ``(n, dim)`` from play rows (same as the network's)."""
        binary = sp.csr_matrix(profiles, dtype=np.float32, copy=True)
        binary.data[:] = 1.0
        counts = np.asarray(binary.sum(axis=1)).ravel()
        pooled = binary @ self.context_
        return pooled / np.sqrt(np.maximum(counts, 1.0))[:, None]

    def item_bias(self) -> np.ndarray:
        return self.bias_

    def _state(self) -> dict[str, np.ndarray]:
        return {"context": self.context_, "items": self.item_factors_, "bias": self.bias_}

    def _set_state(self, arrays: dict[str, np.ndarray]) -> None:
        self.context_ = arrays["context"].astype(np.float32)
        self.item_factors_ = arrays["items"].astype(np.float32)
        self.bias_ = arrays["bias"].astype(np.float32)

    @staticmethod
    def default_settings() -> dict[str, Any]:
        """The training defaults (a copy)."""
        return dict(_DEFAULTS)


__all__ = ["BPRRecommender"]
