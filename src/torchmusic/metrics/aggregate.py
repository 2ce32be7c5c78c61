"""Track-level aggregation of clip (window) predictions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from torchmusic.errors import ParameterError
from torchmusic.metrics.classification import _as_numpy


def aggregate_by_track(probs: Any, track_ids: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """Mean of the clip probabilities of each track.

    Parameters
    ----------
    probs : array-like of float, shape (n_clips, n_classes)
        Per-clip probabilities (softmax or sigmoid outputs).
    track_ids : sequence of str, length n_clips
        Track of every clip; a track's clips need not be contiguous.

    Returns
    -------
    ids : list of str
        Distinct track ids, in order of first appearance.
    track_probs : numpy.ndarray of float64, shape (len(ids), n_classes)
        Row ``k`` is the mean of the rows of ``probs`` whose id is ``ids[k]``.

    Examples
    --------
    >>> ids, p = aggregate_by_track([[0.8, 0.2], [0.4, 0.6], [0.1, 0.9]], ["a", "a", "b"])
    >>> ids, p.round(2).tolist()
    (['a', 'b'], [[0.6, 0.4], [0.1, 0.9]])
    """
    p = _as_numpy(probs, "probs").astype(np.float64)
    ids = [str(t) for t in track_ids]
    if p.ndim != 2:
        raise ParameterError(f"probs must be (n_clips, n_classes), got shape {p.shape}")
    if p.shape[0] != len(ids):
        raise ParameterError(f"probs has {p.shape[0]} rows but there are {len(ids)} track ids")
    order = list(dict.fromkeys(ids))
    index = {t: k for k, t in enumerate(order)}
    rows = np.fromiter((index[t] for t in ids), dtype=np.int64, count=len(ids))
    sums = np.zeros((len(order), p.shape[1]), dtype=np.float64)
    np.add.at(sums, rows, p)
    counts = np.bincount(rows, minlength=len(order)).astype(np.float64)
    return order, sums / counts[:, None]
