"""Chromagrams from a power spectrogram, equal to ``librosa.feature.chroma_stft``."""

from __future__ import annotations

import math

import torch

from torchmusic.features import _validate
from torchmusic.features._util import cpu_inference_threads, normalize
from torchmusic.features.filters import chroma_basis
from torchmusic.features.spectrum import WindowSpec, _spectrogram
from torchmusic.features.tuning import estimate_tuning


@cpu_inference_threads
def chroma_stft(
    y: torch.Tensor | None = None,
    *,
    sr: float = 22050,
    S: torch.Tensor | None = None,
    norm: float | None = math.inf,
    n_fft: int = 2048,
    hop_length: int | None = 512,
    win_length: int | None = None,
    window: WindowSpec = "hann",
    center: bool = True,
    pad_mode: str = "constant",
    tuning: float | None = None,
    n_chroma: int = 12,
    ctroct: float = 5.0,
    octwidth: float | None = 2,
    base_c: bool = True,
) -> torch.Tensor:
    """Chromagram of a power spectrogram, equal to ``librosa.feature.chroma_stft``.

    Parameters
    ----------
    y : torch.Tensor, shape ``(..., samples)``, optional
        Audio. Give either ``y`` or ``S``.
    sr : float
        Sample rate (Hz).
    S : torch.Tensor, shape ``(..., 1 + n_fft // 2, frames)``, optional
        Power spectrogram.
    norm : float or None
        Norm of each chroma vector (``inf``: max = 1; see ``librosa.util.normalize``).
    n_fft, hop_length, win_length, window, center, pad_mode
        STFT settings (see :func:`~torchmusic.features.stft`).
    tuning : float or None
        Deviation from A440 in fractions of a chroma bin; ``None`` estimates it
        from ``S`` with :func:`~torchmusic.features.estimate_tuning`, separately for
        each item of a batch.
    n_chroma : int
        Chroma bins per octave.
    ctroct, octwidth, base_c
        Filterbank settings (see :func:`~torchmusic.features.chroma_filterbank`).

    Returns
    -------
    torch.Tensor, shape ``(..., n_chroma, frames)``
        Same dtype and device as the input.

    Examples
    --------
    >>> chroma_stft(torch.randn(2, 22050)).shape
    torch.Size([2, 12, 44])
    """
    S, n_fft = _spectrogram(
        y,
        S,
        n_fft=n_fft,
        hop_length=hop_length,
        power=2.0,
        win_length=win_length,
        window=window,
        center=center,
        pad_mode=pad_mode,
    )
    norm = _validate.norm_value("norm", norm, allow_slaney=False)  # type: ignore[assignment]
    n_chroma = _validate.positive_int("n_chroma", n_chroma)
    basis_kw = dict(
        sr=sr,
        n_fft=n_fft,
        n_chroma=n_chroma,
        ctroct=ctroct,
        octwidth=octwidth,
        base_c=base_c,
        device=S.device,
    )
    if tuning is not None:
        basis = chroma_basis(tuning=_validate.finite_number("tuning", tuning), **basis_kw)
    else:
        tunings = estimate_tuning(S=S, sr=sr, bins_per_octave=n_chroma)
        # One filterbank per item, shaped (..., n_chroma, bins) to match S's batch.
        banks = [chroma_basis(tuning=t, **basis_kw) for t in tunings.reshape(-1).tolist()]
        basis = torch.stack(banks).reshape(*tunings.shape, *banks[0].shape)
    raw = torch.matmul(basis.to(S.dtype), S)
    return normalize(raw, norm=norm, dim=-2)  # type: ignore[arg-type]
