"""The denoiser registry (name -> (config class, network class)) and :func:`build_denoiser`."""

from __future__ import annotations

from typing import Any

from torch import nn

from torchmusic.io.registry import Registry
from torchmusic.models.denoise.unet import DenoiserConfig, DenoiserUNet

DENOISER_REGISTRY = Registry(
    "denoiser",
    label="denoiser architecture",
    base=nn.Module,
    base_name="nn.Module",
    required_fields=("sr", "n_fft", "hop_length"),
)
DENOISER_REGISTRY.register("unet", DenoiserConfig, DenoiserUNet)


def build_denoiser(name: str = "unet", *, preset: str | None = None, **config: Any) -> nn.Module:
    """Build the denoiser ``name``, from a preset and/or config fields.

    Parameters
    ----------
    name : {"unet"}
    preset : {"cpu", "gpu"}, optional
        Start from this profile (:meth:`DenoiserConfig.preset`); ``config`` overrides it.
    **config
        Fields of its config (``sr=22050``, ``channels=[16, 32]``, ...); unknown ones
        are an error.

    Returns
    -------
    nn.Module
        ``forward(noisy)``: ``(batch, samples)`` -> ``(batch, samples)`` at ``config.sr``.

    Examples
    --------
    >>> net = build_denoiser(preset="cpu", channels=[8, 16], bottleneck_blocks=1)
    >>> net.config.sr, net.config.channels
    (22050, [8, 16])
    """
    config_cls, model_cls = DENOISER_REGISTRY.get(name)
    if preset is not None:
        if not hasattr(config_cls, "preset"):
            from torchmusic.errors import ParameterError

            raise ParameterError(f"preset={preset!r}: denoiser {name!r} has no presets")
        return model_cls(config_cls.preset(preset, **config))
    return DENOISER_REGISTRY.build(name, **config)
