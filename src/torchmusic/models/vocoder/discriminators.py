"""GAN discriminators for vocoders: multi-period, multi-scale and multi-resolution.

Each is a set of sub-discriminators looking at the waveform in a different way; all
return ``(logits, features)``: one logit map per sub-discriminator, and per
sub-discriminator the list of its intermediate feature maps (for feature matching).

- :class:`MultiPeriodDiscriminator` (HiFi-GAN): the signal folded into 2-D by a
  period ``p``, so each sub-discriminator sees samples ``p`` apart (periodic patterns).
- :class:`MultiScaleDiscriminator` (MelGAN): 1-D convs on the raw, 2x and 4x
  average-pooled signal (smoothness at several time scales).
- :class:`MultiResolutionDiscriminator` (UnivNet, Vocos): 2-D convs on magnitude
  spectrograms of several STFT resolutions (the spectral content).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm, weight_norm

from torchmusic.errors import ParameterError
from torchmusic.models.vocoder.generators import check_positive_int

Logits = list[torch.Tensor]
Features = list[list[torch.Tensor]]

_SLOPE = 0.1  # leaky-ReLU slope of all three discriminators (HiFi-GAN, UnivNet)


def as_waveform(wav: object) -> torch.Tensor:
    """``(batch, 1, samples)`` from ``(batch, samples)`` or ``(batch, 1, samples)``."""
    if not isinstance(wav, torch.Tensor) or not wav.is_floating_point():
        raise ParameterError(f"wav must be a floating-point torch.Tensor, got {wav!r:.80}")
    if wav.ndim == 2:
        wav = wav.unsqueeze(1)
    if wav.ndim != 3 or wav.shape[1] != 1:
        raise ParameterError(
            f"wav must be (batch, samples) or (batch, 1, samples), got shape {tuple(wav.shape)}"
        )
    if wav.shape[-1] == 0:
        raise ParameterError(f"wav has no samples (shape {tuple(wav.shape)})")
    return wav


def _check_channels(channels: Sequence[int], n: int, name: str) -> tuple[int, ...]:
    channels = tuple(channels)
    if len(channels) != n:
        raise ParameterError(f"{name}={channels} must have {n} entries")
    for c in channels:
        check_positive_int(f"{name} entry", c)
    return channels


class _PeriodDiscriminator(nn.Module):
    """2-D convs over the ``(samples / p, p)`` folding; kernels (k, 1) mix one phase only."""

    def __init__(self, period: int, channels: tuple[int, ...], kernel: int, stride: int) -> None:
        super().__init__()
        self.period = period
        c_in = 1
        self.convs = nn.ModuleList()
        for i, c_out in enumerate(channels):
            s = stride if i < len(channels) - 1 else 1  # the last conv keeps the length
            conv = nn.Conv2d(c_in, c_out, (kernel, 1), (s, 1), padding=(kernel // 2, 0))
            self.convs.append(weight_norm(conv))
            c_in = c_out
        self.conv_post = weight_norm(nn.Conv2d(c_in, 1, (3, 1), padding=(1, 0)))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        b, _, n = x.shape
        if n % self.period:
            pad = self.period - n % self.period
            # Reflection needs more samples than the pad; very short inputs get zeros.
            x = F.pad(x, (0, pad), mode="reflect" if n > pad else "constant")
        x = x.view(b, 1, -1, self.period)
        features = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), _SLOPE)
            features.append(x)
        x = self.conv_post(x)
        features.append(x)
        return x.flatten(1), features


class MultiPeriodDiscriminator(nn.Module):
    """HiFi-GAN's MPD: one 2-D conv discriminator per period (primes avoid overlaps).

    Parameters
    ----------
    periods : sequence of int
        One sub-discriminator per period.
    channels : sequence of int
        Width of the convs (the paper: 32, 128, 512, 1024, 1024); the last one has stride 1.
    kernel_size, stride : int
        Along the folded time axis.

    Examples
    --------
    >>> mpd = MultiPeriodDiscriminator(channels=(4, 8, 8, 8, 8))
    >>> logits, features = mpd(torch.randn(2, 4096))
    >>> len(logits), len(features), len(features[0])
    (5, 5, 6)
    """

    def __init__(
        self,
        periods: Sequence[int] = (2, 3, 5, 7, 11),
        *,
        channels: Sequence[int] = (32, 128, 512, 1024, 1024),
        kernel_size: int = 5,
        stride: int = 3,
    ) -> None:
        super().__init__()
        self.periods = tuple(periods)
        if not self.periods:
            raise ParameterError("periods must not be empty")
        for p in self.periods:
            check_positive_int("period", p)
        channels = tuple(channels)
        if not channels:
            raise ParameterError("channels must not be empty")
        channels = _check_channels(channels, len(channels), "channels")
        check_positive_int("kernel_size", kernel_size)
        check_positive_int("stride", stride)
        self.discriminators = nn.ModuleList(
            _PeriodDiscriminator(p, channels, kernel_size, stride) for p in self.periods
        )

    def forward(self, wav: torch.Tensor) -> tuple[Logits, Features]:
        """``(batch, samples)`` or ``(batch, 1, samples)`` -> ``(logits, features)``.

        ``logits[i]`` is ``(batch, n_i)``; ``features[i]`` the maps of sub-discriminator ``i``.
        """
        x = as_waveform(wav)
        outputs = [d(x) for d in self.discriminators]
        return [o[0] for o in outputs], [o[1] for o in outputs]


class _ScaleDiscriminator(nn.Module):
    """MelGAN's strided grouped 1-D convs (grouping keeps the wide layers cheap)."""

    def __init__(self, channels: tuple[int, ...], norm: str) -> None:
        super().__init__()
        wrap = spectral_norm if norm == "spectral" else weight_norm
        # (kernel, stride) of each conv: a wide first conv, four strided grouped ones,
        # one more at stride 1; as in the MelGAN / HiFi-GAN papers.
        shapes = [(15, 1)] + [(41, 4)] * (len(channels) - 2) + [(5, 1)]
        c_in = 1
        self.convs = nn.ModuleList()
        for i, (c_out, (k, s)) in enumerate(zip(channels, shapes, strict=True)):
            groups = 1 if i in (0, len(channels) - 1) else math.gcd(c_in, c_out, max(1, c_in // 4))
            self.convs.append(wrap(nn.Conv1d(c_in, c_out, k, s, padding=k // 2, groups=groups)))
            c_in = c_out
        self.conv_post = wrap(nn.Conv1d(c_in, 1, 3, padding=1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        features = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), _SLOPE)
            features.append(x)
        x = self.conv_post(x)
        features.append(x)
        return x.flatten(1), features


class MultiScaleDiscriminator(nn.Module):
    """MelGAN / HiFi-GAN MSD: the same 1-D discriminator on 1x, 2x, 4x ... pooled audio.

    Parameters
    ----------
    n_scales : int
        Sub-discriminators; scale ``i`` sees the input average-pooled ``i`` times by 2.
    channels : sequence of int
        Widths of the convs, at least 3 (the paper: 16, 64, 256, 1024, 1024, 1024).
    spectral_norm_first : bool
        Spectral norm on the raw-audio discriminator, weight norm on the others (HiFi-GAN).

    Examples
    --------
    >>> msd = MultiScaleDiscriminator(channels=(4, 8, 16, 16))
    >>> logits, features = msd(torch.randn(2, 1, 4096))
    >>> [tuple(x.shape) for x in logits]
    [(2, 256), (2, 129), (2, 65)]
    """

    def __init__(
        self,
        n_scales: int = 3,
        *,
        channels: Sequence[int] = (16, 64, 256, 1024, 1024, 1024),
        spectral_norm_first: bool = True,
    ) -> None:
        super().__init__()
        check_positive_int("n_scales", n_scales)
        channels = tuple(channels)
        if len(channels) < 3:
            raise ParameterError(f"channels={channels} must have at least 3 entries")
        channels = _check_channels(channels, len(channels), "channels")
        self.discriminators = nn.ModuleList(
            _ScaleDiscriminator(
                channels, "spectral" if i == 0 and spectral_norm_first else "weight"
            )
            for i in range(n_scales)
        )

    def forward(self, wav: torch.Tensor) -> tuple[Logits, Features]:
        """``(batch, samples)`` or ``(batch, 1, samples)`` -> ``(logits, features)``."""
        x = as_waveform(wav)
        logits, features = [], []
        for i, d in enumerate(self.discriminators):
            if i:
                # Padding 2 with count_include_pad as in MelGAN: halves the length (+1).
                x = F.avg_pool1d(x, 4, 2, padding=2)
            logit, fmaps = d(x)
            logits.append(logit)
            features.append(fmaps)
        return logits, features


class _ResolutionDiscriminator(nn.Module):
    """2-D convs over one magnitude spectrogram ``(batch, 1, freq, frames)``."""

    window: torch.Tensor

    def __init__(self, n_fft: int, hop: int, win: int, channels: int, n_strided: int) -> None:
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        self.register_buffer("window", torch.hann_window(win), persistent=False)
        convs = [nn.Conv2d(1, channels, (3, 9), padding=(1, 4))]
        # Strided along frequency: halves the (many) bins while keeping time resolution.
        convs += [
            nn.Conv2d(channels, channels, (3, 9), stride=(2, 1), padding=(1, 4))
            for _ in range(n_strided)
        ]
        convs.append(nn.Conv2d(channels, channels, (3, 3), padding=(1, 1)))
        self.convs = nn.ModuleList(weight_norm(c) for c in convs)
        self.conv_post = weight_norm(nn.Conv2d(channels, 1, (3, 3), padding=(1, 1)))

    def spectrogram(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, 1, samples)`` -> magnitude ``(batch, 1, n_fft // 2 + 1, frames)``."""
        spec = torch.stft(
            x.squeeze(1),
            self.n_fft,
            hop_length=self.hop,
            win_length=self.window.shape[0],
            window=self.window.to(x.dtype),
            center=True,
            return_complex=True,
        )
        # A tiny floor keeps the gradient of |.| finite where a bin is exactly 0.
        return (spec.real.square() + spec.imag.square() + 1e-9).sqrt().unsqueeze(1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        x = self.spectrogram(x)
        features = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), _SLOPE)
            features.append(x)
        x = self.conv_post(x)
        features.append(x)
        return x.flatten(1), features


class MultiResolutionDiscriminator(nn.Module):
    """UnivNet / Vocos MRD: a 2-D conv discriminator per STFT resolution.

    Parameters
    ----------
    resolutions : sequence of (n_fft, hop, win_length)
        One sub-discriminator per resolution.
    channels : int
        Width of every conv (the papers: 32).
    n_strided : int
        Convs with stride 2 along frequency (the papers: 3 or 4).

    Examples
    --------
    >>> mrd = MultiResolutionDiscriminator(((256, 64, 256), (512, 128, 512)), channels=4)
    >>> logits, features = mrd(torch.randn(2, 4096))
    >>> len(logits), len(features[1])
    (2, 6)
    """

    def __init__(
        self,
        resolutions: Sequence[tuple[int, int, int]] = (
            (1024, 256, 1024),
            (2048, 512, 2048),
            (512, 128, 512),
        ),
        *,
        channels: int = 32,
        n_strided: int = 3,
    ) -> None:
        super().__init__()
        self.resolutions = tuple(tuple(r) for r in resolutions)
        if not self.resolutions:
            raise ParameterError("resolutions must not be empty")
        for res in self.resolutions:
            if len(res) != 3:
                raise ParameterError(f"resolution {res} must be (n_fft, hop, win_length)")
            n_fft, _hop, win = (check_positive_int("resolution entry", v) for v in res)
            if win > n_fft:
                raise ParameterError(f"resolution {res}: win_length {win} exceeds n_fft {n_fft}")
        check_positive_int("channels", channels)
        if not isinstance(n_strided, int) or n_strided < 0:
            raise ParameterError(f"n_strided={n_strided!r} must be a non-negative integer")
        self.discriminators = nn.ModuleList(
            _ResolutionDiscriminator(*res, channels, n_strided) for res in self.resolutions
        )

    def forward(self, wav: torch.Tensor) -> tuple[Logits, Features]:
        """``(batch, samples)`` or ``(batch, 1, samples)`` -> ``(logits, features)``."""
        x = as_waveform(wav)
        outputs = [d(x) for d in self.discriminators]
        return [o[0] for o in outputs], [o[1] for o in outputs]
