"""Evaluation metrics for classifiers (scikit-learn-backed) and the confusion-matrix plot.

- :func:`accuracy`, :func:`macro_f1`, :func:`per_class_scores`,
  :func:`confusion_matrix`, :func:`single_label_metrics`: single-label figures.
- :func:`multi_label_metrics`: ROC-AUC / PR-AUC (macro, skipping classes whose
  truth holds one value only) and thresholded F1 for multi-label tasks.
- :func:`aggregate_by_track`: mean clip probabilities per track.
- :func:`plot_confusion_matrix`: PNG with counts in the cells.
"""

from torchmusic.metrics.aggregate import aggregate_by_track
from torchmusic.metrics.classification import (
    accuracy,
    confusion_matrix,
    macro_f1,
    multi_label_metrics,
    per_class_scores,
    single_label_metrics,
)
from torchmusic.metrics.plots import plot_confusion_matrix

__all__ = [
    "accuracy",
    "aggregate_by_track",
    "confusion_matrix",
    "macro_f1",
    "multi_label_metrics",
    "per_class_scores",
    "plot_confusion_matrix",
    "single_label_metrics",
]
