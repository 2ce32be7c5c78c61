"""Classification metrics (single- and multi-label), backed by scikit-learn.

Every function takes NumPy arrays, torch tensors or lists, validates their shapes
and returns plain Python numbers / lists, so results go straight into a JSON report.

Conventions
-----------
- Single-label truths and predictions are class *indices* in ``range(n_classes)``.
- Undefined ratios (a class never predicted has no precision) count as 0, as
  ``zero_division=0`` in scikit-learn, never NaN.
- The macro average of :func:`macro_f1` runs over the classes that occur in the
  truth or in the predictions (scikit-learn's default): a model whose vocabulary
  is larger than the evaluated data is not charged for classes that neither occur
  nor get predicted, but predicting an absent class still costs.
- Multi-label ROC-AUC and PR-AUC (average precision) are undefined for a class
  whose truth column holds only one value (all positive or all negative); such
  classes are left out of the macro averages and listed under ``"skipped"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn import metrics as skm

from torchmusic.errors import ParameterError


def _as_numpy(x: Any, name: str) -> np.ndarray:
    """Array view of a NumPy array, torch tensor or nested list."""
    if hasattr(x, "detach"):  # torch tensor, without importing torch here
        x = x.detach().cpu().numpy()
    arr = np.asarray(x)
    if arr.dtype == object:
        raise ParameterError(f"{name} must be numeric, got an array of Python objects")
    return arr


def _check_indices(y: Any, name: str, n_classes: int | None) -> np.ndarray:
    arr = _as_numpy(y, name)
    if arr.ndim != 1:
        raise ParameterError(f"{name} must be 1-D class indices, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.equal(np.mod(arr, 1), 0)):
            raise ParameterError(f"{name} must hold integer class indices, got dtype {arr.dtype}")
        arr = arr.astype(np.int64)
    if arr.size and arr.min() < 0:
        raise ParameterError(f"{name} holds a negative class index {int(arr.min())}")
    if n_classes is not None and arr.size and arr.max() >= n_classes:
        raise ParameterError(
            f"{name} holds class index {int(arr.max())}, but n_classes={n_classes}"
        )
    return arr.astype(np.int64)


def _check_pair(y_true: Any, y_pred: Any, n_classes: int | None) -> tuple[np.ndarray, np.ndarray]:
    t = _check_indices(y_true, "y_true", n_classes)
    p = _check_indices(y_pred, "y_pred", n_classes)
    if t.shape != p.shape:
        raise ParameterError(f"y_true {t.shape} and y_pred {p.shape} must have the same length")
    if t.size == 0:
        raise ParameterError("y_true and y_pred are empty; need at least one example")
    return t, p


def _check_n_classes(n_classes: int) -> int:
    if isinstance(n_classes, bool) or not isinstance(n_classes, int | np.integer) or n_classes < 1:
        raise ParameterError(f"n_classes={n_classes!r} must be a positive integer")
    return int(n_classes)


# -- single-label ---------------------------------------------------------------------
def accuracy(y_true: Any, y_pred: Any) -> float:
    """Fraction of examples whose predicted class equals the true class.

    Parameters
    ----------
    y_true, y_pred : array-like of int, shape (n,)
        Class indices.

    Returns
    -------
    float in [0, 1]

    Examples
    --------
    >>> accuracy([0, 1, 1, 2], [0, 1, 2, 2])
    0.75
    """
    t, p = _check_pair(y_true, y_pred, None)
    return float(skm.accuracy_score(t, p))


def macro_f1(y_true: Any, y_pred: Any, *, n_classes: int | None = None) -> float:
    """Unweighted mean of per-class F1 over the classes present in truth or predictions.

    Parameters
    ----------
    y_true, y_pred : array-like of int, shape (n,)
        Class indices.
    n_classes : int, optional
        Vocabulary size, only used to validate the indices.

    Returns
    -------
    float in [0, 1]

    Examples
    --------
    >>> round(macro_f1([0, 0, 1, 1], [0, 1, 1, 1]), 4)  # F1 2/3 and 4/5
    0.7333
    """
    if n_classes is not None:
        n_classes = _check_n_classes(n_classes)
    t, p = _check_pair(y_true, y_pred, n_classes)
    return float(skm.f1_score(t, p, average="macro", zero_division=0))


def per_class_scores(
    y_true: Any, y_pred: Any, *, classes: Sequence[str]
) -> dict[str, dict[str, float | int]]:
    """Precision, recall, F1 and support of every class.

    Parameters
    ----------
    y_true, y_pred : array-like of int, shape (n,)
        Class indices into ``classes``.
    classes : sequence of str
        Class names; every class is reported, absent ones with support 0.

    Returns
    -------
    dict
        ``{name: {"precision", "recall", "f1", "support"}}`` in the order of ``classes``.

    Examples
    --------
    >>> per_class_scores([0, 0, 1], [0, 1, 1], classes=["a", "b"])["b"]
    {'precision': 0.5, 'recall': 1.0, 'f1': 0.6666666666666666, 'support': 1}
    """
    n = _check_n_classes(len(classes))
    t, p = _check_pair(y_true, y_pred, n)
    prec, rec, f1, support = skm.precision_recall_fscore_support(
        t, p, labels=np.arange(n), zero_division=0
    )
    return {
        str(name): {
            "precision": float(prec[i]),
            "recall": float(rec[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
        }
        for i, name in enumerate(classes)
    }


def confusion_matrix(y_true: Any, y_pred: Any, *, n_classes: int) -> np.ndarray:
    """Counts ``C[i, j]`` of examples of true class ``i`` predicted as ``j``.

    Parameters
    ----------
    y_true, y_pred : array-like of int, shape (n,)
        Class indices.
    n_classes : int
        Size of the (square) matrix; classes without examples give zero rows.

    Returns
    -------
    numpy.ndarray of int64, shape (n_classes, n_classes)
        Rows: true class; columns: predicted class.

    Examples
    --------
    >>> confusion_matrix([0, 1, 1], [0, 0, 1], n_classes=3).tolist()
    [[1, 0, 0], [1, 1, 0], [0, 0, 0]]
    """
    n = _check_n_classes(n_classes)
    t, p = _check_pair(y_true, y_pred, n)
    return skm.confusion_matrix(t, p, labels=np.arange(n)).astype(np.int64)


def single_label_metrics(y_true: Any, y_pred: Any, *, classes: Sequence[str]) -> dict[str, Any]:
    """All single-label figures of one evaluation, JSON-ready.

    Parameters
    ----------
    y_true, y_pred : array-like of int, shape (n,)
        Class indices into ``classes``.
    classes : sequence of str
        Class names.

    Returns
    -------
    dict
        ``n`` (examples), ``accuracy``, ``macro_f1``, ``per_class`` (see
        :func:`per_class_scores`) and ``confusion`` (nested lists, rows = truth).

    Examples
    --------
    >>> m = single_label_metrics([0, 1, 1], [0, 1, 0], classes=["a", "b"])
    >>> m["accuracy"], m["confusion"]
    (0.6666666666666666, [[1, 0], [1, 1]])
    """
    n = _check_n_classes(len(classes))
    t, p = _check_pair(y_true, y_pred, n)
    return {
        "n": int(t.size),
        "accuracy": accuracy(t, p),
        "macro_f1": macro_f1(t, p, n_classes=n),
        "per_class": per_class_scores(t, p, classes=classes),
        "confusion": confusion_matrix(t, p, n_classes=n).tolist(),
    }


# -- multi-label ------------------------------------------------------------------------
def _check_multilabel(y_true: Any, y_score: Any, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    t = _as_numpy(y_true, "y_true")
    s = _as_numpy(y_score, "y_score").astype(np.float64)
    if t.ndim != 2 or s.ndim != 2 or t.shape != s.shape:
        raise ParameterError(
            f"y_true {t.shape} and y_score {s.shape} must both be (n_examples, n_classes)"
        )
    if t.shape[1] != n_classes:
        raise ParameterError(f"y_true has {t.shape[1]} columns but there are {n_classes} classes")
    if t.shape[0] == 0:
        raise ParameterError("y_true and y_score are empty; need at least one example")
    if not np.isin(t, (0, 1)).all():
        raise ParameterError("y_true must be multi-hot (only 0 and 1)")
    if not np.isfinite(s).all():
        raise ParameterError("y_score holds NaN or infinite values")
    return t.astype(np.int64), s


def multi_label_metrics(
    y_true: Any, y_score: Any, *, classes: Sequence[str], threshold: float = 0.5
) -> dict[str, Any]:
    """Ranking (ROC-AUC, PR-AUC) and thresholded (F1) figures of a multi-label evaluation.

    Parameters
    ----------
    y_true : array-like of {0, 1}, shape (n, n_classes)
        Multi-hot truth.
    y_score : array-like of float, shape (n, n_classes)
        Scores, e.g. sigmoid probabilities; higher means more likely.
    classes : sequence of str
        Class names.
    threshold : float
        A class is predicted when its score is ``>= threshold`` (for the F1 figures).

    Returns
    -------
    dict
        ``n``; ``roc_auc_macro`` and ``pr_auc_macro`` (mean over the classes where
        both truth values occur, ``None`` when there is none); ``skipped`` (names
        of the classes left out of those means); ``macro_f1`` and ``micro_f1`` at
        ``threshold`` (macro over classes present in truth or predictions);
        ``per_class``: ``{name: {"roc_auc", "pr_auc", "precision", "recall",
        "f1", "support"}}`` (AUCs ``None`` for skipped classes).

    Notes
    -----
    PR-AUC is scikit-learn's ``average_precision_score`` (step-wise area, no
    interpolation), the usual figure for music tagging.

    Examples
    --------
    >>> m = multi_label_metrics([[1, 0], [0, 0], [1, 0]], [[0.9, 0.2], [0.3, 0.1], [0.6, 0.4]],
    ...                         classes=["rock", "live"])
    >>> m["roc_auc_macro"], m["skipped"]
    (1.0, ['live'])
    """
    n = _check_n_classes(len(classes))
    t, s = _check_multilabel(y_true, y_score, n)
    pred = (s >= threshold).astype(np.int64)
    per_class: dict[str, dict[str, Any]] = {}
    rocs: list[float] = []
    prs: list[float] = []
    skipped: list[str] = []
    f1s: list[float] = []
    for i, name in enumerate(classes):
        column = t[:, i]
        # Column by column: scikit-learn would read a one-column matrix as binary.
        prec, rec, f1, _ = skm.precision_recall_fscore_support(
            column, pred[:, i], average="binary", pos_label=1, zero_division=0
        )
        f1s.append(float(f1))
        if column.min() == column.max():  # one value only: AUCs undefined
            roc = pr = None
            skipped.append(str(name))
        else:
            roc = float(skm.roc_auc_score(column, s[:, i]))
            pr = float(skm.average_precision_score(column, s[:, i]))
            rocs.append(roc)
            prs.append(pr)
        per_class[str(name)] = {
            "roc_auc": roc,
            "pr_auc": pr,
            "precision": float(prec),
            "recall": float(rec),
            "f1": float(f1),
            "support": int(column.sum()),
        }
    # Macro-F1 over classes present in truth or predictions (as single-label).
    active = (t.sum(axis=0) > 0) | (pred.sum(axis=0) > 0)
    return {
        "n": int(t.shape[0]),
        "roc_auc_macro": float(np.mean(rocs)) if rocs else None,
        "pr_auc_macro": float(np.mean(prs)) if prs else None,
        "skipped": skipped,
        "macro_f1": float(np.mean(np.asarray(f1s)[active])) if active.any() else 0.0,
        # Micro-F1 pools every (example, class) cell, i.e. binary F1 of the flattened arrays.
        "micro_f1": float(skm.f1_score(t.ravel(), pred.ravel(), zero_division=0)),
        "per_class": per_class,
    }
