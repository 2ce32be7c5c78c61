"""Name -> (config class, network class) of the embedding networks, and the builder."""

from __future__ import annotations

import dataclasses
from typing import Any

from torch import nn

from torchmusic.errors import ParameterError
from torchmusic.models.embed.autoencoder import AutoencoderConfig, ConvAutoencoder
from torchmusic.models.embed.contrastive import ContrastiveConfig, ContrastiveEncoder

#: ``name -> (ConfigClass, ModelClass)``; every model has ``.embed(x) -> (batch, dim)``.
EMBEDDERS: dict[str, tuple[type, type[nn.Module]]] = {
    "autoencoder": (AutoencoderConfig, ConvAutoencoder),
    "contrastive": (ContrastiveConfig, ContrastiveEncoder),
}


def make_embedder_config(architecture: str, settings: dict[str, Any]) -> Any:
    """The config dataclass of ``architecture`` from a plain dict; unknown keys are an error."""
    if architecture not in EMBEDDERS:
        raise ParameterError(
            f"unknown embedding architecture {architecture!r}; expected one of {sorted(EMBEDDERS)}"
        )
    config_cls, _ = EMBEDDERS[architecture]
    known = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise ParameterError(
            f"unknown setting(s) {unknown} for embedding architecture {architecture!r}; "
            f"expected a subset of {sorted(known)}"
        )
    try:
        return config_cls(**settings)
    except TypeError as exc:  # a required field is missing
        raise ParameterError(f"settings for {architecture!r}: {exc}") from exc


def build_embedder(architecture: str, *, n_mels: int, n_frames: int, **overrides: Any) -> nn.Module:
    """Build an embedding network for ``(n_mels, n_frames)`` clips.

    Parameters
    ----------
    architecture : {"autoencoder", "contrastive"}
    n_mels, n_frames : int
        Input size.
    **overrides
        Further config fields (``dim=64``, ``channels=(8, 16)``, ...).

    Returns
    -------
    nn.Module
        With ``.embed(x)``: ``(batch, n_mels, n_frames)`` -> L2-normalised ``(batch, dim)``.

    Examples
    --------
    >>> model = build_embedder("contrastive", n_mels=64, n_frames=130, dim=32)
    >>> model.config.dim
    32
    """
    config = make_embedder_config(architecture, dict(overrides, n_mels=n_mels, n_frames=n_frames))
    return EMBEDDERS[architecture][1](config)


def embedder_architecture_of(model: nn.Module) -> str:
    """Registered name of ``model``'s class (:class:`ParameterError` when it is not one)."""
    for name, (_, model_cls) in EMBEDDERS.items():
        if type(model) is model_cls:
            return name
    raise ParameterError(
        f"{type(model).__name__} is not an embedding network; expected one of {sorted(EMBEDDERS)}"
    )
