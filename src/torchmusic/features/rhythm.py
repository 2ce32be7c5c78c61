"""Onset strength and the autocorrelation tempogram, equal to librosa's.

``onset_strength`` is ``librosa.onset.onset_strength`` with its defaults (spectral flux
of the dB mel spectrogram, averaged over bands); ``tempogram`` is
``librosa.feature.tempogram`` (the windowed autocorrelation of the onset envelope
around every frame, normalised per frame). Both are batched over leading dimensions;
the rhythm descriptor of the ``music-embed`` embedder is built on them
(:mod:`torchmusic.embed.rhythm`).
"""

from __future__ import annotations

import math

import torch

from torchmusic.errors import ParameterError
from torchmusic.features import _validate
from torchmusic.features._util import normalize
from torchmusic.features.db import power_to_db
from torchmusic.features.mel import melspectrogram

__all__ = ["onset_strength", "tempogram"]

#: Frames of onset envelope autocorrelated per FFT batch in :func:`tempogram` (bounds
#: memory on long tracks: ~4096 x 1024 complex values at a time).
_FRAME_BLOCK = 4096


def onset_strength(
    y: torch.Tensor,
    *,
    sr: float = 22050,
    n_fft: int = 2048,
    hop_length: int = 512,
    n_mels: int = 128,
    lag: int = 1,
    center: bool = True,
) -> torch.Tensor:
    """Spectral-flux onset strength, equal to ``librosa.onset.onset_strength``.

    The dB mel spectrogram (``power_to_db`` of ``melspectrogram``, top_db 80 per
    item), its increase over ``lag`` frames clipped at zero, averaged over bands;
    padded at the start by ``lag`` (and ``n_fft // (2 * hop_length)`` frames when
    ``center``) so that onsets line up with the audio, and cut to the spectrogram's
    frame count.

    Parameters
    ----------
    y : torch.Tensor, shape ``(..., samples)``
        Audio (float32 or float64).
    sr : float
        Sample rate (Hz).
    n_fft, hop_length, n_mels : int
        Mel spectrogram settings.
    lag : int
        Frames between the compared spectra (>= 1).
    center : bool
        Shift the envelope by ``n_fft // (2 * hop_length)`` frames to undo the
        spectrogram's centring and cut it to the spectrogram's length (librosa's
        ``center``; the spectrogram itself is centred either way).

    Returns
    -------
    torch.Tensor, shape ``(..., frames)``
        ``frames = 1 + samples // hop_length`` (one more without ``center``).

    Examples
    --------
    >>> onset_strength(torch.randn(2, 22050)).shape
    torch.Size([2, 44])
    """
    y = _validate.audio(y)
    lag = _validate.positive_int("lag", lag)
    hop_length = _validate.positive_int("hop_length", hop_length)
    S = power_to_db(
        # librosa frames the spectrogram centred either way: ``center`` only moves the
        # envelope (the padding below), as there.
        melspectrogram(y, sr=sr, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels)
    )
    frames = S.shape[-1]
    if frames <= lag:
        raise ParameterError(
            f"onset strength needs more than lag={lag} frames; the signal of "
            f"{y.shape[-1]} samples gives {frames}"
        )
    env = torch.clamp(S[..., lag:] - S[..., :-lag], min=0.0).mean(dim=-2)
    pad = lag + (n_fft // (2 * hop_length) if center else 0)
    env = torch.nn.functional.pad(env, (pad, 0))
    return env[..., :frames] if center else env


def _linear_ramp_pad(x: torch.Tensor, width: int) -> torch.Tensor:
    """``np.pad(x, width, mode="linear_ramp", end_values=0)`` on the last axis."""
    if width == 0:
        return x
    ramp = torch.arange(width, dtype=x.dtype, device=x.device) / width  # 0 .. (w-1)/w
    left = x[..., :1] * ramp
    right = x[..., -1:] * ramp.flip(0)
    return torch.cat([left, x, right], dim=-1)


def tempogram(
    onset_envelope: torch.Tensor,
    *,
    win_length: int = 384,
    center: bool = True,
    norm: float | None = math.inf,
) -> torch.Tensor:
    """Autocorrelation tempogram, equal to ``librosa.feature.tempogram``.

    Around every frame, ``win_length`` frames of the onset envelope are weighted by
    a periodic Hann window and autocorrelated; each frame's autocorrelation is then
    normalised (``norm``: max-abs by default, so lag 0 is 1).

    Parameters
    ----------
    onset_envelope : torch.Tensor, shape ``(..., frames)``
        From :func:`onset_strength`.
    win_length : int
        Lags (and window length) in frames; 384 frames of 512 samples at 22,050 Hz
        is 8.9 s.
    center : bool
        Windows centred on their frame (the envelope is padded with linear ramps to 0).
    norm : float or None
        Per-frame normalisation, as ``librosa.util.normalize``.

    Returns
    -------
    torch.Tensor, shape ``(..., win_length, frames)``
        Lag ``k`` in row ``k``.

    Examples
    --------
    >>> tempogram(torch.rand(2, 500)).shape
    torch.Size([2, 384, 500])
    """
    env = _validate.audio(onset_envelope, "onset_envelope")
    win_length = _validate.positive_int("win_length", win_length)
    n = env.shape[-1]
    if center:
        env = _linear_ramp_pad(env, win_length // 2)
    if env.shape[-1] < win_length:
        raise ParameterError(
            f"onset_envelope has {n} frames; tempogram needs at least win_length="
            f"{win_length} (or center=True)"
        )
    frames = env.unfold(-1, win_length, 1)  # (..., n_frames, win_length)
    if center:
        frames = frames[..., :n, :]
    window = torch.hann_window(win_length, periodic=True, dtype=env.dtype, device=env.device)
    # Any FFT length >= 2 * win_length - 1 gives the same linear autocorrelation.
    n_fft = 1 << (2 * win_length - 1).bit_length()
    blocks = []
    for start in range(0, frames.shape[-2], _FRAME_BLOCK):
        block = frames[..., start : start + _FRAME_BLOCK, :] * window
        spec = torch.fft.rfft(block, n=n_fft, dim=-1)
        blocks.append(
            torch.fft.irfft(spec.real**2 + spec.imag**2, n=n_fft, dim=-1)[..., :win_length]
        )
    ac = torch.cat(blocks, dim=-2).transpose(-1, -2)
    return normalize(ac, norm=norm, dim=-2)
