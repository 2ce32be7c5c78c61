"""Ranking metrics against values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from torchmusic.errors import ParameterError
from torchmusic.recommend import coverage, evaluate, map_at_k, ndcg_at_k, recall_at_k
from torchmusic.recommend.splits import Split

# Two users, six items. User 0 likes items {1, 4}; user 1 likes {0, 2, 5}.
RELEVANT = np.array([[0, 1, 0, 0, 1, 0], [1, 0, 1, 0, 0, 1]])
RECOMMENDED = np.array([[1, 2, 3], [3, 0, 2]])


def test_recall_by_hand():
    # user 0: 1 of 2 found; user 1: 2 of 3 found.
    assert recall_at_k(RECOMMENDED, RELEVANT, k=3) == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert recall_at_k(RECOMMENDED, RELEVANT, k=1) == pytest.approx((1 / 2 + 0) / 2)
    per_user = recall_at_k(RECOMMENDED, RELEVANT, k=3, average=False)
    np.testing.assert_allclose(per_user, [0.5, 2 / 3])


def test_ndcg_by_hand():
    d = [1 / math.log2(r + 1) for r in (1, 2, 3)]
    user0 = d[0] / (d[0] + d[1])  # hit at rank 1; ideal: 2 hits
    user1 = (d[1] + d[2]) / (d[0] + d[1] + d[2])  # hits at ranks 2, 3; ideal: 3 hits
    assert ndcg_at_k(RECOMMENDED, RELEVANT, k=3) == pytest.approx((user0 + user1) / 2)


def test_map_by_hand():
    user0 = (1 / 1) / 2  # P@1 = 1 at the one hit, divided by min(R=2, k=3)
    user1 = (1 / 2 + 2 / 3) / 3  # P@2 = 1/2, P@3 = 2/3; min(R=3, k=3)
    assert map_at_k(RECOMMENDED, RELEVANT, k=3) == pytest.approx((user0 + user1) / 2)


def test_perfect_and_empty_lists():
    perfect = np.array([[1, 4, 0], [0, 2, 5]])
    for metric in (recall_at_k, ndcg_at_k, map_at_k):
        assert metric(perfect, RELEVANT, k=3) == pytest.approx(1.0)
    nothing = np.full((2, 3), -1)
    for metric in (recall_at_k, ndcg_at_k, map_at_k):
        assert metric(nothing, RELEVANT, k=3) == 0.0


def test_users_without_relevant_items_are_left_out():
    relevant = sp.csr_matrix(np.vstack([RELEVANT, np.zeros(6, int)]))
    recommended = np.vstack([RECOMMENDED, [0, 1, 2]])
    assert recall_at_k(recommended, relevant, k=3) == recall_at_k(RECOMMENDED, RELEVANT, k=3)
    assert math.isnan(recall_at_k(np.zeros((1, 3), int), np.zeros((1, 6)), k=3))


def test_coverage():
    assert coverage(RECOMMENDED, n_items=6) == pytest.approx(4 / 6)  # items 0, 1, 2, 3
    assert coverage(np.array([[-1, 2]]), n_items=4) == pytest.approx(1 / 4)


def test_bad_arguments():
    with pytest.raises(ParameterError, match="k=0"):
        recall_at_k(RECOMMENDED, RELEVANT, k=0)
    with pytest.raises(ParameterError, match="fewer than k=5"):
        ndcg_at_k(RECOMMENDED, RELEVANT, k=5)
    with pytest.raises(ParameterError, match="rows"):
        map_at_k(RECOMMENDED[:1], RELEVANT, k=3)
    with pytest.raises(ParameterError, match="n_items"):
        coverage(RECOMMENDED, n_items=0)


class _Fixed:
    """A stand-in model that returns fixed lists (and records what it was asked)."""

    def __init__(self, lists):
        self.lists = np.asarray(lists)
        self.calls = []

    def recommend_batch(self, users, *, k, exclude_seen, candidates):
        self.calls.append((list(users), k, exclude_seen, candidates))
        return self.lists[users][:, :k], np.zeros((len(users), k), np.float32)


def test_evaluate_uses_test_users_and_candidates():
    test = sp.csr_matrix(np.vstack([RELEVANT, np.zeros(6, int)]))
    split = Split(
        train=None, test=test, candidates=np.array([0, 1, 2, 3, 4, 5]), kind="cold", seed=0
    )
    model = _Fixed(np.vstack([RECOMMENDED, [[5, 5, 5]]]))
    result = evaluate(model, split, k=3)
    assert model.calls[0][0] == [0, 1]  # the third user has nothing held out
    assert model.calls[0][2] is True
    assert result["users"] == 2
    assert result["recall"] == pytest.approx(recall_at_k(RECOMMENDED, RELEVANT, k=3))
    assert result["coverage"] == pytest.approx(4 / 6)
