"""Pieces shared by the embedding networks: per-clip input normalisation and conv stacks."""

from __future__ import annotations

import torch
from torch import nn

from torchmusic.models.classify._common import halving_plan


def standardize_clips(x: torch.Tensor, *, eps: float = 1e-5) -> torch.Tensor:
    """Each clip of ``x`` ``(batch, n_mels, frames)`` shifted to zero mean and unit variance.

    Per-clip statistics (rather than a learnt BatchNorm) keep an embedding file
    self-contained and make embeddings independent of the clip's loudness offset
    in dB, which says little about what the music sounds like. It is also the
    target the autoencoder reconstructs, so its loss has the same scale for every clip.

    Examples
    --------
    >>> z = standardize_clips(torch.randn(2, 8, 10) * 5 + 3)
    >>> bool(z.mean(dim=(1, 2)).abs().max() < 1e-5)
    True
    """
    mean = x.mean(dim=(-2, -1), keepdim=True)
    std = x.std(dim=(-2, -1), keepdim=True, unbiased=False)
    return (x - mean) / (std + eps)


def conv_stack(
    channels: tuple[int, ...], *, n_mels: int, n_frames: int
) -> tuple[nn.Sequential, tuple[int, int, int]]:
    """Conv3x3 + BatchNorm + ReLU + max-pool blocks, and the output size ``(C, F, T)``.

    Pools halve each dimension until it reaches 1 (:func:`halving_plan`), so short
    clips and few mel bands still fit.
    """
    layers: list[nn.Module] = []
    c_in, f, t = 1, n_mels, n_frames
    for pf, pt, c_out in zip(
        halving_plan(f, len(channels)), halving_plan(t, len(channels)), channels, strict=True
    ):
        layers += [
            nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
            nn.MaxPool2d((pf, pt)),
        ]
        c_in, f, t = c_out, f // pf, t // pt
    return nn.Sequential(*layers), (c_in, f, t)


def check_embedding_input(owner: str, x: torch.Tensor, n_mels: int, n_frames: int) -> None:
    """Raise :class:`ParameterError` unless ``x`` is ``(batch, n_mels, n_frames)``."""
    from torchmusic.errors import ParameterError

    if x.ndim != 3 or tuple(x.shape[1:]) != (n_mels, n_frames):
        raise ParameterError(
            f"{owner}: input must have shape (batch, {n_mels}, {n_frames}), got {tuple(x.shape)}"
        )
