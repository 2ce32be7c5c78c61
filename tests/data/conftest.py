"""Tiny synthesised audio folders for the data tests (written with soundfile into tmp_path)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from torchmusic.features.config import FeatureConfig

# A low sample rate keeps files small and features fast; tests load audio at the
# file's own rate, so nothing is resampled. Test modules repeat it as their SR.
SR = 8000


def write_tone(
    path: Path, *, seconds: float = 1.0, freq: float = 440.0, channels: int = 1, sr: int = SR
) -> Path:
    """A sine tone (channel ``c`` at ``freq * (c + 1)``) as 16-bit audio; returns ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(round(seconds * sr)) / sr
    y = np.stack([0.5 * np.sin(2 * np.pi * freq * (c + 1) * t) for c in range(channels)], axis=1)
    sf.write(path, y if channels > 1 else y[:, 0], sr, subtype="PCM_16")
    return path


@pytest.fixture(name="write_tone")
def write_tone_fixture() -> Callable[..., Path]:
    """:func:`write_tone`, for tests that write their own files."""
    return write_tone


@pytest.fixture
def class_folder(tmp_path: Path) -> Path:
    """``root/jazz`` (3 WAVs, 1 s) and ``root/rock`` (a nested WAV and a FLAC, 1.1 s)."""
    root = tmp_path / "genres"
    for i in range(3):
        write_tone(root / "jazz" / f"j{i}.wav", freq=220.0 * (i + 1))
    write_tone(root / "rock" / "sub" / "r0.wav", seconds=1.1, freq=330.0)
    write_tone(root / "rock" / "r1.flac", seconds=1.1, freq=550.0)
    (root / "rock" / "notes.txt").write_text("not audio")
    (root / "rock" / "._r1.flac").write_bytes(b"macOS resource fork, not audio")
    return root


@pytest.fixture
def small_config() -> FeatureConfig:
    """A cheap log-mel at the test sample rate."""
    return FeatureConfig(kind="logmel", sr=SR, n_fft=256, hop_length=64, n_mels=16)
