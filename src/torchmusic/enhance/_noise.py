"""Noise power spectra estimated from the noisy signal itself.

- :func:`percentile_psd`: stationary noise, one spectrum: a low percentile of each
  bin's power over time, scaled to a mean (Gaussian noise has exponentially
  distributed bin powers, whose ``q``-quantile is ``-ln(1 - q)`` times the mean).
- :func:`minimum_statistics`: non-stationary noise, one spectrum per frame: the
  power smoothed recursively over time, its minimum over a sliding window, times a
  bias factor (after Martin 2001, with a fixed smoothing constant; the bias is not
  Martin's closed form but measured once on white noise through the same
  estimator, so it is right for whatever window and overlap are used).

Both then apply a *peak guard*: the estimate of a bin is at most the median of
its neighbours' estimates over ``guard_hz``. A note held longer than the window
(or through the whole clip) looks like stationary noise to a per-bin estimator;
noise spectra are smooth across frequency while notes are narrow peaks, so the
guard keeps sustained notes out of the noise estimate. (A tonal noise such as hum
is therefore left alone: remove it with :func:`~torchmusic.enhance.dehum` first.)
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.ndimage import median_filter, minimum_filter1d, uniform_filter1d
from scipy.signal import lfilter

#: Smallest power used as a denominator (float32 audio never gets near it).
TINY = 1e-20


def peak_guard(noise: np.ndarray, bins: int) -> np.ndarray:
    """``min(noise, median of noise over 2 * bins + 1 neighbouring bins)`` (axis 0)."""
    if bins < 1:
        return noise
    size = (2 * bins + 1,) + (1,) * (noise.ndim - 1)
    return np.minimum(noise, median_filter(noise, size=size, mode="nearest"))


def percentile_psd(power: np.ndarray, *, percentile: float, guard_bins: int) -> np.ndarray:
    """Stationary noise spectrum ``(bins,)`` of ``power`` ``(bins, frames)``."""
    q = percentile / 100
    low = np.percentile(power, percentile, axis=-1)
    return peak_guard(low / -np.log1p(-q), guard_bins)


def _track_minimum(power: np.ndarray, alpha: float, window: int, smooth: int) -> np.ndarray:
    """Recursive smoothing, sliding minimum, then a moving average (less stair-stepping)."""
    zi = (alpha * power[..., :1]).astype(np.float64)
    smoothed, _ = lfilter([1 - alpha], [1, -alpha], power, axis=-1, zi=zi)
    low = minimum_filter1d(smoothed, size=window, axis=-1, mode="nearest")
    return uniform_filter1d(low, size=smooth, axis=-1, mode="nearest")


@lru_cache(maxsize=32)
def _bias(ratio: int, alpha: float, window: int, smooth: int) -> float:
    """Mean power / mean estimate for white Gaussian noise (``ratio`` = n_fft / hop)."""
    from torchmusic.enhance._stft import stft

    n_fft = 32 * ratio
    frames = max(40 * window, 4000)
    noise = np.random.default_rng(0).standard_normal((1, frames * 32))
    power = np.abs(stft(noise, n_fft, n_fft // ratio)[0, 1:-1]).astype(np.float64) ** 2
    estimate = _track_minimum(power, alpha, window, smooth)
    keep = slice(2 * window, -2 * window)  # away from the edges
    return float(power[:, keep].mean() / estimate[:, keep].mean())


def minimum_statistics(
    power: np.ndarray,
    *,
    frame_s: float,
    ratio: int,
    window_s: float = 1.5,
    smooth_s: float = 0.05,
    guard_bins: int = 0,
) -> np.ndarray:
    """Noise spectrum per frame ``(bins, frames)`` of ``power`` ``(bins, frames)``.

    ``frame_s`` is the hop in seconds and ``ratio`` = n_fft / hop (the overlap,
    which sets how correlated neighbouring frames are, hence the bias).
    """
    alpha = float(np.exp(-frame_s / max(smooth_s, frame_s)))  # time constant smooth_s
    window = max(3, round(window_s / frame_s))
    smooth = max(1, window // 4)
    estimate = _track_minimum(power.astype(np.float64), alpha, window, smooth)
    return peak_guard(estimate * _bias(ratio, round(alpha, 6), window, smooth), guard_bins)
