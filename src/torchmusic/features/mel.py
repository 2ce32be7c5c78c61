"""Mel spectrograms, equal to ``librosa.feature.melspectrogram``."""

from __future__ import annotations

import torch

from torchmusic.features import _validate
from torchmusic.features._util import cpu_inference_threads
from torchmusic.features.filters import mel_basis
from torchmusic.features.spectrum import (
    WindowSpec,
    _spectrogram,
    blocked_spectrogram,
    use_blocked_path,
)


def apply_filterbank(basis: torch.Tensor, S: torch.Tensor) -> torch.Tensor:
    """Project ``S`` of shape ``(..., bins, frames)`` with ``basis`` ``(bands, bins)``.

    The basis is cast to ``S``'s dtype and device, so a float32 filterbank (what
    librosa uses even for float64 input) serves every precision.
    """
    return torch.matmul(basis.to(S.device, S.dtype), S)


@cpu_inference_threads
def melspectrogram(
    y: torch.Tensor | None = None,
    *,
    sr: float = 22050,
    S: torch.Tensor | None = None,
    n_fft: int = 2048,
    hop_length: int | None = 512,
    win_length: int | None = None,
    window: WindowSpec = "hann",
    center: bool = True,
    pad_mode: str = "constant",
    power: float = 2.0,
    n_mels: int = 128,
    fmin: float = 0.0,
    fmax: float | None = None,
    htk: bool = False,
    norm: str | float | None = "slaney",
) -> torch.Tensor:
    """Mel-scaled spectrogram, equal to ``librosa.feature.melspectrogram``.

    Parameters
    ----------
    y : torch.Tensor, shape ``(..., samples)``, optional
        Audio (float32 or float64). Give either ``y`` or ``S``.
    sr : float
        Sample rate of ``y`` (Hz).
    S : torch.Tensor, shape ``(..., 1 + n_fft // 2, frames)``, optional
        A precomputed magnitude/power spectrogram; ``n_fft`` is inferred from its
        bins when they do not match.
    n_fft, hop_length, win_length, window, center, pad_mode
        STFT settings, see :func:`~torchmusic.features.stft`.
    power : float
        Exponent of the magnitude spectrogram computed from ``y`` (2: power).
    n_mels, fmin, fmax, htk, norm
        Filterbank settings, see :func:`~torchmusic.features.mel_filterbank`.

    Returns
    -------
    torch.Tensor, shape ``(..., n_mels, frames)``
        Same dtype and device as the input.

    Examples
    --------
    >>> melspectrogram(torch.randn(3, 22050), n_mels=64).shape
    torch.Size([3, 64, 44])
    """
    if S is None and use_blocked_path(y):
        # CPU inference: project each block of frames straight to mel bands instead
        # of materialising the whole spectrogram (see blocked_spectrogram).
        _validate.one_input(y, S)
        basis = mel_basis(
            sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=htk, norm=norm
        )
        return blocked_spectrogram(
            y,  # type: ignore[arg-type]
            power=power,
            n_fft=n_fft,
            hop_length=hop_length,
            win_length=win_length,
            window=window,
            center=center,
            pad_mode=pad_mode,
            project=basis,
        )
    S, n_fft = _spectrogram(
        y,
        S,
        n_fft=n_fft,
        hop_length=hop_length,
        power=power,
        win_length=win_length,
        window=window,
        center=center,
        pad_mode=pad_mode,
    )
    # float32 like librosa's default filter dtype, even for float64 input.
    basis = mel_basis(
        sr=sr,
        n_fft=n_fft,
        n_mels=n_mels,
        fmin=fmin,
        fmax=fmax,
        htk=htk,
        norm=norm,
        device=S.device,
    )
    return apply_filterbank(basis, S)
