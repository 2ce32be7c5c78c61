"""Helpers of the embedding tests: synthesised tones and tiny settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

SR = 22050
TINY_FEATURE: dict[str, Any] = {"kind": "logmel", "n_mels": 16, "n_fft": 512, "hop_length": 256}
TINY_NETS: dict[str, dict[str, Any]] = {
    "autoencoder": {"dim": 8, "channels": [4, 8]},
    "contrastive": {"dim": 8, "proj_dim": 4, "channels": [4, 8]},
}


def tone(freq: float, seconds: float, *, seed: int = 0, noise: float = 0.05) -> np.ndarray:
    """A decaying harmonic tone with a little noise: distinct timbres per ``freq``."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    y = sum(np.sin(2 * np.pi * freq * h * t) / h for h in (1, 2, 3))
    y = y * (0.6 + 0.4 * np.cos(2 * np.pi * 2 * t)) + noise * rng.standard_normal(t.size)
    return (0.3 * y / np.abs(y).max()).astype(np.float32)


def write_tones(folder: Path, freqs: list[float], *, seconds: float = 2.0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, f in enumerate(freqs):
        path = folder / f"tone_{i:02d}_{int(f)}.wav"
        sf.write(path, tone(f, seconds, seed=i), SR, subtype="PCM_16")
        paths.append(path)
    return paths
