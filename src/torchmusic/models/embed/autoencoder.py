"""Convolutional autoencoder on log-mel clips: the bottleneck vector is the clip embedding."""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import nn

from torchmusic.models.classify._common import check_int_tuple, check_positive_int
from torchmusic.models.embed._blocks import check_embedding_input, conv_stack, standardize_clips


@dataclasses.dataclass
class AutoencoderConfig:
    """Settings of :class:`ConvAutoencoder`.

    Parameters
    ----------
    n_mels : int
        Feature bins of the input.
    n_frames : int
        Frames per clip; sizes the dense bottleneck layers.
    dim : int
        Embedding size (the bottleneck).
    channels : tuple of int
        Output channels of the encoder's conv blocks (the decoder mirrors them).
    """

    n_mels: int
    n_frames: int
    dim: int = 128
    channels: tuple[int, ...] = (16, 32, 64, 64)

    def __post_init__(self) -> None:
        owner = type(self).__name__
        for name in ("n_mels", "n_frames", "dim"):
            check_positive_int(owner, name, getattr(self, name))
        self.channels = check_int_tuple(owner, "channels", self.channels)


class ConvAutoencoder(nn.Module):
    """Conv encoder -> ``dim``-vector -> mirrored upsampling decoder.

    Trained to reconstruct the per-clip standardised input
    (:func:`~torchmusic.models.embed._blocks.standardize_clips`) with a mean squared
    error; the bottleneck, L2-normalised, is the clip's embedding.

    Parameters
    ----------
    config : AutoencoderConfig

    Examples
    --------
    >>> model = ConvAutoencoder(AutoencoderConfig(n_mels=64, n_frames=130))
    >>> x = torch.randn(2, 64, 130)
    >>> model.embed(x).shape, model(x).shape
    (torch.Size([2, 128]), torch.Size([2, 64, 130]))
    """

    def __init__(self, config: AutoencoderConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder, (c, f, t) = conv_stack(
            config.channels, n_mels=config.n_mels, n_frames=config.n_frames
        )
        self._grid = (c, f, t)
        self.to_code = nn.Linear(c * f * t, config.dim)
        self.from_code = nn.Linear(config.dim, c * f * t)
        ups: list[nn.Module] = []
        outs = (*reversed(config.channels[:-1]), 8)
        c_in = c
        for c_out in outs:
            ups += [
                nn.Upsample(scale_factor=2, mode="nearest"),
                nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
            ]
            c_in = c_out
        ups.append(nn.Conv2d(c_in, 1, 3, padding=1))
        self.decoder = nn.Sequential(*ups)

    def code(self, x: torch.Tensor) -> torch.Tensor:
        """Bottleneck ``(batch, dim)`` (not normalised) of features ``(batch, n_mels, n_frames)``."""
        check_embedding_input(type(self).__name__, x, self.config.n_mels, self.config.n_frames)
        h = self.encoder(standardize_clips(x).unsqueeze(1))
        return self.to_code(h.flatten(1))

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        """Reconstruction ``(batch, n_mels, n_frames)`` of bottleneck codes ``(batch, dim)``."""
        h = self.from_code(code).view(-1, *self._grid)
        out = self.decoder(h)
        # Halving floors odd sizes, so doubling back may miss a bin or frame: resize.
        out = F.interpolate(out, size=(self.config.n_mels, self.config.n_frames), mode="nearest")
        return out.squeeze(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction of ``x``'s standardised clips, ``(batch, n_mels, n_frames)``."""
        return self.decode(self.code(x))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """L2-normalised clip embeddings ``(batch, dim)`` of ``x`` ``(batch, n_mels, n_frames)``."""
        return F.normalize(self.code(x), dim=-1)

    @staticmethod
    def reconstruction_loss(x: torch.Tensor, reconstruction: torch.Tensor) -> torch.Tensor:
        """Mean squared error against the standardised input (the training objective)."""
        return F.mse_loss(reconstruction, standardize_clips(x))
