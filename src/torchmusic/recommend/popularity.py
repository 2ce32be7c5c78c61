"""Most-listened items first: the baseline every recommender must beat."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from torchmusic.recommend.base import Recommender
from torchmusic.recommend.data import ListeningData


class PopularityRecommender(Recommender):
    """Scores every item by its number of listeners in the training data (same list for all).

    Examples
    --------
    >>> model = PopularityRecommender().fit(train)  # doctest: +SKIP
    >>> model.recommend("2", k=3)  # doctest: +SKIP
    """

    kind = "popularity"

    def get_config(self) -> dict[str, Any]:
        return {}

    def _fit(self, train: ListeningData) -> None:
        self.counts_ = train.listeners.astype(np.float32)

    def _score_profiles(self, profiles: sp.csr_matrix) -> np.ndarray:
        return np.tile(self.counts_, (profiles.shape[0], 1))

    def _state(self) -> dict[str, np.ndarray]:
        return {"counts": self.counts_}

    def _set_state(self, arrays: dict[str, np.ndarray]) -> None:
        self.counts_ = arrays["counts"].astype(np.float32)
