"""The interface every recommender shares: fit, score, top-k, explanations, save.

A subclass implements :meth:`Recommender._fit`, :meth:`Recommender._score_profiles`
(scores of every item for users described by their play rows) and the
``_state``/``_set_state`` pair that :mod:`torchmusic.recommend.io` saves (that
module does not import this one, so there is no import cycle); the
public methods (``recommend``, ``recommend_batch``, ``recommend_similar``,
``save``) are written once, here.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp

from torchmusic.errors import DataError, ParameterError
from torchmusic.recommend.data import ListeningData
from torchmusic.recommend.io import save_recommender


@dataclasses.dataclass(frozen=True)
class Recommendation:
    """One recommended item.

    Attributes
    ----------
    item : str
        Item id.
    score : float
        The model's score (higher is better; only comparable within one list).
    reason : str
        A short explanation ("because you listened to X, Y", "shared tags: a, b").
    name : str
        The item's display name.
    """

    item: str
    score: float
    reason: str
    name: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Columns and values of the ``k`` largest scores per row, best first.

    ``argpartition`` finds the top ``k`` in linear time; only those are sorted.

    Parameters
    ----------
    scores : np.ndarray, shape (n, m)
    k : int
        Clipped to ``m``.

    Returns
    -------
    (np.ndarray, np.ndarray)
        ``(columns (n, k) int64, values (n, k))``; ties keep an arbitrary but fixed order.

    Examples
    --------
    >>> top_k(np.array([[0.1, 0.9, 0.5]]), 2)
    (array([[1, 2]]), array([[0.9, 0.5]]))
    """
    k = min(k, scores.shape[1])
    if k < scores.shape[1]:
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    else:
        part = np.broadcast_to(np.arange(scores.shape[1]), scores.shape)
    vals = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-vals, axis=1, kind="stable")
    cols = np.take_along_axis(part, order, axis=1).astype(np.int64)
    return cols, np.take_along_axis(vals, order, axis=1)


def _check_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ParameterError(f"k={k!r} must be a positive int")
    return int(k)


class Recommender:
    """Base class: fit on :class:`ListeningData`, then recommend for users or sessions.

    Subclasses set ``kind`` (the name in model files and on the command line) and
    implement ``_fit``, ``_score_profiles``, ``get_config``, ``_state`` and
    ``_set_state``; they may override ``_score_users`` (e.g. with learned user
    factors), ``_similarity`` (for explanations) and ``_reason``.
    """

    kind: ClassVar[str] = ""
    #: Whether explanations should also name the tags an item shares with the user.
    explain_tags: ClassVar[bool] = False

    def __init__(self) -> None:
        self.data_: ListeningData | None = None

    # -- to implement ----------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """The constructor's keyword arguments (JSON-able), saved in model files."""
        raise NotImplementedError

    def _fit(self, train: ListeningData) -> None:
        raise NotImplementedError

    def _score_profiles(self, profiles: sp.csr_matrix) -> np.ndarray:
        """Scores ``(n, n_items)`` float32 for users given by play rows ``(n, n_items)``."""
        raise NotImplementedError

    def _state(self) -> dict[str, np.ndarray]:
        """The fitted arrays (besides the training data), for saving."""
        raise NotImplementedError

    def _set_state(self, arrays: dict[str, np.ndarray]) -> None:
        raise NotImplementedError

    # -- optional hooks ---------------------------------------------------------------------
    def _score_users(self, rows: np.ndarray) -> np.ndarray:
        """Scores ``(len(rows), n_items)`` of training users (default: from their plays)."""
        return self._score_profiles(self.data.plays[rows])

    def _similarity(self, items: np.ndarray, others: np.ndarray) -> np.ndarray:
        """Item-item similarity ``(len(items), len(others))`` used to explain (default: none)."""
        return np.zeros((len(items), len(others)), np.float32)

    # -- public API -----------------------------------------------------------------------------
    @property
    def data(self) -> ListeningData:
        """The training data (raises if the model is not fitted)."""
        if self.data_ is None:
            raise ParameterError(f"{type(self).__name__} is not fitted: call fit(train) first")
        return self.data_

    def fit(self, train: ListeningData) -> Self:
        """Fit on training data; returns ``self``.

        Raises
        ------
        ParameterError
            ``train`` is not :class:`ListeningData`.
        DataError
            ``train`` has no interactions.
        """
        if not isinstance(train, ListeningData):
            raise ParameterError(f"train must be ListeningData, got {type(train).__name__}")
        if train.nnz == 0:
            raise DataError("cannot fit a recommender on data without interactions")
        self.data_ = train
        self._fit(train)
        return self

    def recommend_batch(
        self,
        users: Sequence[int] | np.ndarray,
        *,
        k: int = 10,
        exclude_seen: bool = True,
        candidates: Sequence[int] | np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` item columns and scores for many training users at once.

        Parameters
        ----------
        users : sequence of int, shape (n,)
            User rows of the training data (``data.user_index(id)`` maps ids to rows).
        k : int
            List length.
        exclude_seen : bool
            Leave out items the user played in training.
        candidates : sequence of int, optional
            Item columns allowed in the lists (default: all).

        Returns
        -------
        (np.ndarray, np.ndarray)
            ``items (n, k)`` int64 and ``scores (n, k)`` float32; where fewer than ``k``
            items are eligible the rest is ``-1`` with score ``-inf``.

        Examples
        --------
        >>> items, scores = model.recommend_batch([0, 1, 2], k=10)  # doctest: +SKIP
        >>> items.shape  # doctest: +SKIP
        (3, 10)
        """
        data = self.data
        k = _check_k(k)
        rows = np.asarray(users, dtype=np.int64).reshape(-1)
        if rows.size and (rows.min() < 0 or rows.max() >= data.n_users):
            bad = rows[(rows < 0) | (rows >= data.n_users)][0]
            raise ParameterError(f"user row {bad} is outside 0..{data.n_users - 1}")
        scores = np.asarray(self._score_users(rows), dtype=np.float32)
        if exclude_seen:
            seen = data.plays[rows]
            scores[np.repeat(np.arange(rows.size), np.diff(seen.indptr)), seen.indices] = -np.inf
        return self._finish_top_k(scores, k, candidates)

    def recommend(
        self, user: Any, *, k: int = 10, exclude_seen: bool = True
    ) -> list[Recommendation]:
        """Top-``k`` items for a training user, each with a short reason.

        Parameters
        ----------
        user : str or int
            User id (as in ``data.users``).
        k : int
            List length.
        exclude_seen : bool
            Leave out items the user already played.

        Returns
        -------
        list of Recommendation

        Raises
        ------
        ParameterError
            Unknown user, or the model is not fitted.

        Examples
        --------
        >>> model.recommend("2", k=3)[0]  # doctest: +SKIP
        Recommendation(item='89', score=1.23, reason='because you listened to Madonna, ...', ...)
        """
        data = self.data
        row = data.user_index(user)
        items, scores = self.recommend_batch([row], k=k, exclude_seen=exclude_seen)
        liked = data.plays[row]
        return self._package(items[0], scores[0], liked.indices, liked.data, session=False)

    def recommend_similar(self, liked_items: Iterable[Any], *, k: int = 10) -> list[Recommendation]:
        """Top-``k`` items for a session of liked items (ids or names); no user needed.

        Each liked item counts as one interaction with the training data's median
        play count; the liked items themselves are not recommended.

        Raises
        ------
        DataError
            An item is unknown (the message suggests close names).
        ParameterError
            No liked items.

        Examples
        --------
        >>> model.recommend_similar(["Radiohead", "Muse"], k=5)  # doctest: +SKIP
        """
        data = self.data
        k = _check_k(k)
        liked = list(liked_items) if not isinstance(liked_items, str) else [liked_items]
        if not liked:
            raise ParameterError("liked_items is empty: name at least one item")
        cols = np.unique([data.item_index(x) for x in liked])
        typical = float(np.median(data.plays.data)) if data.nnz else 1.0
        weights = np.full(cols.size, typical, np.float32)
        profile = sp.csr_matrix((weights, cols, np.array([0, cols.size])), shape=(1, data.n_items))
        scores = np.asarray(self._score_profiles(profile), dtype=np.float32).reshape(1, -1)
        scores[0, cols] = -np.inf
        items, vals = self._finish_top_k(scores, k, None)
        return self._package(items[0], vals[0], cols, weights, session=True)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the fitted model to one safetensors file (see :func:`load_recommender`)."""
        return save_recommender(self, path)

    # -- internals --------------------------------------------------------------------------
    def _finish_top_k(
        self, scores: np.ndarray, k: int, candidates: Sequence[int] | np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        if candidates is not None:
            cand = np.asarray(candidates, dtype=np.int64).reshape(-1)
            n_items = self.data.n_items
            if cand.size == 0 or cand.min() < 0 or cand.max() >= n_items:
                raise ParameterError(
                    f"candidates must be a non-empty list of item columns in 0..{n_items - 1}"
                )
            cols, vals = top_k(scores[:, cand], k)
            cols = cand[cols]
        else:
            cols, vals = top_k(scores, k)
        if cols.shape[1] < k:  # fewer candidates than k: pad
            pad = k - cols.shape[1]
            cols = np.pad(cols, ((0, 0), (0, pad)), constant_values=-1)
            vals = np.pad(vals, ((0, 0), (0, pad)), constant_values=-np.inf)
        cols[~np.isfinite(vals)] = -1
        vals[cols < 0] = -np.inf
        return cols, vals.astype(np.float32)

    def _package(
        self,
        items: np.ndarray,
        scores: np.ndarray,
        liked: np.ndarray,
        liked_weights: np.ndarray,
        *,
        session: bool,
    ) -> list[Recommendation]:
        keep = items >= 0
        items, scores = items[keep], scores[keep]
        prefix = "because you like" if session else "because you listened to"
        reasons = self._reasons(items, liked, liked_weights, prefix=prefix)
        names = self.data.item_names
        ids = self.data.items
        return [
            Recommendation(item=str(ids[i]), score=float(s), reason=r, name=str(names[i]))
            for i, s, r in zip(items.tolist(), scores.tolist(), reasons, strict=True)
        ]

    def _reasons(
        self, items: np.ndarray, liked: np.ndarray, liked_weights: np.ndarray, *, prefix: str
    ) -> list[str]:
        """One explanation per recommended item: its nearest liked items, then shared tags."""
        from torchmusic.recommend.explain import because_listened, shared_tags, tag_profile

        data = self.data
        sims = (
            self._similarity(items, liked)
            if len(liked) and len(items)
            else np.zeros((len(items), 0))
        )
        profile = tag_profile(data, liked, liked_weights)
        out = []
        for row, item in enumerate(items.tolist()):
            parts = []
            because = because_listened(sims[row], liked, data.item_names, prefix=prefix)
            if because:
                parts.append(because)
            if self.explain_tags or not because:
                tags = shared_tags(data, item, profile)
                if tags:
                    parts.append(tags)
            if not parts:
                parts.append(f"popular: {int(data.listeners[item])} listeners")
            out.append("; ".join(parts))
        return out
