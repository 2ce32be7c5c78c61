"""Confusion-matrix figure (matplotlib, headless)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from torchmusic.errors import ParameterError
from torchmusic.metrics.classification import _as_numpy


def plot_confusion_matrix(
    matrix: Any,
    *,
    classes: Sequence[str],
    path: str | os.PathLike[str],
    title: str | None = None,
) -> Path:
    """Save a confusion matrix as a PNG: counts in the cells, class names on both axes.

    Cell colour is the row-normalised count (the recall of the true class), so
    classes with few examples stay readable beside large ones; the text is the
    raw count.

    Parameters
    ----------
    matrix : array-like of int, shape (n_classes, n_classes)
        Rows: true class; columns: predicted class.
    classes : sequence of str
        Names, in matrix order.
    path : path-like
        Output ``.png`` (parent folders are created).
    title : str, optional
        Figure title.

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> plot_confusion_matrix([[3, 1], [0, 4]], classes=["jig", "reel"],
    ...                       path="confusion.png")  # doctest: +SKIP
    PosixPath('confusion.png')
    """
    cm = _as_numpy(matrix, "matrix")
    n = len(classes)
    if cm.shape != (n, n):
        raise ParameterError(f"matrix of shape {cm.shape} does not match {n} class names")
    # Agg: no display needed, and never touch the global backend of the caller.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = cm.sum(axis=1, keepdims=True)
    shade = np.divide(cm, rows, out=np.zeros(cm.shape, dtype=float), where=rows > 0)
    size = max(4.0, 0.55 * n + 2.5)
    fig = Figure(figsize=(size, size * 0.9))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    image = ax.imshow(shade, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="fraction of true class")
    ax.set_xticks(range(n), labels=[str(c) for c in classes], rotation=45, ha="right")
    ax.set_yticks(range(n), labels=[str(c) for c in classes])
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title:
        ax.set_title(title)
    for i in range(n):
        for j in range(n):
            ax.text(
                j,
                i,
                str(int(cm[i, j])),
                ha="center",
                va="center",
                color="white" if shade[i, j] > 0.5 else "black",
                fontsize=8 if n > 12 else 10,
            )
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    return out
