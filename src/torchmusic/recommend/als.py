"""Implicit-feedback ALS (Hu, Koren & Volinsky 2008) from the ``implicit`` library: the reference."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from torchmusic.errors import DependencyError, ParameterError
from torchmusic.recommend.base import Recommender
from torchmusic.recommend.data import ListeningData
from torchmusic.recommend.factors import FactorModel


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ParameterError(f"{name}={value!r} must be a positive int")
    return value


class ALSRecommender(FactorModel, Recommender):
    """Weighted matrix factorisation by alternating least squares (``implicit``).

    Confidence of an observed (user, item) pair is ``1 + alpha * log1p(plays)``;
    unobserved pairs have confidence 1 and preference 0.

    Parameters
    ----------
    factors : int
        Latent dimensions.
    regularization : float
        L2 penalty on the factors.
    alpha : float
        Confidence scale.
    iterations : int
        ALS sweeps.
    num_threads : int
        OpenMP threads of ``implicit`` (0 = all cores; set it on shared machines).
    seed : int
        Seed of the factor initialisation.

    Examples
    --------
    >>> model = ALSRecommender(factors=64).fit(train)  # doctest: +SKIP
    >>> model.recommend("2", k=3)  # doctest: +SKIP
    """

    kind = "als"

    def __init__(
        self,
        *,
        factors: int = 64,
        regularization: float = 0.05,
        alpha: float = 1.0,
        iterations: int = 15,
        num_threads: int = 1,
        seed: int = 0,
    ):
        super().__init__()
        self.factors = _positive_int("factors", factors)
        self.iterations = _positive_int("iterations", iterations)
        for name, value in (("regularization", regularization), ("alpha", alpha)):
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ParameterError(f"{name}={value!r} must be a non-negative number")
        self.regularization = float(regularization)
        self.alpha = float(alpha)
        self.num_threads = int(num_threads)
        self.seed = int(seed)

    def get_config(self) -> dict[str, Any]:
        return {
            "factors": self.factors,
            "regularization": self.regularization,
            "alpha": self.alpha,
            "iterations": self.iterations,
            "num_threads": self.num_threads,
            "seed": self.seed,
        }

    def confidence(self, plays: sp.csr_matrix) -> sp.csr_matrix:
        """``1 + alpha * log1p(plays)`` on the stored entries."""
        conf = sp.csr_matrix(plays, dtype=np.float32, copy=True)
        conf.data = 1.0 + self.alpha * np.log1p(conf.data)
        return conf

    def _fit(self, train: ListeningData) -> None:
        try:
            from implicit.cpu.als import AlternatingLeastSquares
            from threadpoolctl import threadpool_limits
        except ImportError as exc:
            raise DependencyError(
                "ALSRecommender needs 'implicit': pip install 'torchmusic[recommend]'"
            ) from exc
        # implicit passes the confidences straight to its solver (alpha=1 leaves them
        # as given), so the 1 + alpha * log1p(plays) weighting is computed here.
        # BLAS is kept single-threaded: implicit runs its own OpenMP threads and warns
        # (and slows down) when BLAS adds a thread pool inside them.
        with threadpool_limits(limits=1, user_api="blas"):
            als = AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                alpha=1.0,
                iterations=self.iterations,
                num_threads=self.num_threads,
                random_state=self.seed,
            )
            als.fit(self.confidence(train.plays), show_progress=False)
        self.user_factors_ = np.ascontiguousarray(als.user_factors, dtype=np.float32)
        self.item_factors_ = np.ascontiguousarray(als.item_factors, dtype=np.float32)

    def user_vectors(self, profiles: sp.csr_matrix) -> np.ndarray:
        """Least-squares user factors for new play rows (one ALS user step).

        Written out rather than taken from ``implicit`` because a loaded model keeps
        only the factors: ``x = (YᵀY + Yᵀ(C - I)Y + λI)⁻¹ YᵀC p``.
        """
        y = self.item_factors_.astype(np.float64)
        yty = y.T @ y + self.regularization * np.eye(y.shape[1])
        conf = self.confidence(sp.csr_matrix(profiles))
        out = np.zeros((profiles.shape[0], y.shape[1]), np.float32)
        for r in range(profiles.shape[0]):
            cols = conf.indices[conf.indptr[r] : conf.indptr[r + 1]]
            c = conf.data[conf.indptr[r] : conf.indptr[r + 1]].astype(np.float64)
            if cols.size:
                yl = y[cols]
                a = yty + (yl.T * (c - 1.0)) @ yl
                out[r] = np.linalg.solve(a, yl.T @ c)
        return out

    def user_vectors_of(self, rows: np.ndarray) -> np.ndarray:
        return self.user_factors_[rows]

    def _state(self) -> dict[str, np.ndarray]:
        return {"user_factors": self.user_factors_, "item_factors": self.item_factors_}

    def _set_state(self, arrays: dict[str, np.ndarray]) -> None:
        self.user_factors_ = arrays["user_factors"].astype(np.float32)
        self.item_factors_ = arrays["item_factors"].astype(np.float32)
