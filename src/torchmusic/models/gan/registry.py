"""The GAN registry (name -> (config class, generator class)) and :func:`build_gan`.

The registry holds the *generators*, as the vocoder's does: they are what a model file
ships and what sampling loads. Each generator's discriminator, needed for training
only, is in :data:`DISCRIMINATORS` under the same name.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from torchmusic.io.registry import Registry
from torchmusic.models.gan.specgan import SpecGANConfig, SpecGANDiscriminator, SpecGANGenerator
from torchmusic.models.gan.wavegan import WaveGANConfig, WaveGANDiscriminator, WaveGANGenerator

GAN_REGISTRY = Registry(
    "gan",
    label="GAN architecture",
    base=nn.Module,
    base_name="nn.Module",
    required_fields=("latent_dim", "n_classes", "sample_rate"),
)
GAN_REGISTRY.register("wavegan", WaveGANConfig, WaveGANGenerator)
GAN_REGISTRY.register("specgan", SpecGANConfig, SpecGANGenerator)

#: Architecture name -> its discriminator class (built from the generator's config).
DISCRIMINATORS: dict[str, type[nn.Module]] = {
    "wavegan": WaveGANDiscriminator,
    "specgan": SpecGANDiscriminator,
}


def build_gan(arch: str, **config: Any) -> tuple[nn.Module, nn.Module]:
    """``(generator, discriminator)`` of architecture ``arch``, sharing one config.

    Parameters
    ----------
    arch : {"wavegan", "specgan"}
    **config
        Fields of its config (:class:`WaveGANConfig` or :class:`SpecGANConfig`);
        unknown ones are an error listing the valid ones.

    Examples
    --------
    >>> g, d = build_gan("wavegan", dim=4, length=1024, n_layers=3, n_classes=8)
    >>> g.config is d.config, g.config.n_classes
    (True, 8)
    """
    generator = GAN_REGISTRY.build(arch, **config)
    return generator, DISCRIMINATORS[arch](generator.config)
