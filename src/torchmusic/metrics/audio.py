"""Waveform quality metrics for vocoders and denoisers: reference against estimate.

Every function takes a reference and an estimate of the same shape ``(samples,)``
or ``(..., samples)`` (leading dimensions are a batch of items), as torch tensors or
NumPy arrays, computes in float64 on the input's device and returns a Python float
(``reduction="mean"``: the mean over items) or a NumPy array of the batch shape
(``reduction="none"``).

- :func:`log_mel_l1`: mean absolute difference of torchmusic log-mel spectrograms, dB.
- :func:`mr_stft_distance`: multi-resolution STFT spectral convergence and
  log-magnitude distance (as in Parallel WaveGAN / HiFi-GAN evaluations).
- :func:`si_sdr`: scale-invariant signal-to-distortion ratio, dB.

Silence: a silent reference makes the spectral convergence and SI-SDR undefined;
they are NaN for that item (never an exception, so one silent clip in a batch does
not stop an evaluation); filter NaN before averaging, or use ``reduction="none"``.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import torch

from torchmusic.errors import ParameterError
from torchmusic.features import FeatureConfig, stft

Reduction = Literal["mean", "none"]
DEFAULT_RESOLUTIONS: tuple[tuple[int, int, int], ...] = (
    (512, 128, 512),
    (1024, 256, 1024),
    (2048, 512, 2048),
)
#: Floor of |STFT| before the natural log of :func:`mr_stft_distance` (-16.1 nepers).
MAGNITUDE_FLOOR = 1e-7


def _as_tensor(x: Any, name: str) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        t = x.detach()
    else:
        arr = np.asarray(x)
        if arr.dtype == object or not (
            np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
        ):
            raise ParameterError(f"{name} must be a numeric array or tensor, got dtype {arr.dtype}")
        t = torch.from_numpy(arr.copy())  # not ascontiguousarray: it makes 0-d arrays 1-d
    if not t.is_floating_point():
        raise ParameterError(
            f"{name} has dtype {t.dtype}; expected floating-point audio "
            "(convert integer PCM with e.g. y / 32768)"
        )
    if t.ndim == 0 or t.shape[-1] == 0:
        raise ParameterError(f"{name} has shape {tuple(t.shape)}; expected (..., samples) audio")
    t = t.to(torch.float64)
    if not bool(torch.isfinite(t).all()):
        raise ParameterError(f"{name} contains NaN or Inf; expected finite samples")
    return t


def _pair(reference: Any, estimate: Any) -> tuple[torch.Tensor, torch.Tensor]:
    ref = _as_tensor(reference, "reference")
    est = _as_tensor(estimate, "estimate").to(ref.device)
    if ref.shape != est.shape:
        raise ParameterError(
            f"reference {tuple(ref.shape)} and estimate {tuple(est.shape)} must have the "
            "same shape (trim the vocoder output to the reference length first)"
        )
    return ref, est


def _reduce(per_item: torch.Tensor, reduction: str) -> float | np.ndarray:
    if reduction == "mean":
        return float(per_item.mean())
    if reduction == "none":
        return per_item.cpu().numpy()
    raise ParameterError(f"reduction={reduction!r} must be 'mean' or 'none'")


def log_mel_l1(
    reference: Any,
    estimate: Any,
    *,
    feature: FeatureConfig | None = None,
    reduction: Reduction = "mean",
) -> float | np.ndarray:
    """Mean absolute difference of the log-mel spectrograms, in dB.

    Both signals go through ``feature.compute`` (torchmusic's librosa-equal log-mel,
    ``10 log10(max(mel power, 1e-10))``); the result is the mean of
    ``|logmel(reference) - logmel(estimate)|`` over mel bins and frames. With no
    ``top_db`` clamp, scaling a loud signal by ``g`` changes it by exactly
    ``20 log10(g)`` dB.

    Parameters
    ----------
    reference, estimate : array-like or torch.Tensor, shape ``(..., samples)``
        Audio at ``feature.sr``; same shape.
    feature : FeatureConfig, optional
        A ``kind="logmel"`` configuration. Default ``FeatureConfig(top_db=None)``:
        22.05 kHz, n_fft 2048, hop 512, 128 mels.
    reduction : {"mean", "none"}
        Mean over items (float), or one value per item (array of the batch shape).

    Returns
    -------
    float or numpy.ndarray
        dB, >= 0; 0 for identical signals.

    Examples
    --------
    >>> y = torch.randn(22050)
    >>> round(log_mel_l1(y, 2 * y), 4)  # 20 log10(2)
    6.0206
    """
    cfg = FeatureConfig(top_db=None) if feature is None else feature
    if not isinstance(cfg, FeatureConfig) or cfg.kind != "logmel":
        raise ParameterError(f"feature={feature!r} must be a FeatureConfig with kind='logmel'")
    ref, est = _pair(reference, estimate)
    diff = (cfg.compute(ref) - cfg.compute(est)).abs()
    return _reduce(diff.mean(dim=(-2, -1)), reduction)


def _check_resolutions(resolutions: Any) -> list[tuple[int, int, int]]:
    try:
        out = [tuple(r) for r in resolutions]
    except TypeError:
        out = []
    ok = bool(out) and all(
        len(r) == 3
        and all(isinstance(v, int | np.integer) and not isinstance(v, bool) and v > 0 for v in r)
        and r[2] <= r[0]
        for r in out
    )
    if not ok:
        raise ParameterError(
            f"resolutions={resolutions!r} must be a non-empty sequence of (n_fft, hop, "
            "win_length) positive ints with win_length <= n_fft"
        )
    return [(int(a), int(b), int(c)) for a, b, c in out]


def mr_stft_distance(
    reference: Any,
    estimate: Any,
    resolutions: Any = DEFAULT_RESOLUTIONS,
    *,
    reduction: Reduction = "mean",
) -> dict[str, float | np.ndarray]:
    """Multi-resolution STFT distance: spectral convergence plus log-magnitude L1.

    For each ``(n_fft, hop, win_length)`` (Hann window, centred frames) with
    magnitudes ``R = |STFT(reference)|`` and ``E = |STFT(estimate)|``:

    - spectral convergence ``||R - E||_F / ||R||_F`` (NaN for a silent reference);
    - log magnitude ``mean |ln max(R, 1e-7) - ln max(E, 1e-7)|``.

    Each is averaged over the resolutions; ``mr_stft`` is their sum, the usual
    training loss of GAN vocoders.

    Parameters
    ----------
    reference, estimate : array-like or torch.Tensor, shape ``(..., samples)``
        Audio; same shape.
    resolutions : sequence of (int, int, int)
        ``(n_fft, hop_length, win_length)`` triples.
    reduction : {"mean", "none"}
        Mean over items (floats), or one value per item (arrays of the batch shape).

    Returns
    -------
    dict
        ``{"spectral_convergence": ..., "log_magnitude": ..., "mr_stft": ...}``; all
        0 for identical signals.

    Examples
    --------
    >>> y = torch.randn(22050)
    >>> d = mr_stft_distance(y, y)
    >>> d["mr_stft"]
    0.0
    """
    res = _check_resolutions(resolutions)
    ref, est = _pair(reference, estimate)
    sc_sum = lm_sum = torch.zeros(ref.shape[:-1], dtype=torch.float64, device=ref.device)
    for n_fft, hop, win in res:
        mag_r = stft(ref, n_fft=n_fft, hop_length=hop, win_length=win).abs()
        mag_e = stft(est, n_fft=n_fft, hop_length=hop, win_length=win).abs()
        num = torch.linalg.vector_norm(mag_r - mag_e, dim=(-2, -1))
        den = torch.linalg.vector_norm(mag_r, dim=(-2, -1))
        sc = torch.where(den > 0, num / den.clamp_min(1e-300), torch.nan)
        log_r = torch.log(mag_r.clamp_min(MAGNITUDE_FLOOR))
        log_e = torch.log(mag_e.clamp_min(MAGNITUDE_FLOOR))
        sc_sum = sc_sum + sc
        lm_sum = lm_sum + (log_r - log_e).abs().mean(dim=(-2, -1))
    sc, lm = sc_sum / len(res), lm_sum / len(res)
    return {
        "spectral_convergence": _reduce(sc, reduction),
        "log_magnitude": _reduce(lm, reduction),
        "mr_stft": _reduce(sc + lm, reduction),
    }


def si_sdr(reference: Any, estimate: Any, *, reduction: Reduction = "mean") -> float | np.ndarray:
    """Scale-invariant signal-to-distortion ratio (Le Roux et al., 2019), in dB.

    Both signals are made zero-mean; the reference is scaled to best fit the
    estimate, ``target = (<e, r> / <r, r>) r``, and the result is
    ``10 log10(|target|^2 / |e - target|^2)``. Higher is better; a gain applied to
    the estimate does not change it.

    Parameters
    ----------
    reference, estimate : array-like or torch.Tensor, shape ``(..., samples)``
        Audio; same shape.
    reduction : {"mean", "none"}
        Mean over items (float), or one value per item (array of the batch shape).

    Returns
    -------
    float or numpy.ndarray
        dB. ``+inf`` when the estimate is an exact scaled copy of the reference (in
        float64 an identical copy may instead give a very large finite value);
        ``-inf`` for a silent (constant) estimate; NaN for a silent (constant)
        reference, where the ratio is undefined.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal(16000)
    >>> noise = rng.standard_normal(16000) * np.sqrt(np.mean(x**2) / 10)  # 10 dB SNR
    >>> round(si_sdr(x, x + noise))
    10
    """
    ref, est = _pair(reference, estimate)
    ref = ref - ref.mean(dim=-1, keepdim=True)
    est = est - est.mean(dim=-1, keepdim=True)
    rr = (ref * ref).sum(dim=-1)
    ee = (est * est).sum(dim=-1)
    alpha = (est * ref).sum(dim=-1) / rr.clamp_min(1e-300)
    target = alpha.unsqueeze(-1) * ref
    residual = est - target
    ratio = 10 * torch.log10((target * target).sum(dim=-1) / (residual * residual).sum(dim=-1))
    ratio = torch.where(ee > 0, ratio, -math.inf)
    return _reduce(torch.where(rr > 0, ratio, torch.nan), reduction)
