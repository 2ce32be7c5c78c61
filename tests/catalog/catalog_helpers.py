"""Helpers of the catalog tests: synthesised recordings and synthetic embeddings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from torchmusic.embed import ModelInfo

SR = 22050
FAKE_MODEL = ModelInfo(name="test", version="1", dim=8, fingerprint="f" * 32, source="")


def write_tone(path: Path, freq: float, *, seconds: float = 1.5, seed: int = 0) -> Path:
    """A harmonic tone with a little noise (distinct MFCCs per ``freq``) as 16-bit WAV."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    y = sum(np.sin(2 * np.pi * freq * h * t) / h**2 for h in (1, 2, 3, 4))
    y = 0.3 * y / np.abs(y).max() + 0.01 * rng.standard_normal(t.size)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, y.astype(np.float32), SR, subtype="PCM_16")
    return path


def write_tones(folder: Path, freqs: list[float]) -> list[Path]:
    return [write_tone(folder / f"t{i:02d}.wav", f, seed=i) for i, f in enumerate(freqs)]


def random_vectors(n: int, dim: int = 8, *, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def exact_top_k(vectors: np.ndarray, ids: np.ndarray, query: np.ndarray, k: int) -> list[int]:
    order = np.argsort(-(vectors @ query), kind="stable")[:k]
    return [int(ids[i]) for i in order]
