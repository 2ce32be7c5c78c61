"""Embedding model files: one ``.safetensors`` file with the weights and everything to use them.

The layout is the shared torchmusic container (:mod:`torchmusic.models.container`,
which writes and verifies it): safetensors tensors plus string metadata holding ``format`` =
``"torchmusic.embedder"``, ``format_version``, ``torchmusic_version``, ``spec`` (an
:class:`EmbeddingModelSpec` as JSON) and the ``payload_sha256`` / ``spec_sha256``
digests that make a truncated or tampered file a :class:`DataError`. Loading never
unpickles anything.

:func:`model_fingerprint` names the exact weights and settings of an embedding or
classifier model file; a catalog records it so embeddings of different models
are never mixed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from torchmusic.errors import DataError, ParameterError
from torchmusic.features.config import FeatureConfig
from torchmusic.io.container import (
    load_weights,
    read_container,
    spec_from_dict,
    spec_to_json,
    spec_with_model_config,
    write_container,
)
from torchmusic.models.embed.registry import (
    EMBEDDERS,
    embedder_architecture_of,
    make_embedder_config,
)
from torchmusic.models.modelfile import clip_frames, feature_bins

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
    expected = {"n_mels": feature_bins(feature), "n_frames": clip_frames(float(clip), feature)}
    for name, want in expected.items():
        if getattr(config, name) != want:
            raise ParameterError(
                f"model_config {name}={getattr(config, name)} does not match the spec, which "
                f"implies {name}={want} (feature kind={feature.kind!r}, clip_seconds={clip})"
            )
    return config


def save_embedding_model(
    path: str | os.PathLike[str], model: nn.Module, spec: EmbeddingModelSpec
) -> Path:
    """Write ``model`` and ``spec`` to one safetensors embedding model file, atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Output file; parent folders are created. An existing file is replaced only
        once the new one is completely written.
    model : nn.Module
        A :class:`ConvAutoencoder` or :class:`ContrastiveEncoder`.
    spec : EmbeddingModelSpec
        Its description (``model_config`` may be ``{}``: taken from ``model.config``).

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> from torchmusic.models.embed import build_embedder
    >>> model = build_embedder("contrastive", n_mels=64, n_frames=130)
    >>> spec = EmbeddingModelSpec("contrastive", {}, {"kind": "logmel", "n_mels": 64}, 3.0)
    >>> save_embedding_model("embedder.safetensors", model, spec)  # doctest: +SKIP
    PosixPath('embedder.safetensors')
    """
    if not isinstance(spec, EmbeddingModelSpec):
        raise ParameterError(f"spec must be an EmbeddingModelSpec, got {type(spec).__name__}")
    arch = embedder_architecture_of(model)
    if arch != spec.architecture:
        raise ParameterError(f"spec.architecture={spec.architecture!r} but the model is {arch!r}")
    spec = spec_with_model_config(spec, model)
    validate_embedding_spec(spec)
    spec_json = spec_to_json(spec)
    return write_container(
        path,
        model.state_dict(),
        format_name=FORMAT_NAME,
        format_version=FORMAT_VERSION,
        spec_json=spec_json,
    )


def read_model_metadata(path: str | os.PathLike[str]) -> tuple[bytes, dict[str, str], int]:
    """Raw bytes, verified safetensors metadata and tensor-data offset of a torchmusic model file.

    Works for classifier and embedding model files alike: checks that it is not a
    pickle, that the header parses, and that the weights' checksum matches.

    Raises
    ------
    DataError
        Missing, unreadable, pickled, not a torchmusic file, or corrupt.
    """
    raw, meta, _, start = read_container(
        path, format_name=None, format_version=None, what="model file"
    )
    return raw, meta, start


def fingerprint_of(meta: dict[str, str]) -> str:
    """Identity of a model file's weights + settings (hex), from its verified metadata."""
    text = f"{meta.get('format')}:{meta['payload_sha256']}:{meta['spec_sha256']}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def model_fingerprint(path: str | os.PathLike[str]) -> str:
    """Fingerprint of a classifier or embedding model file (same weights and spec: same value).

    Examples
    --------
    >>> model_fingerprint("embedder.safetensors")  # doctest: +SKIP
    '3f9a0c...'
    """
    return fingerprint_of(read_model_metadata(path)[1])


def _read_verified(path: Path) -> tuple[bytes, EmbeddingModelSpec, Any, dict[str, str]]:
    raw, meta, _, _ = read_container(
        path, format_name=FORMAT_NAME, format_version=FORMAT_VERSION, what="embedding model file"
    )
    try:
        spec = EmbeddingModelSpec.from_dict(json.loads(meta.get("spec", "")))
        config = validate_embedding_spec(spec)
    except json.JSONDecodeError as exc:
        raise DataError(f"embedding model file {path} has an unreadable spec: {exc}") from exc
    except ParameterError as exc:
        raise DataError(f"embedding model file {path}: {exc}") from exc
    return raw, spec, config, meta


def read_embedding_spec(path: str | os.PathLike[str]) -> EmbeddingModelSpec:
    """The verified :class:`EmbeddingModelSpec` of a file, without building the network."""
    return _read_verified(Path(path))[1]


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
    p = Path(path)
    raw, spec, config, _ = _read_verified(p)
    model = load_weights(
        EMBEDDERS[spec.architecture][1](config),
        raw,
        path=p,
        what="embedding model file",
        architecture=spec.architecture,
        device=device,
    )
    return model, spec
