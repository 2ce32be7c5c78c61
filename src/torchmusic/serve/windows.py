"""The window cutter, now :mod:`torchmusic.data.windows`; kept as a re-export for old importers."""

from __future__ import annotations

from torchmusic.data.windows import feature_windows

__all__ = ["feature_windows"]
