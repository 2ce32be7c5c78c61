"""Vocos (Siuzdenko et al., 2023): predict STFT frames at the mel frame rate, then ISTFT.

No upsampling layers: a ConvNeXt backbone runs at the frame rate and a linear head
predicts each frame's log-magnitude and phase; :func:`torch.istft` makes the
waveform. Far cheaper than time-domain GANs for the same quality.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import nn

from torchmusic.errors import ParameterError
from torchmusic.models.vocoder.generators import as_batch, check_common, check_positive_int

#: Paper-sized backbones: "mel" is the 24 kHz mel-spectrogram model, "encodec" the
#: EnCodec-token one (the same backbone, narrower).
_PRESETS: dict[str, dict[str, int]] = {
    "mel": {"dim": 512, "intermediate_dim": 1536, "num_layers": 8},
    "encodec": {"dim": 384, "intermediate_dim": 1152, "num_layers": 8},
}


@dataclasses.dataclass
class VocosConfig:
    """Sizes of a :class:`Vocos` generator.

    The default is a CPU-friendly size; :meth:`preset` gives the paper's.

    Parameters
    ----------
    n_mels : int
        Mel bands of the input.
    hop_length : int
        Hop of the ISTFT (samples per mel frame).
    input_scale : float
        The dB log-mel is multiplied by this first.
    dim, intermediate_dim : int
        Width of the ConvNeXt blocks and of their pointwise MLP.
    num_layers : int
        Number of ConvNeXt blocks.
    n_fft : int
        FFT size (and window length) of the ISTFT; must exceed ``hop_length`` (a Hann
        window with no overlap has zeros the overlap-add cannot divide by).
    layer_scale_init : float or None
        Initial layer scale of each block; None is ``1 / num_layers``.
    max_magnitude : float
        ``exp(log-magnitude)`` is clamped to this, so early training cannot overflow.

    Examples
    --------
    >>> VocosConfig.preset("mel", hop_length=256).dim
    512
    """

    n_mels: int = 128
    hop_length: int = 512
    input_scale: float = 0.05
    dim: int = 256
    intermediate_dim: int = 768
    num_layers: int = 6
    n_fft: int = 2048
    layer_scale_init: float | None = None
    max_magnitude: float = 1e2

    def __post_init__(self) -> None:
        check_common(self.n_mels, self.hop_length, self.input_scale)
        for name in ("dim", "intermediate_dim", "num_layers", "n_fft"):
            check_positive_int(name, getattr(self, name))
        if self.n_fft <= self.hop_length:
            raise ParameterError(
                f"n_fft={self.n_fft} must be greater than hop_length={self.hop_length} "
                f"(the ISTFT's Hann windows must overlap)"
            )
        if self.layer_scale_init is not None and not self.layer_scale_init > 0:
            raise ParameterError(f"layer_scale_init={self.layer_scale_init!r} must be > 0 or None")
        if not self.max_magnitude > 0:
            raise ParameterError(f"max_magnitude={self.max_magnitude!r} must be > 0")

    @classmethod
    def preset(
        cls,
        name: str = "mel",
        *,
        hop_length: int = 512,
        n_mels: int = 128,
        n_fft: int | None = None,
    ) -> VocosConfig:
        """The paper's backbone: ``"mel"`` (dim 512, 1536, 8 layers) or ``"encodec"`` (384, 1152, 8).

        ``n_fft`` defaults to ``4 * hop_length`` (the paper: hop 256, n_fft 1024).

        Examples
        --------
        >>> VocosConfig.preset("encodec").intermediate_dim
        1152
        """
        if name not in _PRESETS:
            raise ParameterError(
                f"unknown Vocos preset {name!r}; expected one of {sorted(_PRESETS)}"
            )
        return cls(
            n_mels=n_mels,
            hop_length=hop_length,
            n_fft=4 * hop_length if n_fft is None else n_fft,
            **_PRESETS[name],
        )


class _ConvNeXtBlock(nn.Module):
    """Depthwise conv 7 -> LayerNorm -> Linear -> GELU -> Linear -> layer scale, residual."""

    def __init__(self, dim: int, intermediate_dim: int, layer_scale: float) -> None:
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, intermediate_dim)
        self.pwconv2 = nn.Linear(intermediate_dim, dim)
        self.gamma = nn.Parameter(torch.full((dim,), float(layer_scale)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.dwconv(x).transpose(1, 2)  # (B, T, C): LayerNorm and Linear act on C
        h = self.pwconv2(F.gelu(self.pwconv1(self.norm(h))))
        return x + (self.gamma * h).transpose(1, 2)


class Vocos(nn.Module):
    """Vocos generator: ``(batch, n_mels, frames)`` dB log-mel -> ``(batch, frames * hop)``.

    Parameters
    ----------
    config : VocosConfig
        Kept as ``self.config``.

    Examples
    --------
    >>> model = Vocos(VocosConfig(n_mels=80, hop_length=256, n_fft=1024, dim=32,
    ...                           intermediate_dim=64, num_layers=2))
    >>> model(torch.randn(2, 80, 10) * 20 - 40).shape
    torch.Size([2, 2560])
    """

    window: torch.Tensor

    def __init__(self, config: VocosConfig) -> None:
        super().__init__()
        self.config = config
        self.embed = nn.Conv1d(config.n_mels, config.dim, 7, padding=3)
        self.norm = nn.LayerNorm(config.dim, eps=1e-6)
        scale = config.layer_scale_init or 1.0 / config.num_layers
        self.blocks = nn.ModuleList(
            _ConvNeXtBlock(config.dim, config.intermediate_dim, scale)
            for _ in range(config.num_layers)
        )
        self.final_norm = nn.LayerNorm(config.dim, eps=1e-6)
        self.head = nn.Linear(config.dim, config.n_fft + 2)
        self.register_buffer("window", torch.hann_window(config.n_fft), persistent=False)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        # Vocos' init: small truncated-normal weights keep the initial magnitudes near 1.
        if isinstance(module, (nn.Conv1d, nn.Linear)):
            nn.init.trunc_normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)

    def magnitude_phase(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The predicted STFT magnitude and (unwrapped) phase, each ``(batch, n_fft // 2 + 1,
        frames)``, of a 3-D mel (what the ONNX export runs before its own inverse STFT)."""
        x = self.embed(mel * self.config.input_scale)
        x = self.norm(x.transpose(1, 2)).transpose(1, 2)
        for block in self.blocks:
            x = block(x)
        h = self.head(self.final_norm(x.transpose(1, 2))).transpose(1, 2)
        log_mag, phase = h.chunk(2, dim=1)
        # exp can overflow in early training; the clamp bounds it (gradients stop above).
        return torch.exp(log_mag).clamp(max=self.config.max_magnitude), phase

    def spectrum(self, mel: torch.Tensor) -> torch.Tensor:
        """The predicted complex STFT ``(batch, n_fft // 2 + 1, frames)`` of a 3-D mel."""
        mag, phase = self.magnitude_phase(mel)
        # cos / sin of an unbounded angle, as in Vocos: the phase wraps naturally.
        return torch.complex(mag * torch.cos(phase), mag * torch.sin(phase))

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """``(batch, n_mels, frames)`` or ``(n_mels, frames)`` -> ``(batch, frames * hop)`` or ``(samples,)``."""
        x, unbatched = as_batch(mel, self.config.n_mels)
        frames, hop, n_fft = x.shape[-1], self.config.hop_length, self.config.n_fft
        spec = self.spectrum(x)
        # The output runs one hop past the last frame's centre, where (for n_fft near
        # 2 * hop) only the vanishing end of the last window reaches and the overlap-add
        # would divide by ~0: one repeated frame covers that tail.
        spec = torch.cat([spec, spec[..., -1:]], dim=-1)
        y = torch.istft(
            spec,
            n_fft,
            hop_length=hop,
            win_length=n_fft,
            window=self.window.to(spec.real.dtype),
            center=True,
            length=frames * hop,
        )
        return y[0] if unbatched else y
