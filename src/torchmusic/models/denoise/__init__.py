"""Neural music denoisers: an STFT-domain U-Net with a bounded complex mask, its losses
and its model-file format.

Plain ``nn.Module`` networks holding a ``@dataclass`` config as ``.config``; no
training loop here (:mod:`torchmusic.training.denoise`) and no file handling
(:mod:`torchmusic.serve.denoise`).

- :class:`DenoiserUNet` / :class:`DenoiserConfig` (profiles ``"cpu"``: 22,050 Hz,
  ~0.4 M parameters; ``"gpu"``: 44,100 Hz, ~3 M): ``forward(noisy)`` maps
  ``(batch, samples)`` to the clean estimate of the same shape.
- Losses: :func:`neg_si_sdr`, :class:`CompressedSTFTLoss`, :class:`DenoiseLoss`.
- :data:`DENOISER_REGISTRY`, :func:`build_denoiser`, and the ``torchmusic.denoiser``
  model file (:data:`DENOISER_FORMAT`, :func:`save_denoiser`, :func:`load_denoiser_file`).

Names load on first use.

Examples
--------
>>> from torchmusic.models.denoise import build_denoiser
>>> net = build_denoiser(preset="cpu")
>>> net(torch.randn(1, 22050)).shape  # doctest: +SKIP
torch.Size([1, 22050])
"""

from __future__ import annotations

from torchmusic._lazy import lazy_package

_P = "torchmusic.models.denoise."
_LAZY = {
    "DenoiserConfig": _P + "unet",
    "DenoiserUNet": _P + "unet",
    "PRESETS": _P + "unet",
    "DENOISER_REGISTRY": _P + "registry",
    "build_denoiser": _P + "registry",
    "DENOISER_FORMAT": _P + "denoiserfile",
    "DenoiserSpec": _P + "denoiserfile",
    "save_denoiser": _P + "denoiserfile",
    "load_denoiser_file": _P + "denoiserfile",
    "read_denoiser_spec": _P + "denoiserfile",
    "neg_si_sdr": _P + "losses",
    "CompressedSTFTLoss": _P + "losses",
    "DenoiseLoss": _P + "losses",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_package(__name__, _LAZY, submodules=True)
