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
    items, bins, frames, hz, mag = _peaks(
        S, sr=sr, n_fft=n_fft, fmin=fmin, fmax=fmax, threshold=threshold, ref=ref
    )
    flat = S.reshape(-1, *S.shape[-2:])
    pitches = torch.zeros(flat.shape, dtype=S.dtype, device=S.device)
    magnitudes = torch.zeros_like(pitches)
    pitches[items, bins, frames] = hz
    magnitudes[items, bins, frames] = mag
    return pitches.reshape(S.shape), magnitudes.reshape(S.shape)


def _peaks(
    S: torch.Tensor,
    *,
    sr: Any,
    n_fft: int,
    fmin: Any,
    fmax: Any,
    threshold: Any,
    ref: float | Callable[..., Any] | None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """piptrack's peaks as ``(item, bin, frame, Hz, magnitude)``, five 1-D tensors.

    ``item`` indexes ``S`` flattened to ``(items, bins, frames)``. Why not whole
    arrays as librosa does: peaks are a few percent of the bins, and only bins inside
    ``[fmin, fmax)`` can be peaks. So the peak test runs on that band (plus one
    neighbour each side, which is all a bin's test looks at) and the interpolation
    only at the peaks, with librosa's formulas and order of operations: the same
    numbers, ~10x less work than full-size float64 passes.
    """
    sr = _validate.positive_number("sr", sr)
    threshold = _validate.finite_number("threshold", threshold)
    fmin = max(_validate.finite_number("fmin", fmin), 0.0)
    fmax = min(_validate.finite_number("fmax", fmax), sr / 2)
    flat = S.reshape(-1, *S.shape[-2:])
    n_bins = flat.shape[-2]
    fft_freqs = fft_frequencies(sr=sr, n_fft=n_fft, device=S.device)
    in_band = torch.nonzero((fmin <= fft_freqs) & (fft_freqs < fmax)).flatten()
    if in_band.numel() == 0:
        none = torch.zeros(0, dtype=torch.int64, device=S.device)
        empty = flat.new_zeros(0)
        return none, none, none, empty, empty
    lo, hi = int(in_band[0]), int(in_band[-1]) + 1
    if ref is None:
        # max |S| per frame without materialising |S|.
        peak = torch.maximum(flat.amax(dim=-2, keepdim=True), -flat.amin(dim=-2, keepdim=True))
        ref_value: torch.Tensor | float = threshold * peak
    elif callable(ref):
        out = ref(flat.abs(), dim=-2, keepdim=True)
        # torch.max(..., dim=) returns (values, indices).
        ref_value = threshold * (out if isinstance(out, torch.Tensor) else out.values)
    else:
        ref_value = abs(_validate.finite_number("ref", ref))
    # The band with one neighbour each side; at the spectrum's ends the slice's edges
    # are the true edges, where _localmax applies librosa's edge rules.
    a, b = max(lo - 1, 0), min(hi + 1, n_bins)
    part = flat[:, a:b].abs()
    peaks = _localmax(part * (part > ref_value))[:, lo - a : hi - a]
    items, rel, frames = torch.nonzero(peaks, as_tuple=True)
    bins = rel + lo
    mid = flat[items, bins, frames].abs()
    left = flat[items, (bins - 1).clamp(min=0), frames].abs()
    right = flat[items, (bins + 1).clamp(max=n_bins - 1), frames].abs()
    interior = (bins > 0) & (bins < n_bins - 1)
    # np.gradient: central differences inside, one-sided at the two ends.
    avg = torch.where(interior, (right - left) / 2, torch.where(bins == 0, right - mid, mid - left))
    # librosa's __parabolic_interpolation (0 at the ends and where |b| >= |a|).
    pa = (right + left).double() - 2 * mid.double()
    pb = (right - left).double() / 2
    keep = interior & (pb.abs() < pa.abs())
    shift = torch.where(keep, -pb / torch.where(keep, pa, torch.ones_like(pa)), 0.0).to(S.dtype)
    dskew = 0.5 * avg * shift
    # librosa: (int bin + float32 shift) promotes to float64 before scaling to Hz.
    hz = ((bins.double() + shift.double()) * float(sr) / n_fft).to(S.dtype)
    return items, bins, frames, hz, mid + dskew


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
        S, n_fft = _spectrogram(y, S, n_fft=n_fft, power=1.0, **_stft_kwargs(kwargs))
        items, _, _, hz, mag = _peaks(S, sr=sr, n_fft=n_fft, **_peak_kwargs(kwargs))
        batch = S.shape[:-2]
        n_items = math.prod(batch)
        # Only peaks with a positive frequency count (piptrack's pitches > 0); the
        # median and the histogram work on those few values per item.
        has_pitch = hz > 0
        items, hz, mag = items[has_pitch], hz[has_pitch], mag[has_pitch]
        rows = []
        for i in range(n_items):
            mine = items == i
            freqs, mags = hz[mine], mag[mine]
            if freqs.numel():
                freqs = freqs[mags >= _median(mags)]
            rows.append(freqs)
        width = max(1, max(r.numel() for r in rows))
        chosen = torch.zeros(len(rows), width, dtype=hz.dtype, device=hz.device)
        for i, r in enumerate(rows):
            chosen[i, : r.numel()] = r
        return _tuning_of(chosen, chosen > 0, resolution, bins_per_octave).reshape(batch)


_PEAK_KEYS = ("fmin", "fmax", "threshold", "ref")
_STFT_KEYS = ("hop_length", "win_length", "window", "center", "pad_mode")


def _peak_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(kwargs) - set(_PEAK_KEYS) - set(_STFT_KEYS))
    if unknown:
        raise ParameterError(
            f"unexpected estimate_tuning setting(s) {unknown}; expected piptrack's "
            f"{sorted(_PEAK_KEYS + _STFT_KEYS)}"
        )
    defaults = {"fmin": 150.0, "fmax": 4000.0, "threshold": 0.1, "ref": None}
    return {k: kwargs.get(k, v) for k, v in defaults.items()}


def _stft_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    # piptrack's STFT defaults (hop_length=None: win_length // 4, as librosa.piptrack).
    defaults = {
        "hop_length": None,
        "win_length": None,
        "window": "hann",
        "center": True,
        "pad_mode": "constant",
    }
    return {k: kwargs.get(k, v) for k, v in defaults.items()}


def _median(values: torch.Tensor) -> torch.Tensor:
    """``np.median`` of a 1-D tensor: the two middle values averaged in its dtype."""
    ordered = values.sort().values
    n = ordered.numel()
    return (ordered[(n - 1) // 2] + ordered[n // 2]) / 2
