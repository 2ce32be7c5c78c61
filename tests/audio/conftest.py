"""Synthesised audio files for the torchmusic.audio tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf


def tone(sr: int, seconds: float, *, channels: int = 1, freq: float = 440.0) -> np.ndarray:
    """A quiet sine (plus a little noise so lossy codecs have something to do).

    Returns soundfile's layout: ``(frames,)`` or ``(frames, channels)``, float32.
    """
    rng = np.random.default_rng(0)
    t = np.arange(round(sr * seconds)) / sr
    cols = [
        0.4 * np.sin(2 * np.pi * freq * (1 + 0.25 * c) * t) + 0.01 * rng.standard_normal(t.size)
        for c in range(channels)
    ]
    y = np.stack(cols, axis=1).astype(np.float32)
    return y[:, 0] if channels == 1 else y


@pytest.fixture
def synth() -> Callable[..., np.ndarray]:
    """The :func:`tone` generator, for tests that write files themselves."""
    return tone


@pytest.fixture
def write_tone(tmp_path: Path) -> Callable[..., tuple[Path, np.ndarray]]:
    """Factory: write a tone with soundfile; return ``(path, samples_written)``."""

    def _write(
        name: str,
        *,
        sr: int = 22050,
        seconds: float = 1.0,
        channels: int = 1,
        format: str | None = None,
        subtype: str | None = None,
    ) -> tuple[Path, np.ndarray]:
        path = tmp_path / name
        y = tone(sr, seconds, channels=channels)
        sf.write(path, y, sr, format=format, subtype=subtype)
        return path, y

    return _write
