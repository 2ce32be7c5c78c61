"""The embedding-network registry (name -> (config class, network class)) and the builder.

A :class:`torchmusic.io.registry.Registry`; the functions here are its long-standing names.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from torchmusic.io.registry import Registry
from torchmusic.models.embed.autoencoder import AutoencoderConfig, ConvAutoencoder
from torchmusic.models.embed.contrastive import ContrastiveConfig, ContrastiveEncoder

EMBEDDER_REGISTRY = Registry(
    "embedder",
    label="embedding architecture",
    base=nn.Module,
    base_name="nn.Module",
    required_fields=("n_mels", "n_frames"),
)
#: ``name -> (ConfigClass, ModelClass)`` (the registry's own table); every model has
#: ``.embed(x) -> (batch, dim)``.
EMBEDDERS: dict[str, tuple[type, type[nn.Module]]] = EMBEDDER_REGISTRY.entries
EMBEDDER_REGISTRY.register("autoencoder", AutoencoderConfig, ConvAutoencoder)
EMBEDDER_REGISTRY.register("contrastive", ContrastiveConfig, ContrastiveEncoder)


def register_embedder(name: str, config_cls: type, model_cls: type[nn.Module]) -> None:
    """Make ``name`` buildable by :func:`build_embedder` and loadable from model files.

    ``config_cls`` needs ``n_mels`` and ``n_frames`` fields; ``model_cls(config)``
    must keep it as ``.config`` and have ``.embed(x)``.
    """
    EMBEDDER_REGISTRY.register(name, config_cls, model_cls)


def make_embedder_config(architecture: str, settings: dict[str, Any]) -> Any:
    """The config dataclass of ``architecture`` from a plain dict; unknown keys are an error."""
    return EMBEDDER_REGISTRY.make_config(architecture, settings)


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
    return EMBEDDER_REGISTRY.build(
        architecture, **dict(overrides, n_mels=n_mels, n_frames=n_frames)
    )


def embedder_architecture_of(model: nn.Module) -> str:
    """Registered name of ``model``'s class (:class:`ParameterError` when it is not one)."""
    return EMBEDDER_REGISTRY.name_of(model)
