"""Mains hum removal: a comb of zero-phase notches at the detected mains frequency."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import signal

from torchmusic.enhance._checks import (
    as_channels,
    check_float,
    check_int,
    check_sr,
    check_strength,
    unchanged,
)

#: Search half-width around each expected harmonic when detecting / refining f0.
_SEARCH = 0.01


def _spectrum(x: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """Lower quartile over time of the channel mean's power spectrum (1 s frames, 1 Hz bins).

    Not the mean: hum is there all the time, a note only for a while, so a melody
    passing near a harmonic makes no peak in what three frames out of four exceed.
    """
    mono = x.mean(axis=0)
    nperseg = min(mono.size, sr)
    freqs, _, power = signal.spectrogram(
        mono, sr, window="hann", nperseg=nperseg, noverlap=nperseg // 2, detrend=False
    )
    return freqs, np.percentile(power, 25, axis=-1)


def _peak(freqs: np.ndarray, psd: np.ndarray, centre: float) -> tuple[float, float]:
    """``(frequency, prominence in dB)`` of the strongest bin within 1 % of ``centre``.

    Prominence: the peak over the median power within 10 % of ``centre``; the
    frequency is refined by a parabola through the peak and its neighbours (in dB).
    """
    near = np.flatnonzero(np.abs(freqs - centre) <= max(_SEARCH * centre, freqs[1]))
    if near.size == 0:
        return centre, 0.0
    i = int(near[np.argmax(psd[near])])
    if 0 < i < psd.size - 1 and not psd[i - 1] <= psd[i] >= psd[i + 1]:
        return centre, 0.0  # the edge of a slope, not a peak
    wide = np.abs(freqs - centre) <= 0.1 * centre
    # The floor is at most 70 dB under the strongest bin: in a clean, noiseless
    # recording the far side lobes of a loud note must not count as standing out.
    floor = max(float(np.median(psd[wide])), 1e-7 * float(psd.max())) + 1e-30
    prominence = 10 * np.log10((psd[i] + 1e-30) / floor)
    f = float(freqs[i])
    if 0 < i < psd.size - 1:
        a, b, c = 10 * np.log10(psd[i - 1 : i + 2] + 1e-30)
        denom = a - 2 * b + c
        if denom < 0:  # a maximum: the vertex lies within half a bin
            f += float(np.clip(0.5 * (a - c) / denom, -0.5, 0.5)) * float(freqs[1] - freqs[0])
    return f, float(prominence)


def detect_hum(
    y: Any,
    sr: int,
    *,
    candidates: Sequence[float] = (50.0, 60.0),
    harmonics: int = 8,
    min_prominence_db: float = 10.0,
) -> float | None:
    """The mains frequency of a hum in ``y``, refined, or ``None`` when there is none.

    Every candidate is scored by the mean prominence (dB over the local median of
    the spectrum, at most 40) of its first ``harmonics`` multiples; the best one
    counts as hum when at least one of its harmonics stands ``min_prominence_db``
    out. Its frequency is then refined from the peaks (the power-weighted mean of
    ``peak / k`` over the prominent harmonics), as grids run a little off 50 / 60.

    Parameters
    ----------
    y : np.ndarray or torch.Tensor [shape=(samples,) or (channels, samples)]
        Audio (channels are averaged).
    sr : int > 0
        Sample rate (Hz).
    candidates : sequence of float
        Nominal mains frequencies to try.
    harmonics : int >= 1
        Multiples scored per candidate.
    min_prominence_db : float
        What a peak must stand out to count.

    Returns
    -------
    float or None
        The hum's fundamental in Hz.

    Examples
    --------
    >>> from torchmusic.data.noise import mains_hum
    >>> round(detect_hum(mains_hum(32000, 16000, f0=60.0, rng=0), 16000))
    60
    """
    x, _ = as_channels(y)
    sr = check_sr(sr)
    harmonics = check_int("harmonics", harmonics)
    min_prominence_db = check_float("min_prominence_db", min_prominence_db, low=0, high=100)
    freqs, psd = _spectrum(x, sr)
    best: tuple[float, float] | None = None
    for nominal in candidates:
        nominal = check_float("candidates", nominal, low=0, high=sr / 2, open_low=True)
        peaks = [
            _peak(freqs, psd, k * nominal)
            for k in range(1, harmonics + 1)
            if k * nominal * (1 + _SEARCH) < sr / 2
        ]
        if not peaks:
            continue
        score = float(np.mean([min(p, 40.0) for _, p in peaks]))
        if max(p for _, p in peaks) >= min_prominence_db and (best is None or score > best[1]):
            best = (nominal, score)
    if best is None:
        return None
    return _refine(freqs, psd, best[0], harmonics, min_prominence_db)


def _refine(
    freqs: np.ndarray, psd: np.ndarray, f0: float, harmonics: int, min_prominence_db: float
) -> float:
    estimates, weights = [], []
    for k in range(1, harmonics + 1):
        if k * f0 * (1 + _SEARCH) >= freqs[-1]:
            break
        f, prominence = _peak(freqs, psd, k * f0)
        if prominence >= min_prominence_db:
            estimates.append(f / k)
            weights.append(10 ** (prominence / 10) * k)  # higher k: finer in f0
    return float(np.average(estimates, weights=weights)) if estimates else f0


def _notch_centres(
    x: np.ndarray, sr: int, f0: float, harmonics: int, *, refine: bool, min_db: float
) -> np.ndarray:
    """Frequencies to notch: the harmonics of ``f0`` that stand ``min_db`` out.

    With ``refine`` each sits at its own measured peak (within 1 %), which follows
    a slightly inharmonic or averaged-drift hum better than ``k * f0``.
    """
    centres = f0 * np.arange(1, harmonics + 1)
    centres = centres[centres < 0.95 * sr / 2]
    if min_db <= 0 and not refine:
        return centres
    freqs, psd = _spectrum(x, sr)
    out = []
    for centre in centres:
        peak, prominence = _peak(freqs, psd, centre)
        if prominence >= min_db:
            out.append(peak if refine else centre)
    return np.asarray(out)


def _edge_model(
    x: np.ndarray, freqs: np.ndarray, sr: int, fit: int, pad: int
) -> tuple[np.ndarray, np.ndarray]:
    """The hum's harmonics fitted (least squares) on each edge, continued ``pad`` samples out."""

    def basis(t: np.ndarray) -> np.ndarray:
        arg = 2 * np.pi * np.outer(t, freqs) / sr
        return np.concatenate([np.cos(arg), np.sin(arg)], axis=1)

    n = x.shape[-1]
    fit = min(fit, n)
    head_t, tail_t = np.arange(fit), np.arange(n - fit, n)
    head = np.linalg.lstsq(basis(head_t), x[:, :fit].T, rcond=None)[0]
    tail = np.linalg.lstsq(basis(tail_t), x[:, n - fit :].T, rcond=None)[0]
    before = (basis(np.arange(-pad, 0)) @ head).T
    after = (basis(np.arange(n, n + pad)) @ tail).T
    return before, after


def dehum(
    y: Any,
    sr: int,
    *,
    f0: float | None = None,
    harmonics: int = 10,
    q: float = 50.0,
    strength: float = 1.0,
    refine: bool = True,
    min_prominence_db: float = 6.0,
) -> Any:
    """Remove mains hum with a comb of notch filters at ``f0`` and its harmonics.

    One :func:`scipy.signal.iirnotch` per harmonic ``k * f0`` that is present (see
    ``min_prominence_db``; below 0.95 times Nyquist; the bandwidth ``k * f0 / q``
    grows with ``k``, as does the drift of a harmonic), run forward and backward (:func:`scipy.signal.sosfiltfilt`: zero
    phase, squared attenuation). So that the notches' start-up transients do not
    land in the signal, each end is first extended by the hum alone: its harmonics,
    fitted by least squares on the first / last 0.5 s, continued for 8 time
    constants of the narrowest notch.

    Parameters
    ----------
    y : np.ndarray or torch.Tensor [shape=(samples,) or (channels, samples)]
        Audio, floating point and finite.
    sr : int > 0
        Sample rate (Hz).
    f0 : float, optional
        Mains frequency. ``None``: :func:`detect_hum` chooses 50 or 60 Hz; if it
        finds no hum, the input comes back unchanged, with a warning.
    harmonics : int >= 1
        Highest harmonic notched.
    q : float > 0
        Quality factor of each notch (centre / bandwidth): higher is narrower,
        kinder to the music and less tolerant of drift.
    strength : float in [0, 1]
        Returns ``y - strength * (removed hum)``; 0 returns (a copy of) the input.
    refine : bool
        Move ``f0``, and each notch, to the measured peaks within 1 % (a grid at
        49.95 Hz; a drifting hum's average).
    min_prominence_db : float >= 0
        Notch only the harmonics standing this far over the local spectrum (a
        harmonic that is not there costs the music a notch for nothing); 0 with
        ``refine=False`` notches every ``k * f0``.

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
    >>> from torchmusic.data.noise import mains_hum
    >>> hum = mains_hum(32000, 16000, f0=50.0, drift=0.0, rng=0)
    >>> float(np.abs(dehum(hum, 16000)).max()) < 0.01
    True
    """
    x, restore = as_channels(y)
    sr = check_sr(sr)
    harmonics = check_int("harmonics", harmonics)
    q = check_float("q", q, low=0, high=10_000, open_low=True)
    min_prominence_db = check_float("min_prominence_db", min_prominence_db, low=0, high=100)
    strength = check_strength(strength)
    if f0 is not None:
        f0 = check_float("f0", f0, low=0, high=0.95 * sr / 2, open_low=True)
    if strength == 0:
        return unchanged(y)
    if f0 is None:
        f0 = detect_hum(x, sr)
        if f0 is None:
            warnings.warn(
                "dehum: no mains hum found at 50 or 60 Hz; returned unchanged", stacklevel=2
            )
            return unchanged(y)
    elif refine:
        freqs, psd = _spectrum(x, sr)
        f0 = _refine(freqs, psd, f0, harmonics, max(min_prominence_db, 6.0))
    centres = _notch_centres(x, sr, f0, harmonics, refine=refine, min_db=min_prominence_db)
    if centres.size == 0:
        return unchanged(y)  # no harmonic stands out: nothing to notch
    sos = np.concatenate([signal.tf2sos(*signal.iirnotch(f, q, fs=sr)) for f in centres])
    pad = int(np.ceil(8 * q / (np.pi * centres[0]) * sr))  # 8 time constants, narrowest notch
    before, after = _edge_model(x, centres, sr, fit=sr // 2, pad=pad)
    extended = np.concatenate([before, x, after], axis=1)
    filtered = signal.sosfiltfilt(sos, extended, axis=-1, padtype=None)[:, pad : pad + x.shape[-1]]
    return restore(x - strength * (x - filtered))
