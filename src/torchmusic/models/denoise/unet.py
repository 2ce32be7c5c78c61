"""A compact STFT-domain U-Net that predicts a bounded complex mask (plus a deep filter).

The network sees the noisy spectrogram ``Y`` (magnitude compressed to ``|Y| ** 0.3``
with its phase), and predicts per time-frequency bin

- a complex mask ``M = mask_max * sigmoid(m) * (a + ib) / |a + ib|``: its magnitude is
  bounded by ``mask_max`` (a little above 1, so bins where noise partly cancelled the
  music can be restored), its phase is a unit complex number;
- optionally, for the lowest ``df_bins`` bins, a *deep filter* (as in DeepFilterNet):
  a complex FIR filter of ``df_order`` taps over neighbouring frames of ``Y``, added
  to the masked value. A mask alone cannot separate two partials inside one
  low-frequency bin (21.5 Hz wide at the CPU profile's 1024-point FFT); a filter over
  frames can. Its coefficients are bounded by ``df_max`` (real and imaginary parts).

The estimate ``X = M * Y (+ deep filter)`` goes back to audio by the inverse STFT.
The output head starts at zero, so an untrained network is the identity
(``M = 1``, no filter): training only moves away from "leave the music alone".

Every layer is convolutional over time with a finite reach (no recurrence, no
normalisation over time), so a sample of the output depends only on
:meth:`DenoiserUNet.receptive_frames` frames either side: chunked processing with
that much context equals whole-file processing (see :mod:`torchmusic.serve.denoise`).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from torchmusic.errors import ParameterError

#: The two profiles. ``cpu``: 22,050 Hz, ~0.36 M parameters, over 10x faster than real
#: time on 2 CPU cores, trains meaningfully in tens of CPU minutes; ``gpu``: 44,100 Hz
#: (the full audio band), ~4.4 M parameters.
PRESETS: dict[str, dict[str, Any]] = {
    "cpu": {
        "sr": 22050,
        "n_fft": 1024,
        "hop_length": 256,
        "channels": [16, 32, 48, 64, 96],
        "bottleneck_blocks": 4,
        "kernel_f": 3,
        "df_order": 3,
        "df_bins": 64,  # up to 1.4 kHz: bass and the fundamentals of most instruments
    },
    "gpu": {
        "sr": 44100,
        "n_fft": 2048,
        "hop_length": 512,
        "channels": [32, 64, 96, 128, 192, 256],
        "bottleneck_blocks": 6,
        "kernel_f": 5,
        "df_order": 5,
        "df_bins": 96,  # up to 2.1 kHz
    },
}


def _positive_int(name: str, value: Any, *, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ParameterError(f"{name}={value!r} must be an int >= {low}")
    return value


@dataclasses.dataclass
class DenoiserConfig:
    """Sizes and signal settings of a :class:`DenoiserUNet`.

    Parameters
    ----------
    sr : int
        Sample rate the network works at (Hz); other rates are resampled by the caller.
    n_fft, hop_length : int
        STFT size (Hann window of ``n_fft``) and hop; ``hop_length`` must divide
        ``n_fft`` at least twice so the inverse STFT is exact.
    channels : list of int
        Widths of the U-Net levels: the first at half the frequency resolution (the
        stem halves it; the heads predict two bins per row), each next one after
        halving the frequency axis again.
    bottleneck_blocks : int
        Residual blocks at the coarsest level: dilated convolutions over time
        (dilation ``2 ** k``) and a fully connected mix over frequency (harmonics are
        far apart in frequency).
    kernel_f : int
        Odd kernel size over frequency of the encoder / decoder convolutions.
    compress : float in (0, 1]
        Input magnitude compression ``|Y| ** compress``.
    mask_max : float >= 1
        Bound of the mask magnitude.
    df_order : int >= 0
        Taps of the deep filter over frames (0: no deep filter).
    df_lookahead : int >= 0
        Of those taps, how many look at later frames (< ``df_order``).
    df_bins : int >= 0
        Lowest bins the deep filter works on (at most ``n_fft // 2 + 1``).
    df_max : float > 0
        Bound of each filter coefficient's real and imaginary part.
    noise_floor_frames : int >= 0
        When > 0, a fourth input channel: each bin's noise-floor estimate, the minimum
        of its compressed magnitude (smoothed over 5 frames) within this many frames on
        each side (minimum statistics, as the Wiener / MMSE baselines track noise). It
        shows the network what stays under the music for over a second, which its
        convolutions alone (reach ~0.3 s) cannot see. 0 (default): three channels, as
        files from before this option.

    Examples
    --------
    >>> DenoiserConfig.preset("cpu").sr
    22050
    >>> DenoiserConfig.preset("gpu", channels=[16, 32]).n_fft
    2048
    """

    sr: int = 22050
    n_fft: int = 1024
    hop_length: int = 256
    channels: list[int] = dataclasses.field(default_factory=lambda: [16, 32, 48, 64, 96])
    bottleneck_blocks: int = 4
    kernel_f: int = 3
    compress: float = 0.3
    mask_max: float = 1.2
    df_order: int = 3
    df_lookahead: int = 1
    df_bins: int = 64
    df_max: float = 0.5
    noise_floor_frames: int = 0

    def __post_init__(self) -> None:
        self.channels = list(self.channels)
        _positive_int("sr", self.sr, low=1000)
        _positive_int("n_fft", self.n_fft, low=16)
        _positive_int("hop_length", self.hop_length)
        if self.n_fft % self.hop_length or self.n_fft // self.hop_length < 2:
            raise ParameterError(
                f"hop_length={self.hop_length} must divide n_fft={self.n_fft} at least twice "
                "(the Hann windows must overlap for an exact inverse STFT)"
            )
        if not self.channels or not all(
            isinstance(c, int) and not isinstance(c, bool) and c >= 1 for c in self.channels
        ):
            raise ParameterError(
                f"channels={self.channels!r} must be a non-empty list of ints >= 1"
            )
        _positive_int("bottleneck_blocks", self.bottleneck_blocks, low=0)
        if _positive_int("kernel_f", self.kernel_f) % 2 == 0:
            raise ParameterError(f"kernel_f={self.kernel_f} must be odd")
        if not (isinstance(self.compress, int | float) and 0 < self.compress <= 1):
            raise ParameterError(f"compress={self.compress!r} must be in (0, 1]")
        if not (isinstance(self.mask_max, int | float) and 1 <= self.mask_max <= 4):
            raise ParameterError(f"mask_max={self.mask_max!r} must be in [1, 4]")
        _positive_int("df_order", self.df_order, low=0)
        _positive_int("df_lookahead", self.df_lookahead, low=0)
        _positive_int("df_bins", self.df_bins, low=0)
        if self.df_order and not self.df_lookahead < self.df_order:
            raise ParameterError(
                f"df_lookahead={self.df_lookahead} must be < df_order={self.df_order}"
            )
        if self.df_bins > self.n_bins:
            raise ParameterError(
                f"df_bins={self.df_bins} exceeds the n_fft // 2 + 1 = {self.n_bins} bins"
            )
        if not (isinstance(self.df_max, int | float) and self.df_max > 0):
            raise ParameterError(f"df_max={self.df_max!r} must be > 0")
        _positive_int("noise_floor_frames", self.noise_floor_frames, low=0)

    @property
    def n_bins(self) -> int:
        """Frequency bins of the STFT (``n_fft // 2 + 1``)."""
        return self.n_fft // 2 + 1

    @property
    def deep_filter(self) -> bool:
        """Whether the network has a deep-filter stage."""
        return self.df_order > 0 and self.df_bins > 0

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> DenoiserConfig:
        """The ``"cpu"`` or ``"gpu"`` profile (see :data:`PRESETS`), with ``overrides``."""
        if name not in PRESETS:
            raise ParameterError(f"denoiser preset {name!r}; expected one of {sorted(PRESETS)}")
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(overrides) - fields)
        if unknown:
            raise ParameterError(
                f"unknown denoiser setting(s) {unknown}; expected {sorted(fields)}"
            )
        return cls(**{**PRESETS[name], **overrides})


class _ChannelNorm(nn.Module):
    """LayerNorm over the channels of each time-frequency bin.

    Per bin, not over time: a statistic over time would make the output depend on
    the whole file, and chunked processing could no longer equal it.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(channels, eps=1e-5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class _ConvBlock(nn.Sequential):
    """Conv (kernel ``kf`` x 3 frames) -> channel norm -> ELU, optionally halving frequency."""

    def __init__(self, c_in: int, c_out: int, kf: int, *, stride_f: int = 1) -> None:
        super().__init__(
            nn.Conv2d(c_in, c_out, (kf, 3), stride=(stride_f, 1), padding=(kf // 2, 1)),
            _ChannelNorm(c_out),
            nn.ELU(),
        )


class _TimeBlock(nn.Module):
    """Residual: depthwise dilated conv over time, then a pointwise MLP (ConvNeXt-like)."""

    def __init__(self, channels: int, dilation: int) -> None:
        super().__init__()
        self.dw = nn.Conv2d(
            channels, channels, (1, 3), padding=(0, dilation), dilation=(1, dilation),
            groups=channels,
        )  # fmt: skip
        self.norm = _ChannelNorm(channels)
        self.pw1 = nn.Conv2d(channels, 2 * channels, 1)
        self.pw2 = nn.Conv2d(2 * channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.pw2(F.elu(self.pw1(self.norm(self.dw(x)))))


class _FreqBlock(nn.Module):
    """Residual: one linear map over the (coarse) frequency axis, shared by all channels."""

    def __init__(self, channels: int, n_freq: int) -> None:
        super().__init__()
        self.norm = _ChannelNorm(channels)
        self.fc = nn.Linear(n_freq, n_freq)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm(x).transpose(2, 3)  # (B, C, T, F)
        return x + F.elu(self.fc(h)).transpose(2, 3)


class DenoiserUNet(nn.Module):
    """STFT U-Net denoiser: noisy waveform -> estimate of the clean waveform.

    Parameters
    ----------
    config : DenoiserConfig

    Examples
    --------
    >>> net = DenoiserUNet(DenoiserConfig.preset("cpu"))
    >>> net(torch.randn(2, 22050)).shape
    torch.Size([2, 22050])
    >>> sum(p.numel() for p in net.parameters()) < 500_000
    True
    """

    window: torch.Tensor

    def __init__(self, config: DenoiserConfig) -> None:
        super().__init__()
        self.config = config
        c, kf = config.channels, config.kernel_f
        levels = len(c) - 1
        # The stem already halves the frequency axis and the heads predict two bins per
        # row (sub-pixel output): no wide layer ever runs at full resolution, which is
        # where most of the compute of a plain U-Net goes. Pad the frequency axis so it
        # halves evenly at every level.
        self.n_freq = math.ceil(config.n_bins / 2 ** (levels + 1)) * 2 ** (levels + 1)
        self.stem = _ConvBlock(3 if config.noise_floor_frames == 0 else 4, c[0], kf, stride_f=2)
        self.down = nn.ModuleList(_ConvBlock(c[i], c[i + 1], kf, stride_f=2) for i in range(levels))
        coarse = self.n_freq // 2 ** (levels + 1)
        blocks: list[nn.Module] = []
        for k in range(config.bottleneck_blocks):
            blocks += [_TimeBlock(c[-1], 2**k), _FreqBlock(c[-1], coarse)]
        self.bottleneck = nn.Sequential(*blocks)
        self.up = nn.ModuleList(_ConvBlock(c[i + 1], c[i], kf) for i in range(levels))
        self.mask_head = nn.Conv2d(c[0], 2 * 3, (kf, 3), padding=(kf // 2, 1))
        self.df_head = (
            nn.Conv2d(c[0], 2 * 2 * config.df_order, (kf, 3), padding=(kf // 2, 1))
            if config.deep_filter
            else None
        )
        self.register_buffer("window", torch.hann_window(config.n_fft), persistent=False)
        self._init_heads()

    def _init_heads(self) -> None:
        # Zero weights and biases that give M = 1 and no filter: the untrained network
        # is the identity, and training starts from "leave the music alone".
        nn.init.zeros_(self.mask_head.weight)
        with torch.no_grad():  # channel 2 * k + j: output k of the row's bin j
            bias = [_logit(1.0 / self.config.mask_max), 1.0, 0.0]
            self.mask_head.bias.copy_(torch.tensor(bias).repeat_interleave(2))
        if self.df_head is not None:
            nn.init.zeros_(self.df_head.weight)
            nn.init.zeros_(self.df_head.bias)

    # -- signal <-> spectrum ---------------------------------------------------------------
    def stft(self, audio: torch.Tensor) -> torch.Tensor:
        """``(batch, samples)`` -> complex ``(batch, n_bins, frames)`` (float32, centred)."""
        cfg = self.config
        with torch.autocast(audio.device.type, enabled=False):
            return torch.stft(
                audio.float(), cfg.n_fft, hop_length=cfg.hop_length, window=self.window,
                center=True, pad_mode="reflect", return_complex=True,
            )  # fmt: skip

    def istft(self, spec: torch.Tensor, length: int) -> torch.Tensor:
        """Complex ``(batch, n_bins, frames)`` -> ``(batch, length)``."""
        cfg = self.config
        with torch.autocast(spec.device.type, enabled=False):
            return torch.istft(
                spec, cfg.n_fft, hop_length=cfg.hop_length, window=self.window, center=True,
                length=length,
            )  # fmt: skip

    # -- the network -----------------------------------------------------------------------
    def features(self, spec: torch.Tensor) -> torch.Tensor:
        """Network input ``(batch, 3, n_freq, frames)``: compressed magnitude, and it
        times the phase's cosine and sine (plus the noise floor of the compressed
        magnitude when ``noise_floor_frames`` > 0: 4 channels)."""
        power = spec.real.square() + spec.imag.square()
        # |Y| ** c with a floor: the derivative of x ** 0.3 is infinite at 0.
        mag = power.clamp_min(1e-12).pow(self.config.compress / 2)
        scale = mag * torch.rsqrt(power.clamp_min(1e-12))
        channels = [mag, spec.real * scale, spec.imag * scale]
        if self.config.noise_floor_frames:
            channels.append(self._noise_floor(mag))
        x = torch.stack(channels, dim=1)
        return F.pad(x, (0, 0, 0, self.n_freq - x.shape[-2]))

    def _noise_floor(self, mag: torch.Tensor) -> torch.Tensor:
        """Per bin, the running minimum over ``2 * noise_floor_frames + 1`` frames of the
        magnitude smoothed over 5 frames; ``(batch, bins, frames)`` like ``mag``."""
        b, n_bins, frames = mag.shape
        flat = mag.reshape(b * n_bins, 1, frames)
        smooth = F.avg_pool1d(flat, 5, stride=1, padding=2, count_include_pad=False)
        k = self.config.noise_floor_frames
        # max_pool1d pads with -inf, so a minimum near the edges uses the frames there are.
        floor = -F.max_pool1d(-smooth, 2 * k + 1, stride=1, padding=k)
        return floor.reshape(b, n_bins, frames)

    def estimate(self, spec: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(mask, df_coefficients)`` of a noisy spectrum.

        Parameters
        ----------
        spec : torch.Tensor
            Complex ``(batch, n_bins, frames)`` noisy STFT (:meth:`stft`).

        Returns
        -------
        mask : torch.Tensor
            Complex ``(batch, n_bins, frames)``, ``|mask| <= mask_max``.
        df_coefficients : torch.Tensor or None
            Complex ``(batch, df_order, df_bins, frames)``, real and imaginary parts in
            ``[-df_max, df_max]``; tap ``k`` weights frame ``t + df_lookahead - k``.
        """
        x = self.stem(self.features(spec))
        skips = [x]
        for layer in self.down:
            x = layer(x)
            skips.append(x)
        x = self.bottleneck(x)
        skips.pop()
        for layer in reversed(self.up):
            x = F.interpolate(x, scale_factor=(2.0, 1.0), mode="nearest")
            x = layer(x) + skips.pop()
        n_bins, cfg = self.config.n_bins, self.config
        head = _unshuffle(self.mask_head(x))[:, :, :n_bins].float()
        gain = cfg.mask_max * torch.sigmoid(head[:, 0])
        norm = torch.rsqrt(head[:, 1].square() + head[:, 2].square() + 1e-8)
        mask = torch.complex(gain * head[:, 1] * norm, gain * head[:, 2] * norm)
        coefs = None
        if self.df_head is not None:
            # Only the rows the lowest bins need, plus the kernel's reach.
            rows = (cfg.df_bins + 1) // 2 + cfg.kernel_f // 2
            raw = _unshuffle(self.df_head(x[:, :, :rows]))[:, :, : cfg.df_bins].float()
            re, im = (cfg.df_max * torch.tanh(raw)).chunk(2, dim=1)
            coefs = torch.complex(re, im)
        return mask, coefs

    def apply(
        self, spec: torch.Tensor, mask: torch.Tensor, coefs: torch.Tensor | None
    ) -> torch.Tensor:
        """The clean estimate ``mask * spec``, plus the deep filter on the lowest bins.

        ``spec`` may have more leading dimensions than ``mask`` has (a stereo pair
        sharing one mask: ``spec (batch, channels, bins, frames)`` with the mask
        unsqueezed to ``(batch, 1, bins, frames)``).
        """
        out = mask * spec
        if coefs is None:
            return out
        cfg = self.config
        low = spec[..., : cfg.df_bins, :]
        frames = low.shape[-1]
        # Tap k reads frame t + lookahead - k; frames beyond either end count as 0.
        padded = F.pad(
            torch.view_as_real(low).movedim(-1, 0),
            (cfg.df_order - 1 - cfg.df_lookahead, cfg.df_lookahead),
        )
        padded = torch.view_as_complex(padded.movedim(0, -1).contiguous())
        taps = torch.stack(
            [
                padded[..., cfg.df_order - 1 - k : cfg.df_order - 1 - k + frames]
                for k in range(cfg.df_order)
            ],
            dim=-3,
        )  # (..., order, df_bins, frames)
        filtered = (coefs * taps).sum(dim=-3)
        return torch.cat(
            [out[..., : cfg.df_bins, :] + filtered, out[..., cfg.df_bins :, :]], dim=-2
        )

    def forward(self, noisy: torch.Tensor) -> torch.Tensor:
        """Estimate the clean signal.

        Parameters
        ----------
        noisy : torch.Tensor
            ``(batch, samples)`` or ``(samples,)`` audio at ``config.sr``.

        Returns
        -------
        torch.Tensor
            Same shape (exact length), float32.
        """
        if noisy.ndim not in (1, 2) or noisy.shape[-1] == 0:
            raise ParameterError(
                f"noisy has shape {tuple(noisy.shape)}; expected (batch, samples) or (samples,)"
            )
        x = noisy.unsqueeze(0) if noisy.ndim == 1 else noisy
        spec = self.stft(x)
        mask, coefs = self.estimate(spec)
        out = self.istft(self.apply(spec, mask, coefs), x.shape[-1])
        return out[0] if noisy.ndim == 1 else out

    def receptive_frames(self) -> int:
        """STFT frames on each side that reach one output frame (network and deep filter).

        Every 3-frame convolution reaches one frame further; the bottleneck's dilated
        ones ``2 ** k``; the deep filter ``max(lookahead, order - 1 - lookahead)``.
        """
        cfg = self.config
        levels = len(cfg.channels) - 1
        reach = 1 + 2 * levels + 1  # stem, down and up convolutions, the head
        reach += sum(2**k for k in range(cfg.bottleneck_blocks))
        if cfg.deep_filter:
            reach += max(cfg.df_lookahead, cfg.df_order - 1 - cfg.df_lookahead)
        if cfg.noise_floor_frames:
            reach += cfg.noise_floor_frames + 2  # the running minimum, then the smoothing
        return reach


def _unshuffle(x: torch.Tensor) -> torch.Tensor:
    """``(B, 2 K, rows, T)`` -> ``(B, K, 2 rows, T)``: channel ``2 k + j`` of row ``r`` is
    output ``k`` of bin ``2 r + j``."""
    b, c, rows, t = x.shape
    return x.view(b, c // 2, 2, rows, t).transpose(2, 3).reshape(b, c // 2, 2 * rows, t)


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))
