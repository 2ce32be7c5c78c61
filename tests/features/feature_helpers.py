"""Shared helpers of the feature tests: the real audio files and the tolerances."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
import torch

# Parametrising over the files needs their names at collection time, before the
# `shared_data` fixture exists; this is the same lookup as tests/conftest.py. The
# tests still request `shared_data`, so they skip cleanly when the data is absent.
_SHARED_DATA = Path(
    os.environ.get(
        "TORCHMUSIC_SHARED_DATA", Path(__file__).resolve().parents[2].parent / "shared" / "data"
    )
)
AUDIO_SUFFIXES = {".wav", ".mp3", ".flac", ".ogg"}
# The first 30 s of each file (the longest recordings run 2+ minutes).
CROP_SECONDS = 30.0

#: Acceptance: max|torchmusic - librosa| <= REL_TOL * max|librosa| (float32) ...
REL_TOL = 1e-4
#: ... and dB outputs within DB_TOL dB.
DB_TOL = 1e-3


def audio_files() -> list[str]:
    """Every ``recordings/*.ogg`` and every audio file under ``mir_clips/``, relative paths."""
    if not _SHARED_DATA.is_dir():
        return ["<no shared data>"]
    found = sorted((_SHARED_DATA / "recordings").glob("*.ogg"))
    found += sorted(
        p for p in (_SHARED_DATA / "mir_clips").rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES
    )
    return [p.relative_to(_SHARED_DATA).as_posix() for p in found]


@functools.cache
def load_clip(path: str) -> tuple[np.ndarray, int]:
    """Mono (channel mean) float32 at the native rate, first CROP_SECONDS; read-only."""
    import soundfile as sf

    y, sr = sf.read(path, dtype="float32", always_2d=True)
    y = np.ascontiguousarray(y.mean(axis=1, dtype=np.float32)[: int(CROP_SECONDS * sr)])
    y.setflags(write=False)  # shared between tests: nobody may modify it
    return y, sr


def to_numpy(x: torch.Tensor) -> np.ndarray:
    return x.detach().cpu().numpy()


def assert_rel_close(ours: torch.Tensor, ref: np.ndarray, what: str, tol: float = REL_TOL) -> None:
    """``max|ours - ref| <= tol * max|ref|``, with a message naming the case."""
    got = to_numpy(ours)
    assert got.shape == ref.shape, f"{what}: shape {got.shape} != librosa's {ref.shape}"
    err = float(np.max(np.abs(got.astype(np.float64) - ref)))
    bound = tol * float(np.max(np.abs(ref)))
    assert err <= bound, f"{what}: max|diff|={err:.3g} > {tol:g}*max|librosa|={bound:.3g}"


def assert_db_close(ours: torch.Tensor, ref: np.ndarray, what: str, tol: float = DB_TOL) -> None:
    """Decibel outputs agree within ``tol`` dB everywhere."""
    got = to_numpy(ours)
    assert got.shape == ref.shape, f"{what}: shape {got.shape} != librosa's {ref.shape}"
    err = float(np.max(np.abs(got.astype(np.float64) - ref)))
    assert err <= tol, f"{what}: max|diff|={err:.3g} dB > {tol:g} dB"
