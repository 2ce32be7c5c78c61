"""Band-limited resampling with soxr, numerically identical to ``librosa.resample``.

librosa 0.11's default ``res_type="soxr_hq"`` runs :func:`soxr.resample` on each
signal independently, then pads/trims to ``ceil(n * target_sr / orig_sr)``
samples and keeps the input dtype. We do the same (soxr's multi-channel call
gives bit-identical results to one call per signal, and is faster), so audio
loaded or resampled here matches librosa sample for sample.
"""

from __future__ import annotations

import numpy as np
import soxr
import torch

from torchmusic.audio._checks import check_rate
from torchmusic.errors import ParameterError

QUALITIES = ("QQ", "LQ", "MQ", "HQ", "VHQ")
# libsoxr allocates per channel; stay well inside python-soxr's channel limit.
_MAX_CHANNELS_PER_CALL = 4096


def check_quality(quality: object) -> str:
    """Normalise ``"hq"``/``"soxr_hq"``/``"HQ"`` style names to ``"HQ"``."""
    if isinstance(quality, str):
        q = quality.upper().removeprefix("SOXR_")
        if q in QUALITIES:
            return q
    raise ParameterError(
        f"quality must be one of {', '.join(QUALITIES)} (or 'soxr_hq' style), got {quality!r}"
    )


def output_length(n: int, orig_sr: float, target_sr: float) -> int:
    """Number of samples after resampling ``n`` samples, as librosa computes it."""
    # Same float expression as librosa.resample, so rounding agrees in every case.
    ratio = float(target_sr) / orig_sr
    return int(np.ceil(n * ratio))


def fix_length(y: np.ndarray, size: int) -> np.ndarray:
    """Trim or zero-pad the last axis to ``size`` (``librosa.util.fix_length``)."""
    n = y.shape[-1]
    if n > size:
        return y[..., :size]
    if n < size:
        pad = [(0, 0)] * (y.ndim - 1) + [(0, size - n)]
        return np.pad(y, pad, mode="constant")
    return y


def resample_numpy(y: np.ndarray, orig_sr: float, target_sr: float, quality: str) -> np.ndarray:
    """Resample a float32/float64 array ``(..., n)`` along its last axis (no validation)."""
    if orig_sr == target_sr:
        return y
    n = y.shape[-1]
    size = output_length(n, orig_sr, target_sr)
    lead = y.shape[:-1]
    if y.size == 0:
        return np.zeros((*lead, size), dtype=y.dtype)
    rows = np.ascontiguousarray(y.reshape(-1, n))
    parts = []
    for i in range(0, rows.shape[0], _MAX_CHANNELS_PER_CALL):
        block = rows[i : i + _MAX_CHANNELS_PER_CALL]
        # soxr wants (frames, channels); the transposed view of C-contiguous rows
        # is soxr's "split channel" layout, so no copy is made.
        out = soxr.resample(block.T, orig_sr, target_sr, quality=quality).T
        parts.append(fix_length(out, size))
    out = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=0)
    return np.ascontiguousarray(out.reshape(*lead, size), dtype=y.dtype)


def resample(
    y: torch.Tensor, *, orig_sr: float, target_sr: float, quality: str = "HQ"
) -> torch.Tensor:
    """Resample audio from ``orig_sr`` to ``target_sr`` with soxr.

    Equals ``librosa.resample(y, orig_sr=..., target_sr=..., res_type="soxr_hq")``
    for ``quality="HQ"`` (float32 and float64 bit-exact). Runs on the CPU: a CUDA
    tensor is copied to the CPU and the result copied back.

    Parameters
    ----------
    y : torch.Tensor [shape=(..., n)]
        Real floating-point audio, time on the last axis. float16/bfloat16 are
        computed in float32 and cast back.
    orig_sr, target_sr : float > 0
        Sample rates in Hz.
    quality : {"QQ", "LQ", "MQ", "HQ", "VHQ"}
        soxr quality preset; ``"soxr_hq"`` style names are accepted too.

    Returns
    -------
    torch.Tensor [shape=(..., ceil(n * target_sr / orig_sr))]
        Same dtype and device as ``y``. When ``orig_sr == target_sr``, ``y`` itself
        is returned (not a copy), as librosa does.

    Raises
    ------
    ParameterError
        If ``y`` is not a real floating tensor with at least one dimension, holds
        NaN/Inf, or a rate or ``quality`` is invalid.

    Examples
    --------
    >>> y = torch.randn(2, 44100)
    >>> resample(y, orig_sr=44100, target_sr=22050).shape
    torch.Size([2, 22050])
    """
    if not isinstance(y, torch.Tensor):
        raise ParameterError(f"y must be a torch.Tensor, got {type(y).__name__}")
    if not y.is_floating_point() or y.ndim == 0:
        raise ParameterError(
            f"y must be a real floating tensor of shape (..., samples), got dtype {y.dtype} "
            f"and shape {tuple(y.shape)}"
        )
    orig = check_rate(orig_sr, name="orig_sr")
    target = check_rate(target_sr, name="target_sr")
    q = check_quality(quality)
    # librosa.util.valid_audio rejects non-finite input too: soxr would smear one
    # NaN over the whole filter length.
    if not bool(torch.isfinite(y).all()):
        raise ParameterError("y contains NaN or Inf; expected finite audio samples")
    if orig == target:
        return y
    work_dtype = y.dtype if y.dtype in (torch.float32, torch.float64) else torch.float32
    y_np = y.detach().to(device="cpu", dtype=work_dtype).numpy()
    out = resample_numpy(y_np, orig, target, q)
    return torch.from_numpy(out).to(device=y.device, dtype=y.dtype)
