"""Neural vocoders: log-mel -> waveform generators, GAN discriminators and losses.

Plain ``nn.Module`` networks holding a ``@dataclass`` config as ``.config``; no
training loop here (the trainer applies the loss weights).

- Generators: :class:`HiFiGAN`, :class:`MelGAN`, :class:`Vocos`; ``forward(mel)``
  maps torchmusic's dB log-mel ``(batch, n_mels, frames)`` to ``(batch, frames * hop_length)``.
- Discriminators: :class:`MultiPeriodDiscriminator`, :class:`MultiScaleDiscriminator`,
  :class:`MultiResolutionDiscriminator`; ``forward(wav) -> (logits, features)``.
- Losses: LSGAN / hinge adversarial losses, :func:`feature_matching_loss`,
  :class:`MelLoss`, :class:`MultiResolutionSTFTLoss`.
- :data:`VOCODER_REGISTRY` and :func:`build_vocoder`.
- :func:`export_onnx` / :func:`export_vocoder_onnx`: a generator (or model file) as one
  ONNX file with dynamic batch and frames (:mod:`.export`; the ``onnx`` extra).

Names load on first use.

Examples
--------
>>> from torchmusic.models.vocoder import build_vocoder
>>> model = build_vocoder("hifigan", n_mels=80)
>>> model(torch.randn(1, 80, 4)).shape  # doctest: +SKIP
torch.Size([1, 2048])
"""

from __future__ import annotations

from torchmusic._lazy import lazy_package

_P = "torchmusic.models.vocoder."
_LAZY = {
    "HiFiGAN": _P + "hifigan",
    "HiFiGANConfig": _P + "hifigan",
    "MelGAN": _P + "melgan",
    "MelGANConfig": _P + "melgan",
    "Vocos": _P + "vocos",
    "VocosConfig": _P + "vocos",
    "remove_weight_norm": _P + "generators",
    "MultiPeriodDiscriminator": _P + "discriminators",
    "MultiScaleDiscriminator": _P + "discriminators",
    "MultiResolutionDiscriminator": _P + "discriminators",
    "lsgan_discriminator_loss": _P + "losses",
    "lsgan_generator_loss": _P + "losses",
    "hinge_discriminator_loss": _P + "losses",
    "hinge_generator_loss": _P + "losses",
    "feature_matching_loss": _P + "losses",
    "MelLoss": _P + "losses",
    "MultiResolutionSTFTLoss": _P + "losses",
    "VOCODER_REGISTRY": _P + "registry",
    "export_onnx": _P + "export",
    "export_vocoder_onnx": _P + "export",
    "build_vocoder": _P + "registry",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_package(__name__, _LAZY, submodules=True)
