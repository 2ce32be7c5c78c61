"""Content-based recommendation: items whose features resemble those of the user's items."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from torchmusic.errors import DataError, ParameterError
from torchmusic.recommend.base import Recommender
from torchmusic.recommend.data import ListeningData
from torchmusic.recommend.weighting import weigh


def tag_tfidf(
    item_tags: sp.spmatrix, *, sublinear: bool = True, normalise: bool = True
) -> sp.csr_matrix:
    """TF-IDF item x tag features from tag counts (rows L2-normalised by default).

    Parameters
    ----------
    item_tags : scipy.sparse matrix, shape (n_items, n_tags)
        How often each item received each tag.
    sublinear : bool
        ``1 + log(count)`` instead of raw counts (a tag given 50 times is not 50 times
        more descriptive than one given once).
    normalise : bool
        Scale rows to unit L2 norm.

    Returns
    -------
    scipy.sparse.csr_matrix, shape (n_items, n_tags), float32
        All-zero rows for untagged items.

    Examples
    --------
    >>> f = tag_tfidf(sp.csr_matrix(np.array([[2.0, 0.0], [1.0, 1.0]])))
    >>> np.round(f.toarray(), 3)
    array([[1.   , 0.   ],
           [0.58 , 0.815]], dtype=float32)
    """
    from sklearn.feature_extraction.text import TfidfTransformer

    tfidf = TfidfTransformer(sublinear_tf=sublinear, norm="l2" if normalise else None)
    return sp.csr_matrix(tfidf.fit_transform(sp.csr_matrix(item_tags)), dtype=np.float32)


def _row_norms(f: np.ndarray | sp.csr_matrix) -> np.ndarray:
    if sp.issparse(f):
        return np.sqrt(np.asarray(f.multiply(f).sum(axis=1)).ravel())
    return np.linalg.norm(f, axis=1)


def _scale_rows(f: np.ndarray | sp.csr_matrix, scale: np.ndarray) -> np.ndarray | sp.csr_matrix:
    if sp.issparse(f):
        return sp.csr_matrix(sp.diags(scale.astype(np.float32)) @ f, dtype=np.float32)
    return (f * scale[:, None]).astype(np.float32)


class ContentRecommender(Recommender):
    """Scores items by the similarity of their features to the user's profile.

    The profile is the ``weighting``-weighted sum of the unit-norm feature rows of
    the items the user played; an item's score is its unit-norm feature row times
    ``norm ** (1 - item_norm_power)`` dotted with the profile. ``item_norm_power=1``
    is plain cosine similarity; below 1, items with more feature mass -- for tag
    TF-IDF, items tagged by more people, i.e. better-known ones -- score higher,
    which on Last.fm-2k lifts warm recall@10 from 0.07 to 0.16 (see
    ``docs/recommend.md``). Items without any interaction are scored like any
    other: content handles cold start.

    Parameters
    ----------
    item_features : np.ndarray or scipy.sparse matrix, shape (n_items, d), optional
        Item features, e.g. audio embeddings of tracks. Default: TF-IDF of the
        training data's tag counts (:func:`tag_tfidf`, sublinear term frequency).
    weighting : str
        How plays weigh in the profile (``"binary"``, ``"log"``, ``"plays"``).
    item_norm_power : float
        In ``[0, 1]``: how fully item rows are normalised before scoring.

    Examples
    --------
    >>> model = ContentRecommender().fit(train)  # doctest: +SKIP
    >>> model.recommend_similar(["Radiohead"], k=5)  # doctest: +SKIP
    """

    kind = "content"
    explain_tags = True

    def __init__(
        self, *, item_features: Any = None, weighting: str = "log", item_norm_power: float = 0.5
    ):
        super().__init__()
        weigh(sp.csr_matrix((1, 1)), weighting)  # validates the name
        p = item_norm_power
        if isinstance(p, bool) or not isinstance(p, int | float) or not 0 <= p <= 1:
            raise ParameterError(f"item_norm_power={p!r} must be a number in [0, 1]")
        self.weighting = weighting
        self.item_norm_power = float(p)
        self._given = item_features

    def get_config(self) -> dict[str, Any]:
        # Given features are saved with the fitted state, not as an argument.
        return {"weighting": self.weighting, "item_norm_power": self.item_norm_power}

    def _fit(self, train: ListeningData) -> None:
        if self._given is None:
            if train.n_tags == 0 or len(train.tag_assignments) == 0:
                raise DataError("ContentRecommender needs item features or tag assignments")
            raw: np.ndarray | sp.csr_matrix = tag_tfidf(train.item_tags, normalise=False)
        else:
            f = self._given
            raw = (
                sp.csr_matrix(f, dtype=np.float32) if sp.issparse(f) else np.asarray(f, np.float32)
            )
            if raw.ndim != 2 or raw.shape[0] != train.n_items:
                raise ParameterError(
                    f"item_features has shape {raw.shape}, expected (n_items={train.n_items}, d)"
                )
            if not np.isfinite(raw.data if sp.issparse(raw) else raw).all():
                raise ParameterError("item_features contain NaN or infinite values")
        norms = _row_norms(raw)
        self.features_ = _scale_rows(raw, 1.0 / np.maximum(norms, 1e-12))
        self.item_scale_ = (norms ** (1.0 - self.item_norm_power)).astype(np.float32)

    def item_vectors(self) -> np.ndarray | sp.csr_matrix:
        """The rows items are scored with, ``(n_items, d)``: unit rows times ``item_scale_``."""
        return _scale_rows(self.features_, self.item_scale_)

    def profiles(self, plays: sp.csr_matrix) -> np.ndarray:
        """Unit-norm user profiles ``(n, d)``: weighted sums of their items' unit feature rows."""
        p = weigh(plays, self.weighting) @ self.features_
        p = np.asarray(p.todense() if sp.issparse(p) else p, dtype=np.float32)
        return p / np.maximum(np.linalg.norm(p, axis=1, keepdims=True), 1e-12)

    def _score_profiles(self, profiles: sp.csr_matrix) -> np.ndarray:
        s = self.features_ @ self.profiles(profiles).T  # (n_items, n): sparse @ dense is cheap
        return (np.asarray(s, dtype=np.float32) * self.item_scale_[:, None]).T

    def _similarity(self, items: np.ndarray, others: np.ndarray) -> np.ndarray:
        s = self.features_[items] @ self.features_[others].T
        return np.asarray(s.todense() if sp.issparse(s) else s, dtype=np.float32)

    def _state(self) -> dict[str, np.ndarray]:
        f = self.features_
        state = {"item_scale": self.item_scale_}
        if sp.issparse(f):
            state.update(
                {
                    "features.data": f.data,
                    "features.indices": f.indices,
                    "features.indptr": f.indptr,
                    "features.shape": np.array(f.shape, np.int64),
                }
            )
        else:
            state["features"] = f
        return state

    def _set_state(self, arrays: dict[str, np.ndarray]) -> None:
        self.item_scale_ = arrays["item_scale"].astype(np.float32)
        if "features" in arrays:
            self.features_ = arrays["features"].astype(np.float32)
        else:
            self.features_ = sp.csr_matrix(
                (arrays["features.data"], arrays["features.indices"], arrays["features.indptr"]),
                shape=tuple(arrays["features.shape"].tolist()),
            )
