"""The vocoder registry (name -> (config class, generator class)) and :func:`build_vocoder`."""

from __future__ import annotations

from typing import Any

from torch import nn

from torchmusic.io.registry import Registry
from torchmusic.models.vocoder.hifigan import HiFiGAN, HiFiGANConfig
from torchmusic.models.vocoder.melgan import MelGAN, MelGANConfig
from torchmusic.models.vocoder.vocos import Vocos, VocosConfig

VOCODER_REGISTRY = Registry(
    "vocoder",
    label="vocoder architecture",
    base=nn.Module,
    base_name="nn.Module",
    required_fields=("n_mels", "hop_length"),
)
VOCODER_REGISTRY.register("hifigan", HiFiGANConfig, HiFiGAN)
VOCODER_REGISTRY.register("melgan", MelGANConfig, MelGAN)
VOCODER_REGISTRY.register("vocos", VocosConfig, Vocos)


def build_vocoder(name: str, **config: Any) -> nn.Module:
    """Build the generator ``name`` from config fields.

    Parameters
    ----------
    name : {"hifigan", "melgan", "vocos"}
    **config
        Fields of its config (``n_mels=80``, ``hop_length=256``, ...); unknown ones
        are an error.

    Returns
    -------
    nn.Module
        ``forward(mel)``: ``(batch, n_mels, frames)`` dB log-mel -> ``(batch, frames * hop_length)``.

    Examples
    --------
    >>> model = build_vocoder("vocos", n_mels=80, dim=64, intermediate_dim=128, num_layers=2)
    >>> model.config.hop_length
    512
    """
    return VOCODER_REGISTRY.build(name, **config)
