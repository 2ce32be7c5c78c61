"""Spectral gating: keep the time-frequency bins that stand above the noise floor."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.ndimage import uniform_filter

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

#: Frame of the gate (samples): a noise profile must hold at least one.
DEFAULT_N_FFT = 2048


def spectral_gate(
    y: Any,
    sr: int,
    *,
    stationary: bool = True,
    noise_profile: Any = None,
    strength: float = 1.0,
    n_fft: int = DEFAULT_N_FFT,
    hop_length: int | None = None,
    threshold_db: float = 6.0,
    softness_db: float = 6.0,
    smooth_hz: float = 40.0,
    smooth_ms: float = 60.0,
    percentile: float = 20.0,
    window_s: float = 2.0,
    guard_hz: float = 150.0,
) -> Any:
    """Remove noise by spectral gating (a soft, smoothed time-frequency mask).

    The power spectrogram (the mean over channels, so all channels share one mask
    and the stereo image stays put) is smoothed over ``smooth_hz`` x ``smooth_ms``
    and compared with a noise spectrum: a bin ``threshold_db`` above the noise gets
    gain 1/2, and the gain goes from 0.1 to 0.9 over ``softness_db`` around that (a
    logistic curve), so there are no hard on / off edges. The mask is then lightly
    smoothed (3 bins x 3 frames). The noise spectrum comes from

    - ``noise_profile`` (a clip of the noise alone): its mean power per bin;
    - else, ``stationary=True``: the ``percentile`` of each bin's power over the
      whole signal, scaled to a mean (exact for Gaussian noise);
    - else (``stationary=False``): a running estimate that follows the noise over
      ``window_s`` (minimum statistics), for noise that changes level or colour.

    Either self-estimate is capped by its median over ``guard_hz``, so sustained
    notes (narrow spectral peaks) are not mistaken for noise; tonal noise (hum) is
    then kept too: use :func:`~torchmusic.enhance.dehum` for it.

    Parameters
    ----------
    y : np.ndarray or torch.Tensor [shape=(samples,) or (channels, samples)]
        Noisy audio, floating point and finite.
    sr : int > 0
        Sample rate (Hz).
    stationary : bool
        One noise spectrum for the whole signal (True) or a running one (False).
    noise_profile : np.ndarray or torch.Tensor, optional
        Noise alone, ``(samples,)`` or ``(channels, samples)`` at ``sr``, at least
        ``n_fft`` samples; a mono profile serves every channel (the mask is shared
        anyway). Only with ``stationary=True``.
    strength : float in [0, 1]
        How much of the gating to apply: the gain is ``1 - strength * (1 - mask)``;
        0 returns (a copy of) the input exactly.
    n_fft : int
        FFT size (even); the frequency resolution is ``sr / n_fft``.
    hop_length : int, optional
        Hop, dividing ``n_fft`` (default ``n_fft // 4``).
    threshold_db : float
        Level above the noise spectrum where the gain is 1/2.
    softness_db : float > 0
        Width of the gain's 10 %-90 % transition.
    smooth_hz, smooth_ms : float >= 0
        Size of the power smoothing before the threshold (less musical noise).
    percentile : float in (0, 50]
        Percentile of the stationary self-estimate.
    window_s : float > 0
        Memory of the non-stationary estimate.
    guard_hz : float >= 0
        Width of the peak guard (0: none).

    Returns
    -------
    np.ndarray or torch.Tensor
        Same shape, type, dtype (and device) as ``y``.

    Raises
    ------
    ParameterError
        For NaN / Inf samples, a bad shape or dtype, an out-of-range setting, a
        profile shorter than one frame, or a profile with ``stationary=False``.

    Examples
    --------
    >>> sr = 16000
    >>> t = np.arange(2 * sr) / sr
    >>> clean = np.sin(2 * np.pi * 440 * t)
    >>> noisy = clean + np.random.default_rng(0).standard_normal(t.size)
    >>> out = spectral_gate(noisy, sr)
    >>> out.shape == noisy.shape
    True
    """
    x, restore = as_channels(y)
    sr = check_sr(sr)
    strength = check_strength(strength)
    n_fft, hop = check_fft(n_fft, hop_length)
    threshold_db = check_float("threshold_db", threshold_db, low=-60, high=60)
    softness_db = check_float("softness_db", softness_db, low=0, high=60, open_low=True)
    smooth_hz = check_float("smooth_hz", smooth_hz, low=0, high=sr / 2)
    smooth_ms = check_float("smooth_ms", smooth_ms, low=0, high=10_000)
    percentile = check_float("percentile", percentile, low=0, high=50, open_low=True)
    window_s = check_float("window_s", window_s, low=0, high=600, open_low=True)
    guard_hz = check_float("guard_hz", guard_hz, low=0, high=sr / 2)
    profile = None
    if noise_profile is not None:
        if not stationary:
            raise ParameterError(
                "noise_profile is used only with stationary=True (a profile is one "
                "noise spectrum); drop it or set stationary=True"
            )
        profile, _ = as_channels(noise_profile, "noise_profile")
        if profile.shape[-1] < n_fft:
            raise ParameterError(
                f"noise_profile has {profile.shape[-1]} samples, shorter than one frame "
                f"(n_fft={n_fft}); give a longer clip of the noise or a smaller n_fft"
            )
    if strength == 0:
        return unchanged(y)

    spec = stft(x, n_fft, hop)
    power = np.mean(np.abs(spec) ** 2, axis=0)  # (bins, frames), shared by the channels
    bin_hz, frame_s = sr / n_fft, hop / sr
    guard = round(guard_hz / bin_hz / 2)
    if profile is not None:
        noise = np.mean(np.abs(stft(profile, n_fft, hop)) ** 2, axis=(0, 2))[:, None]
    elif stationary:
        noise = _noise.percentile_psd(power, percentile=percentile, guard_bins=guard)[:, None]
    else:
        noise = _noise.minimum_statistics(
            power, frame_s=frame_s, ratio=n_fft // hop, window_s=window_s, guard_bins=guard
        )
    size = (1 + 2 * round(smooth_hz / bin_hz / 2), 1 + 2 * round(smooth_ms / 1000 / frame_s / 2))
    smoothed = uniform_filter(power.astype(np.float64), size=size, mode="nearest")
    excess_db = 10 * np.log10((smoothed + _noise.TINY) / (noise + _noise.TINY))
    # Logistic gain: 0.1 -> 0.9 over softness_db (2 ln 9 = 4.39 logits).
    logits = np.clip((excess_db - threshold_db) * (2 * np.log(9) / softness_db), -60, 60)
    mask = uniform_filter(1 / (1 + np.exp(-logits)), size=(3, 3), mode="nearest")
    gain = 1 - strength * (1 - mask)
    return restore(istft(spec * gain.astype(np.float32), n_fft, hop, x.shape[-1]))
