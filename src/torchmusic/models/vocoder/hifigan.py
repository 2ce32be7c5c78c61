"""HiFi-GAN generator (Kong et al., 2020): log-mel -> waveform by transposed convs + MRF.

Each upsampling stage is a transposed conv followed by a multi-receptive-field fusion
(MRF) block: the mean of several residual blocks with different kernels and dilations,
so that every stage sees patterns of several lengths at once.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

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

#: Upsampling per hop length for the presets: the paper's (8, 8, 2, 2) for hop 256
#: (V3: (8, 8, 4)), one more factor for hop 512; kernels are twice the rates.
_PRESET_RATES: dict[str, dict[int, tuple[int, ...]]] = {
    "v1": {256: (8, 8, 2, 2), 512: (8, 8, 4, 2)},
    "v2": {256: (8, 8, 2, 2), 512: (8, 8, 4, 2)},
    "v3": {256: (8, 8, 4), 512: (8, 8, 8)},
}

# The paper's N(0, 0.01) init of the upsampling and residual convs: with the default
# init the deep residual stacks start far from the identity and learn more slowly.
_STD = 0.01


@dataclasses.dataclass
class HiFiGANConfig:
    """Sizes of a :class:`HiFiGAN` generator.

    The default is a small V2-like network (128 initial channels) for hop 512; use
    :meth:`preset` for the paper's V1 / V2 / V3.

    Parameters
    ----------
    n_mels : int
        Mel bands of the input.
    hop_length : int
        Samples per mel frame; must equal the product of ``upsample_rates``.
    input_scale : float
        The dB log-mel is multiplied by this first (80 dB of range -> about 4).
    upsample_rates, upsample_kernel_sizes : tuple of int
        Stride and kernel of each transposed conv (kernel >= rate; 2 * rate is usual).
    upsample_initial_channel : int
        Channels after the input conv; halved by each upsampling stage.
    resblock : {"1", "2"}
        Residual block type: "1" has two convs per dilation (V1, V2), "2" one (V3).
    resblock_kernel_sizes : tuple of int
        One residual block per kernel size in every MRF.
    resblock_dilations : tuple of tuple of int
        Dilations of each of those blocks.
    leaky_relu_slope : float
    weight_norm : bool
        Weight normalisation on every conv (as in the paper).

    Examples
    --------
    >>> HiFiGANConfig.preset("v1", hop_length=256).upsample_initial_channel
    512
    """

    n_mels: int = 128
    hop_length: int = 512
    input_scale: float = 0.05
    upsample_rates: tuple[int, ...] = (8, 8, 4, 2)
    upsample_kernel_sizes: tuple[int, ...] = (16, 16, 8, 4)
    upsample_initial_channel: int = 128
    resblock: Literal["1", "2"] = "1"
    resblock_kernel_sizes: tuple[int, ...] = (3, 7, 11)
    resblock_dilations: tuple[tuple[int, ...], ...] = ((1, 3, 5), (1, 3, 5), (1, 3, 5))
    leaky_relu_slope: float = 0.1
    weight_norm: bool = True

    def __post_init__(self) -> None:
        # Lists from JSON become tuples, so configs compare and serialise the same.
        self.upsample_rates = tuple(self.upsample_rates)
        self.upsample_kernel_sizes = tuple(self.upsample_kernel_sizes)
        self.resblock_kernel_sizes = tuple(self.resblock_kernel_sizes)
        self.resblock_dilations = tuple(tuple(d) for d in self.resblock_dilations)
        check_common(self.n_mels, self.hop_length, self.input_scale)
        check_upsampling(self.upsample_rates, self.hop_length, self.upsample_kernel_sizes)
        channels = check_positive_int("upsample_initial_channel", self.upsample_initial_channel)
        if channels % 2 ** len(self.upsample_rates):
            raise ParameterError(
                f"upsample_initial_channel={channels} must be divisible by "
                f"2**{len(self.upsample_rates)} (it is halved by each of the "
                f"{len(self.upsample_rates)} upsampling stages)"
            )
        if self.resblock not in ("1", "2"):
            raise ParameterError(f"resblock={self.resblock!r} must be '1' or '2'")
        if len(self.resblock_kernel_sizes) != len(self.resblock_dilations):
            raise ParameterError(
                f"resblock_kernel_sizes {self.resblock_kernel_sizes} and resblock_dilations "
                f"{self.resblock_dilations} must have the same length"
            )
        if not self.resblock_kernel_sizes:
            raise ParameterError("resblock_kernel_sizes must not be empty")
        for kernel in self.resblock_kernel_sizes:
            if check_positive_int("resblock kernel size", kernel) % 2 == 0:
                raise ParameterError(f"resblock kernel size {kernel} must be odd (same padding)")
        for dilations in self.resblock_dilations:
            if not dilations:
                raise ParameterError(
                    f"resblock_dilations {self.resblock_dilations} has an empty entry"
                )
            for d in dilations:
                check_positive_int("resblock dilation", d)

    @classmethod
    def preset(cls, name: str, *, hop_length: int = 512, n_mels: int = 128) -> HiFiGANConfig:
        """The paper's V1, V2 or V3 generator for ``hop_length`` 256 or 512.

        Parameters
        ----------
        name : {"v1", "v2", "v3"}
            V1: 512 channels, V2: 128 (both resblock type 1, kernels 3/7/11, dilations
            1/3/5); V3: 256 channels, resblock type 2, kernels 3/5/7.
        hop_length : {256, 512}
            256 uses the paper's rates; 512 adds one more factor of 2.
        n_mels : int

        Examples
        --------
        >>> HiFiGANConfig.preset("v3", hop_length=256).upsample_rates
        (8, 8, 4)
        """
        key = name.lower() if isinstance(name, str) else name
        if key not in _PRESET_RATES:
            raise ParameterError(f"unknown HiFi-GAN preset {name!r}; expected 'v1', 'v2' or 'v3'")
        rates = _PRESET_RATES[key].get(hop_length)
        if rates is None:
            raise ParameterError(
                f"HiFi-GAN presets exist for hop_length 256 and 512, not {hop_length!r}; "
                f"for another hop pass upsample_rates multiplying to it"
            )
        kernels = tuple(2 * r for r in rates)
        if key == "v3":
            return cls(
                n_mels=n_mels,
                hop_length=hop_length,
                upsample_rates=rates,
                upsample_kernel_sizes=kernels,
                upsample_initial_channel=256,
                resblock="2",
                resblock_kernel_sizes=(3, 5, 7),
                resblock_dilations=((1, 2), (2, 6), (3, 12)),
            )
        return cls(
            n_mels=n_mels,
            hop_length=hop_length,
            upsample_rates=rates,
            upsample_kernel_sizes=kernels,
            upsample_initial_channel=512 if key == "v1" else 128,
        )


class _ResBlock(nn.Module):
    """Residual dilated convs; type "1" has a dilation-1 conv after each dilated one."""

    def __init__(
        self,
        channels: int,
        kernel: int,
        dilations: tuple[int, ...],
        kind: str,
        slope: float,
        wn: bool,
    ) -> None:
        super().__init__()
        self.slope = slope

        def conv(d: int) -> nn.Module:
            return maybe_weight_norm(
                nn.Conv1d(channels, channels, kernel, dilation=d, padding=d * (kernel - 1) // 2),
                wn,
                _STD,
            )

        self.convs1 = nn.ModuleList(conv(d) for d in dilations)
        self.convs2 = nn.ModuleList(conv(1) for _ in dilations) if kind == "1" else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, c1 in enumerate(self.convs1):
            h = c1(F.leaky_relu(x, self.slope))
            if self.convs2 is not None:
                h = self.convs2[i](F.leaky_relu(h, self.slope))
            x = x + h
        return x


class HiFiGAN(nn.Module):
    """HiFi-GAN generator: ``(batch, n_mels, frames)`` dB log-mel -> ``(batch, frames * hop)``.

    Parameters
    ----------
    config : HiFiGANConfig
        Kept as ``self.config``.

    Examples
    --------
    >>> model = HiFiGAN(HiFiGANConfig(n_mels=80, hop_length=256, upsample_rates=(8, 8, 2, 2),
    ...                               upsample_kernel_sizes=(16, 16, 4, 4)))
    >>> model(torch.randn(2, 80, 10) * 20 - 40).shape
    torch.Size([2, 2560])
    """

    def __init__(self, config: HiFiGANConfig) -> None:
        super().__init__()
        self.config = config
        wn = config.weight_norm
        channels = config.upsample_initial_channel
        self.conv_pre = maybe_weight_norm(nn.Conv1d(config.n_mels, channels, 7, padding=3), wn)
        self.ups = nn.ModuleList()
        self.mrfs = nn.ModuleList()
        for i, (rate, kernel) in enumerate(
            zip(config.upsample_rates, config.upsample_kernel_sizes, strict=True)
        ):
            c_in, c_out = channels // 2**i, channels // 2 ** (i + 1)
            self.ups.append(maybe_weight_norm(upsample_conv(c_in, c_out, rate, kernel), wn, _STD))
            self.mrfs.append(
                nn.ModuleList(
                    _ResBlock(c_out, k, d, config.resblock, config.leaky_relu_slope, wn)
                    for k, d in zip(
                        config.resblock_kernel_sizes, config.resblock_dilations, strict=True
                    )
                )
            )
        c_last = channels // 2 ** len(config.upsample_rates)
        self.conv_post = maybe_weight_norm(nn.Conv1d(c_last, 1, 7, padding=3), wn, _STD)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """``(batch, n_mels, frames)`` or ``(n_mels, frames)`` -> ``(batch, frames * hop)`` or ``(samples,)``."""
        x, unbatched = as_batch(mel, self.config.n_mels)
        slope = self.config.leaky_relu_slope
        x = self.conv_pre(x * self.config.input_scale)
        for up, mrf in zip(self.ups, self.mrfs, strict=True):
            x = up(F.leaky_relu(x, slope))
            x = torch.stack([block(x) for block in mrf]).mean(dim=0)
        # The paper's last activation uses leaky_relu's default slope (0.01).
        y = torch.tanh(self.conv_post(F.leaky_relu(x))).squeeze(1)
        return y[0] if unbatched else y

    def remove_weight_norm(self) -> HiFiGAN:
        """Fold weight norm into plain weights for inference (same output); returns ``self``."""
        remove_weight_norm(self)
        return self
