"""Top-k ranking metrics for implicit feedback: recall, NDCG, MAP and catalogue coverage.

Each metric takes ranked recommendations ``(n_users, >= k)`` of item columns and the
relevant (held-out) items as a ``(n_users, n_items)`` matrix (dense or scipy
sparse; any non-zero entry is relevant). Users without relevant items are left out
of the mean. Definitions (``rel_i`` = 1 if the item at rank ``i`` is relevant,
``R`` = number of relevant items of the user):

- recall@k = ``sum(rel_1..k) / R``
- NDCG@k = ``DCG / IDCG`` with ``DCG = sum rel_i / log2(i + 1)`` and the ideal DCG of
  ``min(R, k)`` hits at the top
- MAP@k = mean over users of ``sum_i P@i * rel_i / min(R, k)``
- coverage = distinct recommended items / number of candidate items
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from torchmusic.errors import ParameterError


def _hits(recommended: Any, relevant: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``(hits (n_users, k) bool, n_relevant (n_users,))`` for the users with relevant items."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ParameterError(f"k={k!r} must be a positive int")
    rec = np.asarray(recommended)
    if rec.ndim != 2 or not np.issubdtype(rec.dtype, np.integer):
        raise ParameterError(
            f"recommended must be a 2-D integer array (n_users, k), got shape {rec.shape} "
            f"of {rec.dtype}"
        )
    if rec.shape[1] < k:
        raise ParameterError(f"recommended has {rec.shape[1]} columns, fewer than k={k}")
    rel = sp.csr_matrix(relevant)
    if rel.shape[0] != rec.shape[0]:
        raise ParameterError(
            f"recommended has {rec.shape[0]} rows but relevant has {rel.shape[0]} (one per user)"
        )
    rel.eliminate_zeros()
    rec = rec[:, :k]
    n_items = rel.shape[1]
    valid = (rec >= 0) & (rec < n_items)  # -1 marks "nothing left to recommend"
    # Hits by key lookup (row * n_items + column) in the relevant entries' keys.
    rows = np.arange(rec.shape[0], dtype=np.int64)[:, None]
    rel_keys = np.repeat(np.arange(rel.shape[0], dtype=np.int64), np.diff(rel.indptr))
    rel_keys = rel_keys * n_items + rel.indices
    hits = valid & np.isin(rows * n_items + rec, rel_keys)
    n_rel = np.diff(rel.indptr)
    keep = n_rel > 0
    return hits[keep], n_rel[keep]


def _mean(values: np.ndarray, average: bool) -> float | np.ndarray:
    if not average:
        return values
    return float(values.mean()) if values.size else float("nan")


def recall_at_k(recommended: Any, relevant: Any, *, k: int = 10, average: bool = True):
    """Share of each user's relevant items found in their top ``k``.

    Parameters
    ----------
    recommended : np.ndarray, shape (n_users, >= k), int
        Ranked item columns per user (best first); -1 = no item.
    relevant : array-like or scipy.sparse matrix, shape (n_users, n_items)
        Non-zero where the item is relevant (held out) for the user.
    k : int
        Cut-off.
    average : bool
        Return the mean over users with relevant items (else one value per such user).

    Returns
    -------
    float or np.ndarray
        NaN when no user has a relevant item.

    Examples
    --------
    >>> recall_at_k(np.array([[0, 1, 2]]), np.array([[1, 0, 0, 1]]), k=3)
    0.5
    """
    hits, n_rel = _hits(recommended, relevant, k)
    return _mean(hits.sum(axis=1) / n_rel, average)


def ndcg_at_k(recommended: Any, relevant: Any, *, k: int = 10, average: bool = True):
    """Normalised discounted cumulative gain with binary relevance.

    Parameters and returns as :func:`recall_at_k`.

    Examples
    --------
    >>> round(ndcg_at_k(np.array([[2, 0]]), np.array([[1, 0, 0]]), k=2), 4)  # hit at rank 2
    0.6309
    """
    hits, n_rel = _hits(recommended, relevant, k)
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = hits @ discount
    ideal = np.cumsum(discount)[np.minimum(n_rel, k) - 1]
    return _mean(dcg / ideal, average)


def map_at_k(recommended: Any, relevant: Any, *, k: int = 10, average: bool = True):
    """Mean average precision: precision at each hit's rank, summed over ``min(R, k)``.

    Parameters and returns as :func:`recall_at_k`.

    Examples
    --------
    >>> map_at_k(np.array([[0, 2, 1]]), np.array([[1, 1, 0]]), k=3)  # (1/1 + 2/3) / 2
    0.8333333333333333
    """
    hits, n_rel = _hits(recommended, relevant, k)
    precision = np.cumsum(hits, axis=1) / np.arange(1, k + 1)
    return _mean((precision * hits).sum(axis=1) / np.minimum(n_rel, k), average)


def coverage(recommended: Any, *, n_items: int) -> float:
    """Share of the ``n_items`` candidate items that appear in any recommendation list.

    Parameters
    ----------
    recommended : np.ndarray, shape (n_users, k), int
        Recommended item columns (-1 entries are ignored).
    n_items : int
        Size of the candidate catalogue.

    Examples
    --------
    >>> coverage(np.array([[0, 1], [1, 2]]), n_items=10)
    0.3
    """
    if isinstance(n_items, bool) or not isinstance(n_items, int) or n_items < 1:
        raise ParameterError(f"n_items={n_items!r} must be a positive int")
    rec = np.asarray(recommended)
    return float(np.unique(rec[rec >= 0]).size / n_items)


def evaluate(model: Any, split: Any, *, k: int = 10, batch_size: int = 512) -> dict[str, float]:
    """Recall, NDCG, MAP at ``k`` and coverage of a fitted recommender on a split's test set.

    Every user with held-out items gets a top-``k`` list from
    ``model.recommend_batch`` over the split's candidates (all items for a warm
    split, the held-out items for a cold-start split), excluding items the user
    played in training.

    Parameters
    ----------
    model : Recommender
        Fitted on ``split.train``.
    split : Split
        From :func:`~torchmusic.recommend.warm_split` or :func:`~torchmusic.recommend.cold_split`.
    k : int
        Cut-off.
    batch_size : int
        Users scored at once (memory: ``batch_size x n_items`` floats).

    Returns
    -------
    dict
        ``recall``, ``ndcg``, ``map``, ``coverage`` and ``users`` (how many were evaluated).

    Examples
    --------
    >>> split = warm_split(data, seed=0)  # doctest: +SKIP
    >>> evaluate(PopularityRecommender().fit(split.train), split)  # doctest: +SKIP
    {'recall': 0.07..., 'ndcg': ..., 'map': ..., 'coverage': ..., 'users': 1892}
    """
    users = split.test_users
    recs = [
        model.recommend_batch(
            users[i : i + batch_size], k=k, exclude_seen=True, candidates=split.candidates
        )[0]
        for i in range(0, users.size, batch_size)
    ]
    rec = np.concatenate(recs) if recs else np.zeros((0, k), np.int64)
    relevant = split.test[users]
    n_candidates = split.train.n_items if split.candidates is None else len(split.candidates)
    return {
        "recall": recall_at_k(rec, relevant, k=k),
        "ndcg": ndcg_at_k(rec, relevant, k=k),
        "map": map_at_k(rec, relevant, k=k),
        "coverage": coverage(rec, n_items=n_candidates),
        "users": int(users.size),
    }
