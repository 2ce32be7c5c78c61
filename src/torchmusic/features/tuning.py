"""Pitch tracking and tuning estimation, equal to librosa's ``piptrack``,
``pitch_tuning`` and ``estimate_tuning`` (used by :func:`chroma_stft`).

Tuning is estimated per item of a batch (librosa pools a multichannel array into
one estimate), so a batch gives exactly the per-clip librosa results. The
estimate is a histogram argmax: it is computed without gradients.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from torchmusic.errors import ParameterError
from torchmusic.features import _validate
from torchmusic.features.convert import fft_frequencies, hz_to_octs
from torchmusic.features.spectrum import WindowSpec, _spectrogram


def _parabolic_shift(S: torch.Tensor) -> torch.Tensor:
    """Offset of the parabola vertex through each bin and its two neighbours (dim -2).

    Mirrors librosa's numba stencil, including its precision: there ``x[1] + x[-1]``
    stays in the input dtype while ``2 * x[0]`` and ``/ 2`` promote to float64.
    Shifts of a bin or more, and the two edge bins, are 0.
    """
    left, mid, right = S[..., :-2, :], S[..., 1:-1, :], S[..., 2:, :]
    a = (right + left).double() - 2 * mid.double()
    b = (right - left).double() / 2
    keep = b.abs() < a.abs()
    shift = torch.where(keep, -b / torch.where(keep, a, torch.ones_like(a)), torch.zeros_like(a))
    edge = torch.zeros_like(S[..., :1, :])
    return torch.cat([edge, shift.to(S.dtype), edge], dim=-2)


def _localmax(x: torch.Tensor) -> torch.Tensor:
    """``librosa.util.localmax(x, axis=-2)``: ``x[i] > x[i-1]`` and ``x[i] >= x[i+1]``;
    the first bin is never a maximum, the last one is if it exceeds its neighbour."""
    first = torch.zeros_like(x[..., :1, :], dtype=torch.bool)
    inner = (x[..., 1:-1, :] > x[..., :-2, :]) & (x[..., 1:-1, :] >= x[..., 2:, :])
    last = x[..., -1:, :] > x[..., -2:-1, :]
    return torch.cat([first, inner, last], dim=-2)


def piptrack(
    y: torch.Tensor | None = None,
    *,
    sr: float = 22050,
    S: torch.Tensor | None = None,
    n_fft: int | None = 2048,
    hop_length: int | None = None,
    fmin: float = 150.0,
    fmax: float = 4000.0,
    threshold: float = 0.1,
    win_length: int | None = None,
    window: WindowSpec = "hann",
    center: bool = True,
    pad_mode: str = "constant",
    ref: float | Callable[..., Any] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pitch tracking on thresholded parabolically-interpolated STFT peaks (``librosa.piptrack``).

    Parameters
    ----------
    y : torch.Tensor, shape ``(..., samples)``, optional
        Audio. Give either ``y`` or ``S``.
    sr : float
        Sample rate (Hz).
    S : torch.Tensor, shape ``(..., 1 + n_fft // 2, frames)``, optional
        Magnitude or power spectrogram.
    n_fft, hop_length, win_length, window, center, pad_mode
        STFT settings when ``y`` is given (``hop_length=None``: ``win_length // 4``).
    fmin, fmax : float
        Frequency range searched for peaks (Hz), clipped to ``[0, sr/2]``.
    threshold : float
        A peak must exceed ``threshold * ref`` of its frame.
    ref : float, callable or None
        Reference per frame; ``None`` is the frame maximum, a callable is called as
        ``ref(S, dim=-2, keepdim=True)``, a number is used as is (not scaled).

    Returns
    -------
    pitches, magnitudes : torch.Tensor, shape ``(..., 1 + n_fft // 2, frames)``
        Instantaneous frequency (Hz) and interpolated magnitude at each peak, 0 elsewhere.

    Examples
    --------
    >>> t = torch.arange(22050) / 22050
    >>> pitches, mags = piptrack(torch.sin(2 * torch.pi * 440 * t))
    >>> round(float(pitches[:, 10][mags[:, 10].argmax()]))
    440
    """
    S, n_fft = _spectrogram(
        y,
        S,
        n_fft=n_fft,
        hop_length=hop_length,
        power=1.0,
        win_length=win_length,
        window=window,
        center=center,
        pad_mode=pad_mode,
    )
    sr = _validate.positive_number("sr", sr)
    threshold = _validate.finite_number("threshold", threshold)
    S = S.abs()
    fmin = max(_validate.finite_number("fmin", fmin), 0.0)
    fmax = min(_validate.finite_number("fmax", fmax), sr / 2)
    fft_freqs = fft_frequencies(sr=sr, n_fft=n_fft, device=S.device)
    avg = torch.gradient(S, dim=-2)[0]
    shift = _parabolic_shift(S)
    dskew = 0.5 * avg * shift
    freq_mask = ((fmin <= fft_freqs) & (fft_freqs < fmax))[:, None]
    if ref is None:
        ref_value: torch.Tensor | float = threshold * S.amax(dim=-2, keepdim=True)
    elif callable(ref):
        out = ref(S, dim=-2, keepdim=True)
        # torch.max(..., dim=) returns (values, indices).
        ref_value = threshold * (out if isinstance(out, torch.Tensor) else out.values)
    else:
        ref_value = abs(_validate.finite_number("ref", ref))
    peaks = freq_mask & _localmax(S * (S > ref_value))
    bins = torch.arange(S.shape[-2], dtype=torch.float64, device=S.device)[:, None]
    # librosa: (int bin + float32 shift) promotes to float64 before scaling to Hz.
    hz = ((bins + shift.double()) * float(sr) / n_fft).to(S.dtype)
    zero = torch.zeros_like(S)
    return torch.where(peaks, hz, zero), torch.where(peaks, S + dskew, zero)


def _histogram_edges(resolution: float) -> torch.Tensor:
    return torch.from_numpy(np.linspace(-0.5, 0.5, int(np.ceil(1.0 / resolution)) + 1))


def _check_tuning_args(resolution: Any, bins_per_octave: Any) -> tuple[float, int]:
    resolution = _validate.positive_number("resolution", resolution)
    if resolution >= 1:
        raise ParameterError(f"resolution={resolution!r} must be in (0, 1) (fractions of a bin)")
    return resolution, _validate.positive_int("bins_per_octave", bins_per_octave)


def _tuning_of(
    frequencies: torch.Tensor, mask: torch.Tensor, resolution: float, bins_per_octave: int
) -> torch.Tensor:
    """``pitch_tuning`` of ``frequencies[mask]`` for each row of ``(items, n)`` inputs."""
    mask = mask & (frequencies > 0)
    residual = torch.remainder(bins_per_octave * hz_to_octs(frequencies), 1.0)
    # A residual of 0.95 is more likely -0.05 from the next bin up.
    residual = torch.where(residual >= 0.5, residual - 1.0, residual)
    edges = _histogram_edges(resolution).to(frequencies.device)
    n_bins = edges.numel() - 1
    # np.histogram: bin i holds edges[i] <= r < edges[i+1]; the last bin is closed.
    index = torch.bucketize(residual.double(), edges, right=True) - 1
    index = torch.where(index == n_bins, index - 1, index)
    valid = mask & (index >= 0) & (index < n_bins)
    counts = torch.zeros(frequencies.shape[0], n_bins, dtype=torch.int64, device=frequencies.device)
    counts.scatter_add_(1, torch.where(valid, index, 0), valid.to(torch.int64))
    tuning = edges[counts.argmax(dim=1)]
    empty = ~mask.any(dim=1)
    if bool(empty.any()):
        warnings.warn("Trying to estimate tuning from empty frequency set.", stacklevel=3)
        tuning = torch.where(empty, torch.zeros_like(tuning), tuning)
    return tuning


def pitch_tuning(
    frequencies: torch.Tensor, *, resolution: float = 0.01, bins_per_octave: int = 12
) -> float:
    """Tuning offset (fractions of a bin) that best fits a set of frequencies (``librosa.pitch_tuning``).

    Parameters
    ----------
    frequencies : torch.Tensor, any shape
        Frequencies in Hz; values <= 0 are ignored.
    resolution : float
        Histogram resolution in fractions of a bin.
    bins_per_octave : int
        Bins per octave.

    Returns
    -------
    float
        Estimated tuning in ``[-0.5, 0.5)``; 0.0 (with a warning) for an empty set.

    Examples
    --------
    >>> round(pitch_tuning(torch.tensor([440.0, 445.0, 445.1])), 2)
    0.19
    """
    resolution, bins_per_octave = _check_tuning_args(resolution, bins_per_octave)
    if not isinstance(frequencies, torch.Tensor):
        frequencies = torch.as_tensor(frequencies, dtype=torch.float64)
    flat = frequencies.reshape(1, -1)
    return float(
        _tuning_of(flat, torch.ones_like(flat, dtype=torch.bool), resolution, bins_per_octave)[0]
    )


def _masked_median(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``np.median(values[mask])`` per row of ``(items, n)``; 0 for rows without any."""
    count = mask.sum(dim=1, keepdim=True)
    k_max = int(count.max())
    if k_max == 0:
        return torch.zeros_like(values[:, 0])
    # Peaks are a small fraction of the bins: a top-k is much cheaper than a full sort.
    top = torch.where(mask, values, -math.inf).topk(k_max, dim=1).values  # descending
    # Ascending position j of a row with `count` values is descending position count-1-j.
    lo = top.gather(1, (count - 1 - (count - 1) // 2).clamp(0, k_max - 1))
    hi = top.gather(1, (count - 1 - count // 2).clamp(0, k_max - 1))
    # np.median averages the two middle values in the input dtype.
    median = (lo + hi) / 2
    return torch.where(count > 0, median, torch.zeros_like(median)).squeeze(1)


def estimate_tuning(
    y: torch.Tensor | None = None,
    *,
    sr: float = 22050,
    S: torch.Tensor | None = None,
    n_fft: int | None = 2048,
    resolution: float = 0.01,
    bins_per_octave: int = 12,
    **kwargs: Any,
) -> torch.Tensor:
    """Estimate the tuning deviation of each clip from A440 (``librosa.estimate_tuning``).

    Peaks from :func:`piptrack` at or above the median peak magnitude are passed to
    :func:`pitch_tuning`.

    Parameters
    ----------
    y : torch.Tensor, shape ``(..., samples)``, optional
        Audio. Give either ``y`` or ``S``.
    sr : float
        Sample rate (Hz).
    S : torch.Tensor, shape ``(..., bins, frames)``, optional
        Magnitude or power spectrogram.
    n_fft : int
        FFT size (inferred from ``S`` when it does not match).
    resolution : float
        Resolution of the tuning, in fractions of a bin.
    bins_per_octave : int
        Bins per octave.
    **kwargs
        Further :func:`piptrack` settings.

    Returns
    -------
    torch.Tensor, shape ``(...)``, float64
        The tuning of each item (a 0-d tensor for a single clip), in fractions of a bin.

    Examples
    --------
    >>> t = torch.arange(22050, dtype=torch.float64) / 22050
    >>> c5_quarter_tone_flat = 523.25 * 2 ** (-0.25 / 12)
    >>> round(float(estimate_tuning(torch.sin(2 * torch.pi * c5_quarter_tone_flat * t))), 2)
    -0.25
    """
    resolution, bins_per_octave = _check_tuning_args(resolution, bins_per_octave)
    with torch.no_grad():
        pitch, mag = piptrack(y, sr=sr, S=S, n_fft=n_fft, **kwargs)
        batch = pitch.shape[:-2]
        pitch = pitch.reshape(-1, pitch.shape[-2] * pitch.shape[-1])
        mag = mag.reshape(pitch.shape)
        has_pitch = pitch > 0
        threshold = _masked_median(mag, has_pitch)
        selected = (mag >= threshold[:, None]) & has_pitch
        return _tuning_of(pitch, selected, resolution, bins_per_octave).reshape(batch)
