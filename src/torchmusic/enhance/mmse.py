"""Statistical short-time spectral gains: Wiener and Ephraim-Malah MMSE-STSA."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from scipy.special import i0e, i1e

from torchmusic.enhance import _noise
from torchmusic.enhance._checks import (
    as_channels,
    check_fft,
    check_float,
    check_sr,
    check_strength,
    unchanged,
)
from torchmusic.enhance._stft import istft, stft
from torchmusic.errors import ParameterError


def mmse_stsa_gain(xi: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    """Ephraim-Malah (1984) MMSE short-time spectral amplitude gain, capped at 1.

    ``xi``: a-priori SNR, ``gamma``: a-posteriori SNR (linear). The exponentially
    scaled Bessel functions keep it finite at any SNR.
    """
    v = xi * gamma / (1 + xi)
    gain = np.sqrt(np.pi * v) / (2 * gamma) * ((1 + v) * i0e(v / 2) + v * i1e(v / 2))
    return np.minimum(gain, 1.0)


def wiener(
    y: Any,
    sr: int,
    *,
    strength: float = 1.0,
    gain: Literal["wiener", "mmse-stsa"] = "wiener",
    n_fft: int = 1024,
    hop_length: int | None = None,
    dd_alpha: float = 0.98,
    min_prior_db: float = -25.0,
    window_s: float = 1.5,
    guard_hz: float = 150.0,
) -> Any:
    """Remove noise with a decision-directed Wiener or MMSE-STSA gain.

    The noise spectrum is tracked by minimum statistics (after Martin 2001: the
    recursively smoothed power's minimum over ``window_s``, bias-corrected, capped
    by its median over ``guard_hz`` so sustained notes do not count as noise). The
    a-priori SNR follows the decision-directed rule of Ephraim and Malah (1984),
    ``xi = dd_alpha * (last frame's estimate)**2 / noise + (1 - dd_alpha) *
    max(gamma - 1, 0)``, floored at ``min_prior_db`` (Cappe 1994: the floor and
    the smoothing are what keep musical noise down). The gain is the Wiener gain
    ``xi / (1 + xi)`` or the MMSE short-time spectral amplitude estimator, never
    above 1. All channels share one gain (from their mean power), so the
    stereo image stays put.

    Parameters
    ----------
    y : np.ndarray or torch.Tensor [shape=(samples,) or (channels, samples)]
        Noisy audio, floating point and finite.
    sr : int > 0
        Sample rate (Hz).
    strength : float in [0, 1]
        The applied gain is ``1 - strength * (1 - gain)``; 0 returns (a copy of)
        the input exactly.
    gain : {"wiener", "mmse-stsa"}
        Gain rule. The MMSE-STSA gain removes less (about 2-5 dB less SI-SDR gain on
        a melody in white noise) with less musical noise.
    n_fft : int
        FFT size (even).
    hop_length : int, optional
        Hop, dividing ``n_fft`` (default ``n_fft // 4``).
    dd_alpha : float in [0, 1)
        Weight of the previous frame in the decision-directed estimate.
    min_prior_db : float
        Floor of the a-priori SNR, dB.
    window_s : float > 0
        Minimum-statistics window: noise may change this fast; longer notes than
        this rely on the peak guard.
    guard_hz : float >= 0
        Width of the peak guard (0: none).

    Returns
    -------
    np.ndarray or torch.Tensor
        Same shape, type, dtype (and device) as ``y``.

    Raises
    ------
    ParameterError
        For NaN / Inf samples, a bad shape or dtype, or an out-of-range setting.

    Examples
    --------
    >>> sr = 16000
    >>> t = np.arange(2 * sr) / sr
    >>> noisy = np.sin(2 * np.pi * 440 * t) + np.random.default_rng(0).standard_normal(t.size)
    >>> wiener(noisy.astype(np.float32), sr).dtype
    dtype('float32')
    """
    x, restore = as_channels(y)
    sr = check_sr(sr)
    strength = check_strength(strength)
    if gain not in ("mmse-stsa", "wiener"):
        raise ParameterError(f"gain={gain!r} must be 'mmse-stsa' or 'wiener'")
    n_fft, hop = check_fft(n_fft, hop_length)
    dd_alpha = check_float("dd_alpha", dd_alpha, low=0, high=0.999)
    min_prior_db = check_float("min_prior_db", min_prior_db, low=-100, high=0)
    window_s = check_float("window_s", window_s, low=0, high=600, open_low=True)
    guard_hz = check_float("guard_hz", guard_hz, low=0, high=sr / 2)
    if strength == 0:
        return unchanged(y)

    spec = stft(x, n_fft, hop)
    power = np.mean(np.abs(spec) ** 2, axis=0).astype(np.float64)  # (bins, frames)
    noise = _noise.minimum_statistics(
        power, frame_s=hop / sr, ratio=n_fft // hop, window_s=window_s,
        guard_bins=round(guard_hz / (sr / n_fft) / 2),
    ) + _noise.TINY  # fmt: skip
    # Clipped: the exp-scaled Bessels need no more, and gamma = 0 (digital silence)
    # would divide 0 by 0 in the MMSE-STSA gain.
    gamma = np.clip(power / noise, 1e-12, 1e6)
    xi_min = 10 ** (min_prior_db / 10)
    gains = np.empty_like(power)
    previous = np.zeros(power.shape[0])  # |estimate|^2 of the last frame
    # The decision-directed recursion runs over frames; each step is vectorised over bins.
    for t in range(power.shape[1]):
        g_t = gamma[:, t]
        xi = dd_alpha * previous / noise[:, t] + (1 - dd_alpha) * np.maximum(g_t - 1, 0)
        xi = np.maximum(xi, xi_min)
        g = mmse_stsa_gain(xi, g_t) if gain == "mmse-stsa" else xi / (1 + xi)
        gains[:, t] = g
        previous = g * g * power[:, t]
    applied = 1 - strength * (1 - gains)
    return restore(istft(spec * applied.astype(np.float32), n_fft, hop, x.shape[-1]))
