"""Train/test splits of listening data: warm (held-out pairs) and cold start (held-out items).

Both splits keep every user and item (positions mean the same in train and test)
and are leak-free: a held-out (user, item) pair is absent from the training plays
*and* so are the tag assignments that user made on that item (a user who tags an
artist has evidently listened to it; about 40 % of Last.fm-2k's tag assignments
come from listened pairs).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.sparse as sp

from torchmusic.errors import DataError, ParameterError
from torchmusic.recommend.data import ListeningData


@dataclasses.dataclass(frozen=True, eq=False)
class Split:
    """A training set and the interactions held out from it.

    Attributes
    ----------
    train : ListeningData
        What recommenders are fitted on (same users and items as the full data).
    test : scipy.sparse.csr_matrix, shape (n_users, n_items)
        Held-out play counts.
    candidates : np.ndarray of int or None
        Item columns that may be recommended at test time (cold start: the
        held-out items); None means every item.
    kind : str
        ``"warm"`` or ``"cold"``.
    seed : int
        Seed the split was drawn with.
    """

    train: ListeningData
    test: sp.csr_matrix
    candidates: np.ndarray | None
    kind: str
    seed: int

    @property
    def test_users(self) -> np.ndarray:
        """Rows of users with at least one held-out item, shape ``(n,)`` int64."""
        return np.flatnonzero(np.diff(self.test.indptr) > 0).astype(np.int64)

    def summary(self) -> dict[str, int | str]:
        return {
            "kind": self.kind,
            "seed": self.seed,
            "train_interactions": self.train.nnz,
            "test_interactions": int(self.test.nnz),
            "test_users": int(self.test_users.size),
            "candidates": self.train.n_items if self.candidates is None else len(self.candidates),
            "train_tag_assignments": len(self.train.tag_assignments),
        }


def _check_fraction(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        raise ParameterError(f"{name}={value!r} must be a number strictly between 0 and 1")


def _holdout(
    data: ListeningData, held: np.ndarray, *, kind: str, seed: int, candidates: np.ndarray | None
) -> Split:
    """Split ``data.plays`` by the boolean mask ``held`` over its stored entries."""
    plays = data.plays.tocoo()
    rows, cols, vals = plays.row, plays.col, plays.data
    shape = plays.shape
    train = sp.csr_matrix((vals[~held], (rows[~held], cols[~held])), shape=shape)
    test = sp.csr_matrix((vals[held], (rows[held], cols[held])), shape=shape)
    # Drop the tag assignments of held-out pairs (the leak), keyed as row * n_items + col.
    ta = data.tag_assignments
    held_keys = rows[held].astype(np.int64) * shape[1] + cols[held]
    leak = np.isin(ta[:, 0] * shape[1] + ta[:, 1], held_keys)
    return Split(
        train=data.replace(plays=train, tag_assignments=ta[~leak]),
        test=test,
        candidates=candidates,
        kind=kind,
        seed=seed,
    )


def warm_split(data: ListeningData, *, test_fraction: float = 0.2, seed: int = 0) -> Split:
    """Hold out a random ``test_fraction`` of each user's items.

    Parameters
    ----------
    data : ListeningData
        The full data.
    test_fraction : float
        Share of each user's (user, item) pairs held out, rounded to the nearest
        count; at least one pair per user stays in training (users with a single
        interaction keep it).
    seed : int
        Seed of the draw.

    Returns
    -------
    Split
        ``kind="warm"``, ``candidates=None`` (rank every item).

    Examples
    --------
    >>> split = warm_split(data, test_fraction=0.2, seed=0)  # doctest: +SKIP
    >>> split.test.nnz / data.nnz  # doctest: +SKIP
    0.2
    """
    if not isinstance(data, ListeningData):
        raise ParameterError(f"data must be ListeningData, got {type(data).__name__}")
    _check_fraction("test_fraction", test_fraction)
    rng = np.random.default_rng(seed)
    indptr = data.plays.indptr
    held = np.zeros(data.nnz, dtype=bool)
    for row in range(data.n_users):
        start, n = indptr[row], indptr[row + 1] - indptr[row]
        n_test = min(round(test_fraction * n), n - 1)
        if n_test > 0:
            held[start + rng.choice(n, size=n_test, replace=False)] = True
    if not held.any():
        raise DataError("warm_split held out nothing: every user has a single interaction")
    return _holdout(data, held, kind="warm", seed=seed, candidates=None)


def cold_split(
    data: ListeningData, *, item_fraction: float = 0.2, min_listeners: int = 2, seed: int = 0
) -> Split:
    """Hold out a random ``item_fraction`` of the items with ``min_listeners`` or more.

    All interactions of a held-out item go to the test set, so in training it has
    none (cold start); its tags stay known except those its held-out listeners gave it.

    Parameters
    ----------
    data : ListeningData
        The full data.
    item_fraction : float
        Share of the eligible items held out (rounded; at least one).
    min_listeners : int
        Items with fewer listeners are never held out (nothing to evaluate on).
    seed : int
        Seed of the draw.

    Returns
    -------
    Split
        ``kind="cold"``, ``candidates`` = the held-out items (sorted): at test
        time each user's held-out items are ranked among the cold items only.

    Examples
    --------
    >>> split = cold_split(data, seed=0)  # doctest: +SKIP
    >>> len(split.candidates)  # doctest: +SKIP
    1391
    """
    if not isinstance(data, ListeningData):
        raise ParameterError(f"data must be ListeningData, got {type(data).__name__}")
    _check_fraction("item_fraction", item_fraction)
    if isinstance(min_listeners, bool) or not isinstance(min_listeners, int) or min_listeners < 1:
        raise ParameterError(f"min_listeners={min_listeners!r} must be a positive int")
    eligible = np.flatnonzero(data.listeners >= min_listeners)
    if eligible.size < 2:
        raise DataError(
            f"cold_split needs at least 2 items with >= {min_listeners} listeners, "
            f"found {eligible.size}"
        )
    n_cold = min(max(round(item_fraction * eligible.size), 1), eligible.size - 1)
    rng = np.random.default_rng(seed)
    cold = np.sort(rng.choice(eligible, size=n_cold, replace=False))
    is_cold = np.zeros(data.n_items, dtype=bool)
    is_cold[cold] = True
    held = is_cold[data.plays.indices]
    return _holdout(data, held, kind="cold", seed=seed, candidates=cold.astype(np.int64))
