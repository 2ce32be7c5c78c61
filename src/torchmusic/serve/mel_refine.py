"""Mel-consistency refinement: pull a waveform's log-mel towards a target log-mel.

A vocoder trained on a CPU budget gets the phase and the fine structure roughly
right but the band energies only approximately (``music-vocoder``: 2.5 dB log-mel L1
on held-out music). This post-filter repeats a Griffin-Lim-like step that keeps the
current phase and corrects the magnitudes so the *mel* matches the target:

1. ``X = STFT(x)``; ``M = mel_basis @ |X|**power``;
2. per mel band and frame, ``r = target / M`` (never raised where the target sits at
   the ``top_db`` floor, whose true level is unknown);
3. each linear bin's gain is the filterbank-weighted mean of the ratios of the bands
   covering it; ``X *= gain ** (1 / power)``;
4. ``x = ISTFT(X)``.

Unlike librosa's ``mel_to_audio`` (one least-squares mel inversion, then Griffin-Lim
on those fixed magnitudes), the magnitudes are re-estimated from the current signal at
every step, and the start is the vocoder's output rather than random phase. Written by
hand because no library offers this step for a given mel filterbank; see
docs/vocoder.md for what it buys (benchmarks/vocoder.py rows ``+refine N``).
"""

from __future__ import annotations

import torch

from torchmusic.errors import ParameterError
from torchmusic.features.config import FeatureConfig

__all__ = ["refine_to_mel"]

#: Limits of the per-step gain, so a silent bin cannot be raised without bound.
_GAIN_RANGE = (1e-4, 1e4)


def refine_to_mel(
    audio: torch.Tensor,
    mel_db: torch.Tensor,
    *,
    feature: FeatureConfig,
    n_iter: int,
    floor_db: torch.Tensor | float | None = None,
) -> torch.Tensor:
    """``audio`` after ``n_iter`` mel-consistency steps towards ``mel_db`` (module docstring).

    Parameters
    ----------
    audio : torch.Tensor, shape ``(..., samples)``
        Float waveform at ``feature.sr`` (e.g. a vocoder's output for ``mel_db``).
    mel_db : torch.Tensor, shape ``(..., n_mels, frames)``
        The target log-mel, computed with ``feature`` (a ``logmel`` config).
    feature : FeatureConfig
    n_iter : int
        Steps (0 returns ``audio`` unchanged).
    floor_db : torch.Tensor or float, optional
        Target values at or below this level count as clamped by ``top_db`` (only
        ever lowered towards). Default: each item's peak minus ``feature.top_db``;
        a chunk of a longer mel should pass the whole mel's floor (shape
        ``(..., 1, 1)``), so every chunk treats the same cells alike.

    Returns
    -------
    torch.Tensor
        Same shape and dtype as ``audio``.

    Examples
    --------
    >>> f = FeatureConfig()
    >>> y = torch.randn(22050)
    >>> refine_to_mel(0.1 * torch.randn(22050), f.compute(y), feature=f, n_iter=4).shape
    torch.Size([22050])
    """
    if isinstance(n_iter, bool) or not isinstance(n_iter, int) or n_iter < 0:
        raise ParameterError(f"n_iter={n_iter!r} must be an integer >= 0")
    if feature.kind != "logmel":
        raise ParameterError(f"mel refinement needs a logmel feature, got kind={feature.kind!r}")
    if n_iter == 0:
        return audio
    from torchmusic.features.db import db_to_power
    from torchmusic.features.filters import mel_basis
    from torchmusic.features.spectrum import window_tensor

    dtype = audio.dtype
    x = audio.to(torch.float32)
    n = x.shape[-1]
    target = db_to_power(mel_db.to(torch.float32).to(x.device))
    frames = target.shape[-1]
    # Where the target was clamped by top_db, its true level is anything below: only lower.
    if floor_db is None and feature.top_db is not None:
        floor_db = mel_db.amax(dim=(-2, -1), keepdim=True) - float(feature.top_db)
    if floor_db is not None:
        floor = torch.as_tensor(floor_db, dtype=mel_db.dtype, device=mel_db.device)
        at_floor = (mel_db <= floor + 1e-3).to(x.device)
    else:
        at_floor = torch.zeros_like(target, dtype=torch.bool)
    basis = mel_basis(n_fft=feature.n_fft, **feature.filterbank_kwargs()).to(
        x.device, torch.float32
    )
    cover = basis.sum(0).clamp_min(1e-12)[:, None]
    # The analysis window of the features (zero-padded to n_fft), so both sides agree.
    window = window_tensor(
        feature.window,
        feature.win_length or feature.n_fft,
        feature.n_fft,
        dtype=torch.float32,
        device=x.device,
    )
    stft = dict(n_fft=feature.n_fft, hop_length=feature.hop_length, window=window)
    lead = x.shape[:-1]
    x = x.reshape(-1, n)
    target = target.reshape(-1, *target.shape[-2:])
    at_floor = at_floor.reshape(-1, *at_floor.shape[-2:])
    power = float(feature.power)
    for _ in range(n_iter):
        X = torch.stft(
            x, center=feature.center, pad_mode=feature.pad_mode, return_complex=True, **stft
        )
        t = min(frames, X.shape[-1])
        mel = basis @ X[..., :t].abs().pow(power)
        ratio = target[..., :t] / mel.clamp_min(1e-20)
        ratio = torch.where(at_floor[..., :t], ratio.clamp(max=1.0), ratio)
        gain = torch.ones(X.shape, dtype=torch.float32, device=x.device)
        gain[..., :t] = (basis.T @ ratio) / cover
        X = X * gain.clamp(*_GAIN_RANGE).pow(1.0 / power)
        x = torch.istft(X, center=feature.center, length=n, **stft)
    return x.reshape(*lead, n).to(dtype)
