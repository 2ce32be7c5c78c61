"""Audio GANs: WaveGAN (waveforms) and SpecGAN (log-mel images), unconditional or class-conditional.

Plain ``nn.Module`` networks holding a ``@dataclass`` config as ``.config``; no
training loop here.

- :class:`WaveGANGenerator` / :class:`WaveGANDiscriminator` (:class:`WaveGANConfig`),
  with :class:`PhaseShuffle`: latent ``(batch, latent_dim)`` -> audio ``(batch, length)``.
- :class:`SpecGANGenerator` / :class:`SpecGANDiscriminator` (:class:`SpecGANConfig`):
  latent -> log-mel ``(batch, n_mels, n_frames)`` in [-1, 1]; :func:`to_db` /
  :func:`from_db` map to and from the toolkit's dB log-mel.
- Conditional models (``n_classes > 0``) take ``labels`` ``(batch,)`` as a second
  argument: a label embedding concatenated to the latent, and a projection discriminator.
- Losses: :func:`gradient_penalty` (WGAN-GP), Wasserstein, hinge and LSGAN losses,
  :func:`adversarial_losses` by name.
- :data:`GAN_REGISTRY`, :data:`DISCRIMINATORS` and :func:`build_gan`.
- Model files (``torchmusic.gan``): :class:`GanSpec`, :func:`save_gan`,
  :func:`load_gan_file`, :data:`GAN_FORMAT`.

Names load on first use.

Examples
--------
>>> from torchmusic.models.gan import build_gan
>>> g, d = build_gan("wavegan", dim=4, length=1024, n_layers=3)
>>> d(g(torch.randn(2, 100))).shape  # doctest: +SKIP
torch.Size([2])
"""

from __future__ import annotations

from torchmusic._lazy import lazy_package

_P = "torchmusic.models.gan."
_LAZY = {
    **dict.fromkeys(
        ["PhaseShuffle", "WaveGANConfig", "WaveGANDiscriminator", "WaveGANGenerator"],
        _P + "wavegan",
    ),
    **dict.fromkeys(
        [
            "DB_RANGE",
            "SpecGANConfig",
            "SpecGANDiscriminator",
            "SpecGANGenerator",
            "from_db",
            "to_db",
        ],
        _P + "specgan",
    ),
    **dict.fromkeys(
        [
            "ADVERSARIAL_LOSSES",
            "adversarial_losses",
            "gradient_penalty",
            "hinge_discriminator_loss",
            "hinge_generator_loss",
            "lsgan_discriminator_loss",
            "lsgan_generator_loss",
            "wgan_discriminator_loss",
            "wgan_generator_loss",
        ],
        _P + "losses",
    ),
    **dict.fromkeys(["DISCRIMINATORS", "GAN_REGISTRY", "build_gan"], _P + "registry"),
    **dict.fromkeys(
        [
            "GAN_FORMAT",
            "GanSpec",
            "load_gan_file",
            "read_gan_spec",
            "save_gan",
            "specgan_feature",
            "validate_gan_spec",
        ],
        _P + "ganfile",
    ),
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_package(__name__, _LAZY, submodules=True)
