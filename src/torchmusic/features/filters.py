"""Mel and chroma filterbanks, equal to ``librosa.filters.mel`` / ``librosa.filters.chroma``.

Filterbanks depend only on their parameters, so each is built once per
(parameters, device, dtype) and kept in an LRU cache. The public functions return
a fresh copy, so a caller editing the result in place cannot corrupt the cache;
the feature functions use the cached tensor read-only.

Filterbanks are built in float64 on the CPU following librosa's arithmetic step by
step, including its intermediate rounding to ``dtype`` (librosa builds the
triangles straight into a float32 array and normalises afterwards), so the float32
result matches librosa to the last bit or two.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch

from torchmusic.errors import ParameterError
from torchmusic.features import _validate
from torchmusic.features._util import device_key, normalize, numpy_linspace, tensor_cache
from torchmusic.features.convert import fft_frequencies, hz_to_octs, mel_frequencies

# Up to this many distinct filterbanks (per kind) stay cached; chroma needs room
# for one bank per estimated tuning (a 0.01-bin grid).
_CACHE_SIZE = 256


# -- mel -----------------------------------------------------------------------------
def _build_mel(
    sr: float,
    n_fft: int,
    n_mels: int,
    fmin: float,
    fmax: float,
    htk: bool,
    norm: str | float | None,
    dtype: torch.dtype,
) -> torch.Tensor:
    fftfreqs = fft_frequencies(sr=sr, n_fft=n_fft)
    mel_f = mel_frequencies(n_mels + 2, fmin=fmin, fmax=fmax, htk=htk)
    fdiff = torch.diff(mel_f)
    ramps = mel_f[:, None] - fftfreqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    # librosa stores the triangles in a `dtype` array before normalising: round here too.
    weights = torch.clamp(torch.minimum(lower, upper), min=0.0).to(dtype).to(torch.float64)
    if norm == "slaney":
        # Slaney-style: divide by band width so each filter has ~constant energy.
        enorm = 2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels])
        weights = weights * enorm[:, None]
    else:
        weights = normalize(weights, norm=norm, dim=-1)  # type: ignore[arg-type]
    empty = ~((mel_f[:-2] == 0) | (weights.amax(dim=1) > 0))
    if bool(empty.any()):
        warnings.warn(
            f"Empty filters detected in mel frequency basis (bands {empty.nonzero().flatten().tolist()} "
            f"for sr={sr}, n_fft={n_fft}, n_mels={n_mels}, fmin={fmin}, fmax={fmax}); "
            "those channels are always 0. Increase n_fft or reduce n_mels.",
            stacklevel=5,
        )
    return weights.to(dtype)


@tensor_cache(maxsize=_CACHE_SIZE)
def _mel_cached(
    sr: float,
    n_fft: int,
    n_mels: int,
    fmin: float,
    fmax: float,
    htk: bool,
    norm: str | float | None,
    dtype: torch.dtype,
    device: torch.device,
) -> torch.Tensor:
    return _build_mel(sr, n_fft, n_mels, fmin, fmax, htk, norm, dtype).to(device)


def _mel_args(
    sr: Any, n_fft: Any, n_mels: Any, fmin: Any, fmax: Any, htk: Any, norm: Any
) -> tuple[float, int, int, float, float, bool, str | float | None]:
    n_fft = _validate.positive_int("n_fft", n_fft)
    n_mels = _validate.positive_int("n_mels", n_mels)
    sr, fmin, fmax = _validate.freq_range(sr=sr, fmin=fmin, fmax=fmax)
    if n_mels > n_fft // 2 + 1:
        raise ParameterError(
            f"n_mels={n_mels} must be <= the number of FFT bins n_fft//2+1={n_fft // 2 + 1} "
            f"(n_fft={n_fft})"
        )
    if not isinstance(htk, bool):
        raise ParameterError(f"htk={htk!r} must be True or False")
    norm = _validate.norm_value("norm", norm, allow_slaney=True)
    return sr, n_fft, n_mels, fmin, fmax, htk, norm


def mel_basis(
    *,
    sr: float,
    n_fft: int,
    n_mels: int = 128,
    fmin: float = 0.0,
    fmax: float | None = None,
    htk: bool = False,
    norm: str | float | None = "slaney",
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """The cached mel filterbank itself: treat it as read-only (see :func:`mel_filterbank`)."""
    args = _mel_args(sr, n_fft, n_mels, fmin, fmax, htk, norm)
    return _mel_cached(*args, dtype, device_key(device))


def mel_filterbank(
    *,
    sr: float,
    n_fft: int,
    n_mels: int = 128,
    fmin: float = 0.0,
    fmax: float | None = None,
    htk: bool = False,
    norm: str | float | None = "slaney",
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Mel filterbank matrix, equal to ``librosa.filters.mel``.

    Parameters
    ----------
    sr : float
        Sample rate of the audio (Hz).
    n_fft : int
        FFT size.
    n_mels : int
        Number of mel bands; at most ``n_fft // 2 + 1``.
    fmin, fmax : float
        Lowest and highest frequency (Hz); ``fmax=None`` is ``sr / 2``.
    htk : bool
        HTK mel scale instead of Slaney's.
    norm : {'slaney', None} or float
        ``'slaney'`` divides each triangle by its width (constant energy per band);
        a number ``p`` normalises each filter to unit p-norm; ``None`` leaves peaks at 1.
    dtype : torch.dtype
        Output dtype. float32 (librosa's default) is what the features use.
    device : torch.device or str, optional
        Output device.

    Returns
    -------
    torch.Tensor, shape ``(n_mels, n_fft // 2 + 1)``
        A new tensor (safe to modify); the cached original is never handed out.

    Examples
    --------
    >>> mel_filterbank(sr=22050, n_fft=2048, n_mels=64).shape
    torch.Size([64, 1025])
    """
    return mel_basis(
        sr=sr,
        n_fft=n_fft,
        n_mels=n_mels,
        fmin=fmin,
        fmax=fmax,
        htk=htk,
        norm=norm,
        dtype=dtype,
        device=device,
    ).clone()


# -- chroma --------------------------------------------------------------------------
def _build_chroma(
    sr: float,
    n_fft: int,
    n_chroma: int,
    tuning: float,
    ctroct: float,
    octwidth: float | None,
    norm: float | None,
    base_c: bool,
    dtype: torch.dtype,
) -> torch.Tensor:
    # FFT bin frequencies without DC, as fractional chroma bins.
    frequencies = numpy_linspace(0, sr, n_fft, endpoint=False)[1:]
    frqbins = n_chroma * hz_to_octs(frequencies, tuning=tuning, bins_per_octave=n_chroma)
    # Make up a value for the 0 Hz bin: 1.5 octaves below bin 1, so its bump is broad.
    frqbins = torch.cat([frqbins[:1] - 1.5 * n_chroma, frqbins])
    binwidthbins = torch.cat(
        [torch.clamp(frqbins[1:] - frqbins[:-1], min=1.0), torch.ones(1, dtype=torch.float64)]
    )
    D = frqbins[None, :] - torch.arange(n_chroma, dtype=torch.float64)[:, None]
    n_chroma2 = float(round(n_chroma / 2))  # round-half-even, like np.round
    # Wrap into [-n_chroma/2, n_chroma/2); the 10*n_chroma offset keeps values positive.
    D = torch.remainder(D + n_chroma2 + 10 * n_chroma, n_chroma) - n_chroma2
    # Gaussian bumps; 2*D makes them narrower.
    wts = torch.exp(-0.5 * (2 * D / binwidthbins[None, :]) ** 2)
    wts = normalize(wts, norm=norm, dim=0)
    if octwidth is not None:
        # Emphasise the octaves around ctroct.
        wts = wts * torch.exp(-0.5 * ((frqbins / n_chroma - ctroct) / octwidth) ** 2)[None, :]
    if base_c:
        wts = torch.roll(wts, -3 * (n_chroma // 12), dims=0)
    # Drop the aliased negative-frequency half.
    return wts[:, : int(1 + n_fft / 2)].contiguous().to(dtype)


@tensor_cache(maxsize=_CACHE_SIZE)
def _chroma_cached(
    sr: float,
    n_fft: int,
    n_chroma: int,
    tuning: float,
    ctroct: float,
    octwidth: float | None,
    norm: float | None,
    base_c: bool,
    dtype: torch.dtype,
    device: torch.device,
) -> torch.Tensor:
    return _build_chroma(sr, n_fft, n_chroma, tuning, ctroct, octwidth, norm, base_c, dtype).to(
        device
    )


def _chroma_args(
    sr: Any,
    n_fft: Any,
    n_chroma: Any,
    tuning: Any,
    ctroct: Any,
    octwidth: Any,
    norm: Any,
    base_c: Any,
) -> tuple[float, int, int, float, float, float | None, float | None, bool]:
    sr = _validate.positive_number("sr", sr)
    n_fft = _validate.positive_int("n_fft", n_fft)
    n_chroma = _validate.positive_int("n_chroma", n_chroma)
    tuning = _validate.finite_number("tuning", tuning)
    ctroct = _validate.finite_number("ctroct", ctroct)
    if octwidth is not None:
        octwidth = _validate.positive_number("octwidth", octwidth)
    norm = _validate.norm_value("norm", norm, allow_slaney=False)
    if not isinstance(base_c, bool):
        raise ParameterError(f"base_c={base_c!r} must be True or False")
    return sr, n_fft, n_chroma, tuning, ctroct, octwidth, norm, base_c  # type: ignore[return-value]


def chroma_basis(
    *,
    sr: float,
    n_fft: int,
    n_chroma: int = 12,
    tuning: float = 0.0,
    ctroct: float = 5.0,
    octwidth: float | None = 2,
    norm: float | None = 2,
    base_c: bool = True,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """The cached chroma filterbank itself: read-only (see :func:`chroma_filterbank`)."""
    args = _chroma_args(sr, n_fft, n_chroma, tuning, ctroct, octwidth, norm, base_c)
    return _chroma_cached(*args, dtype, device_key(device))


def chroma_filterbank(
    *,
    sr: float,
    n_fft: int,
    n_chroma: int = 12,
    tuning: float = 0.0,
    ctroct: float = 5.0,
    octwidth: float | None = 2,
    norm: float | None = 2,
    base_c: bool = True,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Chroma filterbank matrix, equal to ``librosa.filters.chroma``.

    Parameters
    ----------
    sr : float
        Sample rate (Hz).
    n_fft : int
        FFT size.
    n_chroma : int
        Number of chroma bins per octave.
    tuning : float
        Tuning deviation from A440 in fractions of a chroma bin.
    ctroct, octwidth : float
        Centre (octaves above A0) and Gaussian half-width (octaves) of the
        octave weighting; ``octwidth=None`` weights all octaves equally.
    norm : float or None
        Norm of each column (FFT bin) before octave weighting (2: unit energy).
    base_c : bool
        Start the chroma scale at C (True) or A (False).
    dtype : torch.dtype
        Output dtype (float32 is librosa's default and what the features use).
    device : torch.device or str, optional
        Output device.

    Returns
    -------
    torch.Tensor, shape ``(n_chroma, 1 + n_fft // 2)``
        A new tensor (safe to modify).

    Examples
    --------
    >>> chroma_filterbank(sr=22050, n_fft=2048).shape
    torch.Size([12, 1025])
    """
    return chroma_basis(
        sr=sr,
        n_fft=n_fft,
        n_chroma=n_chroma,
        tuning=tuning,
        ctroct=ctroct,
        octwidth=octwidth,
        norm=norm,
        base_c=base_c,
        dtype=dtype,
        device=device,
    ).clone()


def cache_info() -> dict[str, Any]:
    """``functools`` cache statistics of the filterbank caches, by kind.

    Examples
    --------
    >>> sorted(cache_info())
    ['chroma', 'mel']
    """
    return {"mel": _mel_cached.cache_info(), "chroma": _chroma_cached.cache_info()}


def cache_clear() -> None:
    """Empty the filterbank caches (e.g. to free GPU memory)."""
    _mel_cached.cache_clear()
    _chroma_cached.cache_clear()


__all__ = [
    "cache_clear",
    "cache_info",
    "chroma_basis",
    "chroma_filterbank",
    "mel_basis",
    "mel_filterbank",
]
