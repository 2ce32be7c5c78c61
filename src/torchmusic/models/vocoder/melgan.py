"""MelGAN generator (Kumar et al., 2019): transposed convs + dilated residual stacks.

Each upsampling stage is a transposed conv followed by a residual stack of dilated
convs (dilations 1, 3, 9) whose receptive field grows exponentially, so that
neighbouring output samples are correlated over long spans.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import nn

from torchmusic.errors import ParameterError
from torchmusic.models.vocoder.generators import (
    as_batch,
    check_common,
    check_positive_int,
    check_upsampling,
    maybe_weight_norm,
    remove_weight_norm,
    upsample_conv,
)


@dataclasses.dataclass
class MelGANConfig:
    """Sizes of a :class:`MelGAN` generator.

    Parameters
    ----------
    n_mels : int
        Mel bands of the input.
    hop_length : int
        Samples per mel frame; must equal the product of ``upsample_rates``.
    input_scale : float
        The dB log-mel is multiplied by this first.
    upsample_rates : tuple of int
        ``(8, 8, 4, 2)`` for hop 512 (the paper's ``(8, 8, 2, 2)`` is for hop 256).
        Each transposed conv has kernel ``2 * rate``.
    channels : int
        Channels after the input conv, halved by each upsampling stage (the paper: 512;
        the default 256 is a CPU-friendly size).
    dilations : tuple of int
        Dilations of the residual stack after every upsampling (the paper's 1, 3, 9).
    leaky_relu_slope : float
    weight_norm : bool

    Examples
    --------
    >>> MelGANConfig(hop_length=256, upsample_rates=(8, 8, 2, 2)).channels
    256
    """

    n_mels: int = 128
    hop_length: int = 512
    input_scale: float = 0.05
    upsample_rates: tuple[int, ...] = (8, 8, 4, 2)
    channels: int = 256
    dilations: tuple[int, ...] = (1, 3, 9)
    leaky_relu_slope: float = 0.2
    weight_norm: bool = True

    def __post_init__(self) -> None:
        self.upsample_rates = tuple(self.upsample_rates)
        self.dilations = tuple(self.dilations)
        check_common(self.n_mels, self.hop_length, self.input_scale)
        check_upsampling(self.upsample_rates, self.hop_length)
        check_positive_int("channels", self.channels)
        if self.channels % 2 ** len(self.upsample_rates):
            raise ParameterError(
                f"channels={self.channels} must be divisible by 2**{len(self.upsample_rates)} "
                f"(it is halved by each of the {len(self.upsample_rates)} upsampling stages)"
            )
        if not self.dilations:
            raise ParameterError("dilations must not be empty")
        for d in self.dilations:
            check_positive_int("dilation", d)

    @classmethod
    def preset(
        cls, name: str = "paper", *, hop_length: int = 512, n_mels: int = 128
    ) -> MelGANConfig:
        """The paper's generator (512 channels) for ``hop_length`` 256 or 512.

        Examples
        --------
        >>> MelGANConfig.preset("paper", hop_length=256).upsample_rates
        (8, 8, 2, 2)
        """
        if name != "paper":
            raise ParameterError(f"unknown MelGAN preset {name!r}; expected 'paper'")
        rates = {256: (8, 8, 2, 2), 512: (8, 8, 4, 2)}.get(hop_length)
        if rates is None:
            raise ParameterError(
                f"the MelGAN preset exists for hop_length 256 and 512, not {hop_length!r}; "
                f"for another hop pass upsample_rates multiplying to it"
            )
        return cls(n_mels=n_mels, hop_length=hop_length, upsample_rates=rates, channels=512)


class _ResidualStack(nn.Module):
    """Dilated residual blocks: ``x + conv1x1(lrelu(conv3_dilated(lrelu(x))))``."""

    def __init__(self, channels: int, dilations: tuple[int, ...], slope: float, wn: bool) -> None:
        super().__init__()
        self.slope = slope
        self.dilations = dilations
        self.dilated = nn.ModuleList(
            maybe_weight_norm(nn.Conv1d(channels, channels, 3, dilation=d), wn) for d in dilations
        )
        self.pointwise = nn.ModuleList(
            maybe_weight_norm(nn.Conv1d(channels, channels, 1), wn) for _ in dilations
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for d, conv, point in zip(self.dilations, self.dilated, self.pointwise, strict=True):
            h = F.leaky_relu(x, self.slope)
            # Reflection padding as in the paper: zero padding makes clicks at the edges.
            h = F.pad(h, (d, d), mode="reflect") if h.shape[-1] > d else F.pad(h, (d, d))
            h = point(F.leaky_relu(conv(h), self.slope))
            x = x + h
        return x


class MelGAN(nn.Module):
    """MelGAN generator: ``(batch, n_mels, frames)`` dB log-mel -> ``(batch, frames * hop)``.

    Parameters
    ----------
    config : MelGANConfig
        Kept as ``self.config``.

    Examples
    --------
    >>> model = MelGAN(MelGANConfig(n_mels=80, channels=64))
    >>> model(torch.randn(2, 80, 10) * 20 - 40).shape
    torch.Size([2, 5120])
    """

    def __init__(self, config: MelGANConfig) -> None:
        super().__init__()
        self.config = config
        wn = config.weight_norm
        channels = config.channels
        self.conv_pre = maybe_weight_norm(nn.Conv1d(config.n_mels, channels, 7), wn)
        self.ups = nn.ModuleList()
        self.stacks = nn.ModuleList()
        for i, rate in enumerate(config.upsample_rates):
            c_in, c_out = channels // 2**i, channels // 2 ** (i + 1)
            self.ups.append(maybe_weight_norm(upsample_conv(c_in, c_out, rate, 2 * rate), wn))
            self.stacks.append(_ResidualStack(c_out, config.dilations, config.leaky_relu_slope, wn))
        c_last = channels // 2 ** len(config.upsample_rates)
        self.conv_post = maybe_weight_norm(nn.Conv1d(c_last, 1, 7), wn)

    @staticmethod
    def _pad3(x: torch.Tensor) -> torch.Tensor:
        # Reflection needs more steps than the pad; a 1-3 frame input falls back to zeros.
        return F.pad(x, (3, 3), mode="reflect") if x.shape[-1] > 3 else F.pad(x, (3, 3))

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """``(batch, n_mels, frames)`` or ``(n_mels, frames)`` -> ``(batch, frames * hop)`` or ``(samples,)``."""
        x, unbatched = as_batch(mel, self.config.n_mels)
        slope = self.config.leaky_relu_slope
        x = self.conv_pre(self._pad3(x * self.config.input_scale))
        for up, stack in zip(self.ups, self.stacks, strict=True):
            x = stack(up(F.leaky_relu(x, slope)))
        y = torch.tanh(self.conv_post(self._pad3(F.leaky_relu(x, slope)))).squeeze(1)
        return y[0] if unbatched else y

    def remove_weight_norm(self) -> MelGAN:
        """Fold weight norm into plain weights for inference (same output); returns ``self``."""
        remove_weight_norm(self)
        return self
