"""Denoiser model files: a denoising network, its sample rate, and how it was trained.

The layout is the shared container (:mod:`torchmusic.io.container`) with ``format`` =
``"torchmusic.denoiser"``; the spec is a :class:`DenoiserSpec`. Shipped names
(``music-denoiser``) resolve like the other shipped models.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from torchmusic.errors import ParameterError
from torchmusic.io.container import spec_from_dict
from torchmusic.io.modelformat import ModelFormat
from torchmusic.models.denoise.registry import DENOISER_REGISTRY

FORMAT_NAME = "torchmusic.denoiser"
FORMAT_VERSION = 1


@dataclasses.dataclass
class DenoiserSpec:
    """Everything besides the weights that a denoiser model file needs.

    Attributes
    ----------
    architecture : str
        ``"unet"``.
    model_config : dict
        The network's config as a plain dict (filled from ``model.config`` on save).
    sample_rate : int
        The rate the network works at (Hz); equals ``model_config["sr"]``.
    metrics : dict
        Training / validation figures (free form, JSON-able).
    extra : dict
        Anything else JSON-able (training settings, data and licences, ...).
    """

    architecture: str
    model_config: dict[str, Any]
    sample_rate: int
    metrics: dict[str, Any] = dataclasses.field(default_factory=dict)
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON dict of all fields."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DenoiserSpec:
        """Inverse of :meth:`to_dict`; unknown or missing keys are a :class:`ParameterError`."""
        return spec_from_dict(cls, data)


def validate_denoiser_spec(spec: DenoiserSpec) -> Any:
    """Check ``spec`` against its architecture; returns the network config.

    Raises
    ------
    ParameterError
        Naming the value: a non-dict field, or a ``sample_rate`` other than the
        network's ``sr``.
    """
    for name in ("model_config", "metrics", "extra"):
        if not isinstance(getattr(spec, name), dict):
            raise ParameterError(f"{name}={getattr(spec, name)!r} must be a dict")
    config = DENOISER_REGISTRY.make_config(spec.architecture, spec.model_config)
    if spec.sample_rate != config.sr:
        raise ParameterError(
            f"sample_rate={spec.sample_rate!r} does not match the network's sr={config.sr}"
        )
    return config


#: The denoiser model-file format; shipped names (``music-denoiser``) resolve too.
DENOISER_FORMAT = ModelFormat(
    FORMAT_NAME,
    FORMAT_VERSION,
    DenoiserSpec,
    "denoiser model file",
    registry=DENOISER_REGISTRY,
    validate=validate_denoiser_spec,
    shipped=True,
)


def save_denoiser(path: str | os.PathLike[str], model: nn.Module, spec: DenoiserSpec) -> Path:
    """Write a denoiser network and its spec to one model file, atomically.

    ``spec.model_config`` may be ``{}`` (filled from ``model.config``).

    Examples
    --------
    >>> from torchmusic.models.denoise import build_denoiser
    >>> net = build_denoiser(preset="cpu")
    >>> save_denoiser("d.safetensors", net, DenoiserSpec("unet", {}, 22050))  # doctest: +SKIP
    PosixPath('d.safetensors')
    """
    return DENOISER_FORMAT.save(path, model, spec)


def read_denoiser_spec(path: str | os.PathLike[str]) -> DenoiserSpec:
    """The verified :class:`DenoiserSpec` of a file (or shipped name), without the weights."""
    return DENOISER_FORMAT.read_spec(path)


def load_denoiser_file(
    path: str | os.PathLike[str], *, device: str | torch.device = "cpu"
) -> tuple[nn.Module, DenoiserSpec]:
    """Load a denoiser model file (or shipped name); never unpickles anything.

    Raises
    ------
    DataError
        Naming the file: missing, pickled, another kind of model file (a classifier
        given to ``denoise`` is named as one), corrupt, or a newer format.
    """
    return DENOISER_FORMAT.load(path, device=device)
