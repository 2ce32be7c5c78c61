"""The confusion-matrix PNG: a real image with the right size and content."""

from __future__ import annotations

import matplotlib.image
import pytest

from torchmusic.errors import ParameterError
from torchmusic.metrics import plot_confusion_matrix


def test_confusion_png_is_written(tmp_path):
    path = plot_confusion_matrix(
        [[5, 1, 0], [2, 3, 0], [0, 0, 4]],
        classes=["kick", "snare", "hihat"],
        path=tmp_path / "sub" / "confusion.png",
        title="track level",
    )
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = matplotlib.image.imread(path)
    assert image.shape[0] > 300 and image.shape[1] > 300
    # Cells are shaded: the image is not blank.
    assert image[..., :3].std() > 0.05


def test_plot_does_not_switch_the_global_backend(tmp_path):
    import matplotlib

    before = matplotlib.get_backend()
    plot_confusion_matrix([[1]], classes=["x"], path=tmp_path / "c.png")
    assert matplotlib.get_backend() == before


def test_shape_mismatch_names_both():
    with pytest.raises(ParameterError, match=r"\(2, 2\).*3 class names"):
        plot_confusion_matrix([[1, 0], [0, 1]], classes=["a", "b", "c"], path="unused.png")
