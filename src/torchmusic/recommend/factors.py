"""Shared by latent-factor recommenders: scores are ``user · item + bias``.

A subclass provides ``item_factors_`` ``(n_items, d)`` and :meth:`FactorModel.user_vectors`
(users from play rows); the hybrid recommender builds on exactly these pieces.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


class FactorModel:
    """Mixin for models with user and item vectors; similarity = item-vector cosine."""

    item_factors_: np.ndarray

    def user_vectors(self, profiles: sp.csr_matrix) -> np.ndarray:
        """User vectors ``(n, d)`` for play rows ``(n, n_items)`` (new users, sessions)."""
        raise NotImplementedError

    def user_vectors_of(self, rows: np.ndarray) -> np.ndarray:
        """User vectors ``(len(rows), d)`` of training users (default: from their plays)."""
        return self.user_vectors(self.data.plays[rows])  # type: ignore[attr-defined]

    def item_bias(self) -> np.ndarray:
        """Per-item score offset ``(n_items,)`` (default zeros)."""
        return np.zeros(self.item_factors_.shape[0], np.float32)

    def _score_users(self, rows: np.ndarray) -> np.ndarray:
        return self.user_vectors_of(rows) @ self.item_factors_.T + self.item_bias()

    def _score_profiles(self, profiles: sp.csr_matrix) -> np.ndarray:
        return self.user_vectors(profiles) @ self.item_factors_.T + self.item_bias()

    def _similarity(self, items: np.ndarray, others: np.ndarray) -> np.ndarray:
        return cosine(self.item_factors_[items], self.item_factors_[others])


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity ``(len(a), len(b))`` of the rows of two matrices."""
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return a @ b.T
