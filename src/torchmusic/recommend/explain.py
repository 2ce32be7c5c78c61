"""Short, human-readable reasons for a recommendation.

Two kinds: the liked items most similar to the recommended one ("because you
listened to X, Y", similarity from the model itself) and the tags the item shares
with the user's liked items ("shared tags: a, b").
"""

from __future__ import annotations

import numpy as np

from torchmusic.recommend.data import ListeningData


def because_listened(
    similarity: np.ndarray,
    liked: np.ndarray,
    names: np.ndarray,
    *,
    n: int = 2,
    prefix: str = "because you listened to",
) -> str:
    """``"because you listened to X, Y"`` for the ``n`` liked items most similar to an item.

    Parameters
    ----------
    similarity : np.ndarray, shape (n_liked,)
        Similarity of the recommended item to each liked item.
    liked : np.ndarray, shape (n_liked,), int
        Liked item columns.
    names : np.ndarray, shape (n_items,), str
        Item names.
    n : int
        How many to name at most; only positive similarities count.
    prefix : str
        The words before the names ("because you like" for sessions).

    Returns
    -------
    str
        Empty when no liked item is similar.

    Examples
    --------
    >>> because_listened(np.array([0.1, 0.8, 0.0]), np.array([0, 1, 2]), np.array(["A", "B", "C"]))
    'because you listened to B, A'
    """
    sim = np.asarray(similarity, dtype=np.float64).reshape(-1)
    if sim.size == 0:
        return ""
    order = np.argsort(-sim, kind="stable")[:n]
    chosen = [str(names[liked[i]]) for i in order if sim[i] > 1e-6]
    return f"{prefix} " + ", ".join(chosen) if chosen else ""


def tag_profile(data: ListeningData, liked: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Tag counts of the liked items, weighted by ``log1p(weights)``, shape ``(n_tags,)``."""
    if data.n_tags == 0 or len(liked) == 0:
        return np.zeros(data.n_tags, np.float32)
    w = np.log1p(np.asarray(weights, dtype=np.float32))
    return np.asarray(data.item_tags[np.asarray(liked)].T @ w).ravel()


def shared_tags(data: ListeningData, item: int, profile: np.ndarray, *, n: int = 3) -> str:
    """``"shared tags: a, b"``: the item's tags that the user's liked items carry most.

    Parameters
    ----------
    data : ListeningData
        Training data (item tag counts and tag names).
    item : int
        Recommended item column.
    profile : np.ndarray, shape (n_tags,)
        The user's :func:`tag_profile`.
    n : int
        How many tags at most.

    Returns
    -------
    str
        Empty when the item has no tag in common with the profile.
    """
    if data.n_tags == 0:
        return ""
    row = data.item_tags[item]
    if row.nnz == 0:
        return ""
    weight = row.data * profile[row.indices]
    order = np.argsort(-weight, kind="stable")[:n]
    chosen = [str(data.tags[row.indices[i]]) for i in order if weight[i] > 0]
    return "shared tags: " + ", ".join(chosen) if chosen else ""
