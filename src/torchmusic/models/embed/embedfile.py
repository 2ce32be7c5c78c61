"""Embedding model files: one ``.safetensors`` file with the weights and everything to use them.

The layout is the shared torchmusic container (:mod:`torchmusic.io.container`):
safetensors tensors plus string metadata holding ``format`` = ``"torchmusic.embedder"``,
``format_version``, ``torchmusic_version``, ``spec`` (an :class:`EmbeddingModelSpec`
as JSON) and the ``payload_sha256`` / ``spec_sha256`` digests that make a truncated
or tampered file a :class:`DataError`. Loading never unpickles anything. The format
is :data:`EMBEDDER_FORMAT`, a :class:`torchmusic.io.modelformat.ModelFormat`.

:func:`model_fingerprint` (from :mod:`torchmusic.io.modelformat`) names the exact
weights and settings of an embedding or classifier model file; a catalog records it
so embeddings of different models are never mixed.
"""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from torchmusic.errors import ParameterError
from torchmusic.features.config import FeatureConfig
from torchmusic.io.container import spec_from_dict
from torchmusic.io.modelformat import (  # noqa: F401 (re-exported: their old home)
    ModelFormat,
    fingerprint_of,
    model_fingerprint,
    read_model_metadata,
)
from torchmusic.models.embed.registry import EMBEDDER_REGISTRY, make_embedder_config

FORMAT_NAME = "torchmusic.embedder"
#: Bumped when the layout or the spec's meaning changes incompatibly.
FORMAT_VERSION = 1


@dataclasses.dataclass
class EmbeddingModelSpec:
    """Everything besides the weights that an embedding model file needs.

    Attributes
    ----------
    architecture : str
        ``"autoencoder"`` or ``"contrastive"``.
    model_config : dict
        Its config as a plain dict; :func:`save_embedding_model` fills it when empty.
    feature : dict
        ``FeatureConfig.to_dict()`` of the input features.
    clip_seconds : float
        Clip length the network sees; tracks are cut into windows of this length.
    metrics : dict
        Training figures (free form, JSON-able).
    extra : dict
        Anything else JSON-able (training settings, data provenance, ...).
    """

    architecture: str
    model_config: dict[str, Any]
    feature: dict[str, Any]
    clip_seconds: float
    metrics: dict[str, Any] = dataclasses.field(default_factory=dict)
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def dim(self) -> int:
        """Embedding size."""
        return int(make_embedder_config(self.architecture, self.model_config).dim)

    def feature_config(self) -> FeatureConfig:
        """The input features as a :class:`FeatureConfig`."""
        return FeatureConfig.from_dict(self.feature)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON dict of all fields."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EmbeddingModelSpec:
        """Inverse of :meth:`to_dict`; unknown or missing keys are a :class:`ParameterError`."""
        return spec_from_dict(cls, data)


def validate_embedding_spec(spec: EmbeddingModelSpec) -> Any:
    """Check ``spec`` on its own and against its architecture; returns the model config.

    Raises
    ------
    ParameterError
        The first problem found, naming the offending value.
    """
    clip = spec.clip_seconds
    if isinstance(clip, bool) or not isinstance(clip, int | float) or not 0 < clip < math.inf:
        raise ParameterError(f"clip_seconds={clip!r} must be a positive number")
    for name in ("model_config", "metrics", "extra", "feature"):
        if not isinstance(getattr(spec, name), dict):
            raise ParameterError(f"{name}={getattr(spec, name)!r} must be a dict")
    feature = spec.feature_config()
    config = make_embedder_config(spec.architecture, spec.model_config)
    expected = {"n_mels": feature.n_bins, "n_frames": feature.clip_frames(float(clip))}
    for name, want in expected.items():
        if getattr(config, name) != want:
            raise ParameterError(
                f"model_config {name}={getattr(config, name)} does not match the spec, which "
                f"implies {name}={want} (feature kind={feature.kind!r}, clip_seconds={clip})"
            )
    return config


#: The embedding model-file format (no shipped embedders: paths only).
EMBEDDER_FORMAT = ModelFormat(
    FORMAT_NAME,
    FORMAT_VERSION,
    EmbeddingModelSpec,
    "embedding model file",
    registry=EMBEDDER_REGISTRY,
    validate=validate_embedding_spec,
)


def save_embedding_model(
    path: str | os.PathLike[str], model: nn.Module, spec: EmbeddingModelSpec
) -> Path:
    """Write an embedding network and its spec to one model file, atomically.

    :meth:`~torchmusic.io.modelformat.ModelFormat.save` of :data:`EMBEDDER_FORMAT`:
    ``model`` is a registered network (:class:`ConvAutoencoder`,
    :class:`ContrastiveEncoder`, ...); ``spec.model_config`` may be ``{}`` (taken
    from ``model.config``); its sizes must fit the features and clip.

    Examples
    --------
    >>> from torchmusic.models.embed import build_embedder
    >>> model = build_embedder("contrastive", n_mels=64, n_frames=130)
    >>> spec = EmbeddingModelSpec("contrastive", {}, {"kind": "logmel", "n_mels": 64}, 3.0)
    >>> save_embedding_model("embedder.safetensors", model, spec)  # doctest: +SKIP
    PosixPath('embedder.safetensors')
    """
    return EMBEDDER_FORMAT.save(path, model, spec)


def read_embedding_spec(path: str | os.PathLike[str]) -> EmbeddingModelSpec:
    """The verified :class:`EmbeddingModelSpec` of a file, without building the network."""
    return EMBEDDER_FORMAT.read_spec(path)


def load_embedding_model(
    path: str | os.PathLike[str], *, device: str | torch.device = "cpu"
) -> tuple[nn.Module, EmbeddingModelSpec]:
    """Load a file written by :func:`save_embedding_model`; never unpickles anything.

    Parameters
    ----------
    path : str or os.PathLike
    device : str or torch.device

    Returns
    -------
    model : nn.Module
        In eval mode, with ``.embed(x)``: ``(batch, n_bins, n_frames)`` ->
        L2-normalised ``(batch, dim)``.
    spec : EmbeddingModelSpec

    Raises
    ------
    DataError
        Naming the file: missing, pickled, another kind of model file, corrupt,
        newer format, or weights that do not fit the recorded architecture.

    Examples
    --------
    >>> model, spec = load_embedding_model("embedder.safetensors")  # doctest: +SKIP
    >>> spec.dim  # doctest: +SKIP
    128
    """
    return EMBEDDER_FORMAT.load(path, device=device)
