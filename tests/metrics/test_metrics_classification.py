"""Metrics on tiny examples whose values are worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from torchmusic.errors import ParameterError
from torchmusic.metrics import (
    accuracy,
    aggregate_by_track,
    confusion_matrix,
    macro_f1,
    multi_label_metrics,
    per_class_scores,
    single_label_metrics,
)

# truth: a a a b b c ; predicted: a a b b c c
TRUE = [0, 0, 0, 1, 1, 2]
PRED = [0, 0, 1, 1, 2, 2]
CLASSES = ["a", "b", "c"]


def test_accuracy_by_hand():
    assert accuracy(TRUE, PRED) == pytest.approx(4 / 6)
    assert accuracy(torch.tensor(TRUE), np.array(PRED)) == pytest.approx(4 / 6)


def test_per_class_by_hand():
    scores = per_class_scores(TRUE, PRED, classes=CLASSES)
    # a: tp 2, fp 0, fn 1 -> P 1, R 2/3, F1 0.8
    assert scores["a"] == pytest.approx(
        {"precision": 1.0, "recall": 2 / 3, "f1": 0.8, "support": 3}
    )
    # b: tp 1, fp 1, fn 1 -> P 1/2, R 1/2, F1 1/2
    assert scores["b"] == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2})
    # c: tp 1, fp 1, fn 0 -> P 1/2, R 1, F1 2/3
    assert scores["c"] == pytest.approx(
        {"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "support": 1}
    )


def test_macro_f1_by_hand_and_absent_classes():
    assert macro_f1(TRUE, PRED) == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    # A 4th class that neither occurs nor is predicted does not lower the average...
    assert macro_f1(TRUE, PRED, n_classes=4) == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    # ...but predicting an absent class counts as a class with F1 0.
    assert macro_f1([0, 0], [0, 3], n_classes=4) == pytest.approx((2 / 3 + 0.0) / 2)


def test_confusion_matrix_by_hand():
    cm = confusion_matrix(TRUE, PRED, n_classes=4)
    assert cm.tolist() == [[2, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 0], [0, 0, 0, 0]]
    assert cm.dtype == np.int64


def test_single_label_bundle_matches_parts():
    m = single_label_metrics(TRUE, PRED, classes=CLASSES)
    assert m["n"] == 6
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["confusion"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert list(m["per_class"]) == CLASSES


def test_bad_inputs_are_refused_with_the_value():
    with pytest.raises(ParameterError, match="same length"):
        accuracy([0, 1], [0])
    with pytest.raises(ParameterError, match="index 5"):
        confusion_matrix([0, 5], [0, 1], n_classes=3)
    with pytest.raises(ParameterError, match="empty"):
        accuracy([], [])
    with pytest.raises(ParameterError, match="1-D"):
        accuracy([[0, 1]], [[0, 1]])
    with pytest.raises(ParameterError, match="integer"):
        accuracy([0.5], [0])


def test_multi_label_auc_by_hand():
    # rock: positives score 0.9 and 0.4, negatives 0.5 and 0.1 -> 3 of 4 pairs ranked right.
    # pop : perfectly ranked. live: all negative -> undefined, skipped.
    y_true = [[1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 0]]
    y_score = [[0.9, 0.2, 0.1], [0.5, 0.8, 0.3], [0.4, 0.7, 0.2], [0.1, 0.1, 0.6]]
    m = multi_label_metrics(y_true, y_score, classes=["rock", "pop", "live"])
    assert m["per_class"]["rock"]["roc_auc"] == pytest.approx(0.75)
    assert m["per_class"]["pop"]["roc_auc"] == pytest.approx(1.0)
    # rock AP: ranking 0.9(+) 0.5(-) 0.4(+) 0.1(-) -> precisions 1 and 2/3 at the hits.
    assert m["per_class"]["rock"]["pr_auc"] == pytest.approx((1 + 2 / 3) / 2)
    assert m["per_class"]["live"]["roc_auc"] is None
    assert m["skipped"] == ["live"]
    assert m["roc_auc_macro"] == pytest.approx((0.75 + 1.0) / 2)
    assert m["pr_auc_macro"] == pytest.approx(((1 + 2 / 3) / 2 + 1.0) / 2)
    # Threshold 0.5: rock predicted for rows 0 and 1 -> P 1/2, R 1/2; pop P 1, R 1;
    # live predicted for row 3 (false positive) -> F1 0, and it counts (it was predicted).
    assert m["per_class"]["rock"]["f1"] == pytest.approx(0.5)
    assert m["macro_f1"] == pytest.approx((0.5 + 1.0 + 0.0) / 3)


def test_multi_label_all_skipped_gives_none():
    m = multi_label_metrics([[1], [1]], [[0.2], [0.9]], classes=["x"])
    assert m["roc_auc_macro"] is None and m["skipped"] == ["x"]
    with pytest.raises(ParameterError, match="multi-hot"):
        multi_label_metrics([[2]], [[0.5]], classes=["x"])
    with pytest.raises(ParameterError, match="columns"):
        multi_label_metrics([[1, 0]], [[0.5, 0.1]], classes=["x"])


def test_aggregate_by_track_means_interleaved_clips():
    probs = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [0.2, 0.8]])
    ids, p = aggregate_by_track(probs, ["t2", "t1", "t2", "t1"])
    assert ids == ["t2", "t1"]
    np.testing.assert_allclose(p, [[0.75, 0.25], [0.1, 0.9]])
    with pytest.raises(ParameterError, match="3 track ids"):
        aggregate_by_track(probs, ["a", "b", "c"])
