"""Hybrid recommendation: collaborative factors where items have listeners, content where not.

Three pieces, each fitted on the training data:

1. a latent-factor CF model (ALS or the PyTorch two-tower) gives user vectors and
   item vectors (plus a bias);
2. a ridge regression maps an item's content features (tag TF-IDF, or audio
   embeddings) into that item-vector space. An item with ``n`` listeners gets the
   item vector ``s * cf + (1 - s) * mapped`` with ``s = n / (n + shrinkage)``, so
   a cold item (``n = 0``) is placed by its content alone and a well-known one by
   its listeners;
3. a :class:`~torchmusic.recommend.ContentRecommender` score is added on top:
   ``score = z(cf score) + w * z(content score)`` with per-user standardised scores
   and ``w = warm_weight`` for items with listeners, ``cold_weight`` for items
   without; items without listeners also lose ``cold_offset``, which sets how
   readily they enter a list among known items (it does not change the order of
   cold items among themselves).

The ridge penalty, both weights and the offset are tuned, unless given, on a validation split
cut from the training data (10 % of its items held out whole, 10 % of each user's
remaining pairs), with a CF model of the same settings fitted on the rest.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import scipy.sparse as sp

from torchmusic.errors import DataError, ParameterError
from torchmusic.recommend.base import Recommender, top_k
from torchmusic.recommend.content import ContentRecommender
from torchmusic.recommend.data import ListeningData
from torchmusic.recommend.factors import FactorModel, cosine
from torchmusic.recommend.metrics import recall_at_k

RIDGE_ALPHAS = (3.0, 10.0, 30.0)
WEIGHTS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)
OFFSETS = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0)
CF_KINDS = ("als", "bpr")
#: The settings tuned on a validation split when not given.
TUNED = ("ridge_alpha", "warm_weight", "cold_weight", "cold_offset")
#: Used when the data are too small to tune on (typical Last.fm-2k choices).
FALLBACK = {"ridge_alpha": 10.0, "warm_weight": 1.0, "cold_weight": 1.0, "cold_offset": 4.0}


def _zscore(scores: np.ndarray) -> np.ndarray:
    mean = scores.mean(axis=1, keepdims=True)
    std = scores.std(axis=1, keepdims=True)
    return (scores - mean) / np.maximum(std, 1e-9)


def _optional_weight(name: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ParameterError(f"{name}={value!r} must be a non-negative number or None (tune)")
    return float(value)


class HybridRecommender(Recommender):
    """Content + collaborative filtering; scores cold items and users with few plays.

    Parameters
    ----------
    cf : str or Recommender
        ``"als"`` (default; cheap to tune), ``"bpr"`` (the PyTorch two-tower), or a
        latent-factor recommender instance. An instance already fitted on the very
        same training data object is reused rather than refitted.
    cf_config : dict, optional
        Settings of the CF model when ``cf`` is a name.
    content_config : dict, optional
        Settings of the :class:`ContentRecommender` (``item_features=`` gives audio
        embeddings instead of tag TF-IDF).
    ridge_alpha, warm_weight, cold_weight, cold_offset : float or None
        Ridge penalty of the content -> item-vector map, the content weights and
        the cold-item offset (see the module docstring); None tunes them on a
        validation split.
    shrinkage : float
        Listeners at which an item's own CF vector and its mapped one weigh the same.
    tune_users : int
        Users sampled for tuning (speed).
    seed : int
        Seed of the validation split and the user sample.

    Examples
    --------
    >>> model = HybridRecommender(cf="als").fit(train)  # doctest: +SKIP
    >>> model.tuned_  # doctest: +SKIP
    {'ridge_alpha': 10.0, 'warm_weight': 0.5, 'cold_weight': 1.0, 'cold_offset': 1.0}
    """

    kind = "hybrid"
    explain_tags = True

    def __init__(
        self,
        *,
        cf: str | Recommender = "als",
        cf_config: dict[str, Any] | None = None,
        content_config: dict[str, Any] | None = None,
        ridge_alpha: float | None = None,
        warm_weight: float | None = None,
        cold_weight: float | None = None,
        cold_offset: float | None = None,
        shrinkage: float = 1.0,
        tune_users: int = 500,
        seed: int = 0,
    ):
        super().__init__()
        from torchmusic.recommend.io import recommender_class

        if isinstance(cf, str):
            if cf not in CF_KINDS:
                raise ParameterError(f"cf={cf!r} must be one of {CF_KINDS} or a recommender")
            self._cf_template: Recommender = recommender_class(cf)(**(cf_config or {}))
        elif isinstance(cf, FactorModel) and isinstance(cf, Recommender):
            if cf_config:
                raise ParameterError("cf_config applies only when cf is a name")
            self._cf_template = cf
        else:
            raise ParameterError(
                f"cf must be one of {CF_KINDS} or a latent-factor recommender (ALS, BPR), "
                f"got {cf!r}"
            )
        self.content_config = dict(content_config or {})
        ContentRecommender(**self.content_config)  # validates
        self.ridge_alpha = _optional_weight("ridge_alpha", ridge_alpha)
        self.warm_weight = _optional_weight("warm_weight", warm_weight)
        self.cold_weight = _optional_weight("cold_weight", cold_weight)
        self.cold_offset = _optional_weight("cold_offset", cold_offset)
        if not isinstance(shrinkage, int | float) or isinstance(shrinkage, bool) or shrinkage <= 0:
            raise ParameterError(f"shrinkage={shrinkage!r} must be a positive number")
        self.shrinkage = float(shrinkage)
        if isinstance(tune_users, bool) or not isinstance(tune_users, int) or tune_users < 1:
            raise ParameterError(f"tune_users={tune_users!r} must be a positive int")
        self.tune_users = tune_users
        self.seed = int(seed)
        self.tuned_: dict[str, float] = {}

    def get_config(self) -> dict[str, Any]:
        cfg = {k: v for k, v in self.content_config.items() if k != "item_features"}
        return {
            "cf": self._cf_template.kind,
            "cf_config": self._cf_template.get_config(),
            "content_config": cfg,
            "ridge_alpha": self.ridge_alpha,
            "warm_weight": self.warm_weight,
            "cold_weight": self.cold_weight,
            "cold_offset": self.cold_offset,
            "shrinkage": self.shrinkage,
            "tune_users": self.tune_users,
            "seed": self.seed,
        }

    # -- fitting -----------------------------------------------------------------------------
    def _new_cf(self) -> Recommender:
        from torchmusic.recommend.io import recommender_class

        t = self._cf_template
        return recommender_class(t.kind)(**t.get_config())

    def _fit(self, train: ListeningData) -> None:
        self.content_ = ContentRecommender(**self.content_config).fit(train)
        t = self._cf_template
        self.cf_ = t if t.data_ is train else self._new_cf().fit(train)
        tuned = {
            "ridge_alpha": self.ridge_alpha,
            "warm_weight": self.warm_weight,
            "cold_weight": self.cold_weight,
            "cold_offset": self.cold_offset,
        }
        if any(v is None for v in tuned.values()):
            try:
                tuned = self._tune(train, tuned)
            except DataError as exc:  # too few users or items to cut a validation split
                warnings.warn(
                    f"HybridRecommender cannot tune on this data ({exc}); using the "
                    f"Last.fm-2k defaults {FALLBACK}",
                    RuntimeWarning,
                    stacklevel=3,
                )
                tuned = {k: FALLBACK[k] if v is None else v for k, v in tuned.items()}
        self.tuned_ = {k: float(v) for k, v in tuned.items()}
        self.mapped_ = _fit_map(
            self.content_.item_vectors(), _targets(self.cf_), train.listeners, tuned["ridge_alpha"]
        )
        self._blend()

    def _tune(self, train: ListeningData, given: dict[str, float | None]) -> dict[str, float]:
        """Choose the unset settings on a validation split cut from ``train``."""
        from torchmusic.recommend.splits import cold_split, warm_split

        cold = cold_split(train, item_fraction=0.1, seed=self.seed)
        warm = warm_split(cold.train, test_fraction=0.1, seed=self.seed)
        inner = warm.train
        cf = self._new_cf().fit(inner)
        content = ContentRecommender(**self.content_config).fit(inner)
        rng = np.random.default_rng(self.seed)

        def sample(users: np.ndarray) -> np.ndarray:
            n = min(self.tune_users, users.size)
            return np.sort(rng.choice(users, size=n, replace=False))

        def best(options: dict[Any, float]) -> Any:
            return max(options, key=options.get)  # first of equals: the earliest (smallest)

        vectors, targets = content.item_vectors(), _targets(cf)
        # Cold items: only the map and the cold weight matter.
        users_c = sample(cold.test_users)
        parts_c = _Parts.of(cf, content, inner, users_c)
        alphas = [given["ridge_alpha"]] if given["ridge_alpha"] is not None else RIDGE_ALPHAS
        cold_w = [given["cold_weight"]] if given["cold_weight"] is not None else WEIGHTS
        results, maps = {}, {}
        for alpha in alphas:
            mapped = maps[alpha] = _fit_map(vectors, targets, inner.listeners, alpha)
            for w in cold_w:
                scores = parts_c.scores(
                    mapped, self.shrinkage, warm_weight=0.0, cold_weight=w, cold_offset=0.0
                )
                results[(alpha, w)] = _recall(scores, cold.test[users_c], cold.candidates)
        alpha, cold_weight = best(results)
        # Warm pairs: the weight of content for items with listeners, and how far
        # items without listeners (here: mostly the inner cold ones) are held back.
        users_w = sample(warm.test_users)
        parts_w = _Parts.of(cf, content, inner, users_w)
        mapped = maps[alpha]
        warm_w = [given["warm_weight"]] if given["warm_weight"] is not None else WEIGHTS
        offsets = [given["cold_offset"]] if given["cold_offset"] is not None else OFFSETS
        results = {}
        for w in warm_w:
            for offset in offsets:
                scores = parts_w.scores(
                    mapped,
                    self.shrinkage,
                    warm_weight=w,
                    cold_weight=cold_weight,
                    cold_offset=offset,
                )
                scores[parts_w.seen] = -np.inf
                results[(w, offset)] = _recall(scores, warm.test[users_w], None)
        warm_weight, cold_offset = best(results)
        return {
            "ridge_alpha": alpha,
            "warm_weight": warm_weight,
            "cold_weight": cold_weight,
            "cold_offset": cold_offset,
        }

    # -- scoring ----------------------------------------------------------------------------
    def item_vectors(self) -> np.ndarray:
        """Item vectors ``(n_items, d + 1)`` (last column: bias) blending CF and mapped content."""
        return self.item_vectors_

    def _blend(self) -> None:
        # Computed once (fit, load): recomputing it per request would triple latency.
        n = self.data.listeners.astype(np.float32)
        s = (n / (n + self.shrinkage))[:, None]
        self.item_vectors_ = s * _targets(self.cf_) + (1.0 - s) * self.mapped_
        t, known = self.tuned_, n > 0
        self._content_weight = np.where(known, t["warm_weight"], t["cold_weight"]).astype(
            np.float32
        )
        self._offset = np.where(known, 0.0, t["cold_offset"]).astype(np.float32)

    def _combine(self, user_vectors: np.ndarray, plays: sp.csr_matrix) -> np.ndarray:
        ua = np.hstack([user_vectors, np.ones((len(user_vectors), 1), np.float32)])
        cf = _zscore(ua @ self.item_vectors().T)
        content = _zscore(self.content_._score_profiles(plays))
        return cf + content * self._content_weight - self._offset

    def _score_users(self, rows: np.ndarray) -> np.ndarray:
        return self._combine(self.cf_.user_vectors_of(rows), self.data.plays[rows])

    def _score_profiles(self, profiles: sp.csr_matrix) -> np.ndarray:
        return self._combine(self.cf_.user_vectors(profiles), profiles)

    def _similarity(self, items: np.ndarray, others: np.ndarray) -> np.ndarray:
        v = self.item_vectors_
        return cosine(v[items, :-1], v[others, :-1])

    # -- saving -------------------------------------------------------------------------------
    def _state(self) -> dict[str, np.ndarray]:
        state = {f"cf.{k}": v for k, v in self.cf_._state().items()}
        state.update({f"content.{k}": v for k, v in self.content_._state().items()})
        state["mapped"] = self.mapped_
        t = self.tuned_
        state["tuned"] = np.array([t[k] for k in TUNED], np.float64)
        return state

    def _set_state(self, arrays: dict[str, np.ndarray]) -> None:
        self.cf_ = self._new_cf()
        self.cf_.data_ = self.data_
        self.cf_._set_state({k[3:]: v for k, v in arrays.items() if k.startswith("cf.")})
        self.content_ = ContentRecommender(**self.content_config)
        self.content_.data_ = self.data_
        self.content_._set_state({k[8:]: v for k, v in arrays.items() if k.startswith("content.")})
        self.mapped_ = arrays["mapped"].astype(np.float32)
        self.tuned_ = dict(zip(TUNED, arrays["tuned"].tolist(), strict=True))
        self._blend()


def _targets(cf: Any) -> np.ndarray:
    """CF item vectors with the bias as a last column, ``(n_items, d + 1)``."""
    return np.hstack([cf.item_factors_, cf.item_bias()[:, None]]).astype(np.float32)


def _fit_map(
    features: np.ndarray | sp.csr_matrix, targets: np.ndarray, listeners: np.ndarray, alpha: float
) -> np.ndarray:
    """Ridge regression content -> CF item vectors, fitted on items with listeners."""
    from sklearn.linear_model import Ridge

    train = np.flatnonzero(listeners > 0)
    # lsqr: the fastest of scikit-learn's sparse solvers here (17k x 12k TF-IDF, ~3 s).
    ridge = Ridge(alpha=alpha, fit_intercept=True, solver="lsqr")
    ridge.fit(features[train], targets[train])
    return np.asarray(ridge.predict(features), dtype=np.float32)


def _recall(scores: np.ndarray, relevant: sp.csr_matrix, candidates: np.ndarray | None) -> float:
    if candidates is not None:
        cols, _ = top_k(scores[:, candidates], 10)
        cols = candidates[cols]
    else:
        cols, _ = top_k(scores, 10)
    return float(recall_at_k(cols, relevant, k=10))


class _Parts:
    """The pieces of hybrid scores for a fixed set of users, reused across a tuning grid."""

    def __init__(
        self,
        users: np.ndarray,
        content: np.ndarray,
        cf_items: np.ndarray,
        listeners: np.ndarray,
        seen: tuple[np.ndarray, np.ndarray],
    ) -> None:
        self.users, self.content, self.cf_items = users, content, cf_items
        self.listeners, self.seen = listeners, seen

    @classmethod
    def of(cls, cf: Any, content: ContentRecommender, data: ListeningData, rows: np.ndarray):
        plays = data.plays[rows]
        u = cf.user_vectors_of(rows)
        ua = np.hstack([u, np.ones((len(u), 1), np.float32)])
        seen = (np.repeat(np.arange(rows.size), np.diff(plays.indptr)), plays.indices)
        return cls(ua, _zscore(content._score_profiles(plays)), _targets(cf), data.listeners, seen)

    def scores(
        self,
        mapped: np.ndarray,
        shrinkage: float,
        *,
        warm_weight: float,
        cold_weight: float,
        cold_offset: float,
    ) -> np.ndarray:
        n = self.listeners.astype(np.float32)
        s = (n / (n + shrinkage))[:, None]
        items = s * self.cf_items + (1.0 - s) * mapped
        known = self.listeners > 0
        w = np.where(known, warm_weight, cold_weight).astype(np.float32)
        offset = np.where(known, 0.0, cold_offset).astype(np.float32)
        return _zscore(self.users @ items.T) + self.content * w - offset
