"""Vocoder model files: a vocoder network, the log-mel it inverts, and how it was trained.

The layout is the shared container (:mod:`torchmusic.io.container`) with ``format`` =
``"torchmusic.vocoder"``; the spec is a :class:`VocoderSpec`. The spec stores the
exact :class:`~torchmusic.features.FeatureConfig` of the input log-mel, so that a
mel computed with other settings is refused (:func:`check_mel_settings`) instead
of being turned into noise.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from torchmusic.errors import ParameterError
from torchmusic.features.config import FeatureConfig
from torchmusic.io.container import spec_from_dict
from torchmusic.io.modelformat import ModelFormat
from torchmusic.models.vocoder.registry import VOCODER_REGISTRY

FORMAT_NAME = "torchmusic.vocoder"
FORMAT_VERSION = 1


@dataclasses.dataclass
class VocoderSpec:
    """Everything besides the weights that a vocoder model file needs.

    Attributes
    ----------
    architecture : str
        ``"hifigan"``, ``"melgan"`` or ``"vocos"``.
    model_config : dict
        The network's config as a plain dict (filled from ``model.config`` on save).
    feature : dict
        ``FeatureConfig.to_dict()`` of the log-mel the vocoder inverts (``kind``
        must be ``"logmel"``; its ``hop_length`` and ``n_mels`` are the network's).
    metrics : dict
        Training / validation figures (free form, JSON-able).
    extra : dict
        Anything else JSON-able (training settings, data and licences, ...).
    """

    architecture: str
    model_config: dict[str, Any]
    feature: dict[str, Any]
    metrics: dict[str, Any] = dataclasses.field(default_factory=dict)
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def sample_rate(self) -> int:
        """Sample rate of the audio the vocoder makes (Hz)."""
        return int(self.feature_config().sr)

    def feature_config(self) -> FeatureConfig:
        """The input log-mel's :class:`FeatureConfig`."""
        return FeatureConfig.from_dict(dict(self.feature))

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON dict of all fields."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VocoderSpec:
        """Inverse of :meth:`to_dict`; unknown or missing keys are a :class:`ParameterError`."""
        return spec_from_dict(cls, data)


def validate_vocoder_spec(spec: VocoderSpec) -> Any:
    """Check ``spec`` against its architecture; returns the network config.

    Raises
    ------
    ParameterError
        Naming the value: a feature that is not a log-mel, or a network whose
        ``n_mels`` / ``hop_length`` differ from the feature's.
    """
    for name in ("model_config", "metrics", "extra", "feature"):
        if not isinstance(getattr(spec, name), dict):
            raise ParameterError(f"{name}={getattr(spec, name)!r} must be a dict")
    feature = spec.feature_config()
    if feature.kind != "logmel":
        raise ParameterError(f"a vocoder inverts a log-mel; feature kind={feature.kind!r}")
    config = VOCODER_REGISTRY.make_config(spec.architecture, spec.model_config)
    for name, want in (("n_mels", feature.n_mels), ("hop_length", feature.hop_length)):
        if getattr(config, name) != want:
            raise ParameterError(
                f"model_config {name}={getattr(config, name)} does not match the feature's "
                f"{name}={want}"
            )
    return config


#: The vocoder model-file format; shipped names (``music-vocoder``) resolve too.
VOCODER_FORMAT = ModelFormat(
    FORMAT_NAME,
    FORMAT_VERSION,
    VocoderSpec,
    "vocoder model file",
    registry=VOCODER_REGISTRY,
    validate=validate_vocoder_spec,
    shipped=True,
)


def save_vocoder(path: str | os.PathLike[str], model: nn.Module, spec: VocoderSpec) -> Path:
    """Write a vocoder network and its spec to one model file, atomically.

    Examples
    --------
    >>> from torchmusic.models.vocoder import build_vocoder
    >>> net = build_vocoder("vocos")
    >>> spec = VocoderSpec("vocos", {}, {"kind": "logmel"})
    >>> save_vocoder("v.safetensors", net, spec)  # doctest: +SKIP
    PosixPath('v.safetensors')
    """
    return VOCODER_FORMAT.save(path, model, spec)


def read_vocoder_spec(path: str | os.PathLike[str]) -> VocoderSpec:
    """The verified :class:`VocoderSpec` of a file (or shipped name), without the weights."""
    return VOCODER_FORMAT.read_spec(path)


def load_vocoder_file(
    path: str | os.PathLike[str], *, device: str | torch.device = "cpu"
) -> tuple[nn.Module, VocoderSpec]:
    """Load a vocoder model file (or shipped name); never unpickles anything.

    Raises
    ------
    DataError
        Naming the file: missing, pickled, another kind of model file (a classifier
        given to ``vocode`` is named as one), corrupt, or a newer format.
    """
    return VOCODER_FORMAT.load(path, device=device)


def mel_settings_difference(expected: FeatureConfig, given: FeatureConfig) -> list[str]:
    """``["n_mels: model 128, given 80", ...]``: the settings in which two log-mels differ."""
    want, got = expected.to_dict(), given.to_dict()
    return [f"{k}: model {want[k]!r}, given {got[k]!r}" for k in want if want[k] != got.get(k)]


def check_mel_settings(expected: FeatureConfig, given: FeatureConfig) -> None:
    """Raise :class:`ParameterError` naming every setting in which ``given`` differs."""
    diff = mel_settings_difference(expected, given)
    if diff:
        raise ParameterError(
            "this mel was computed with other settings than the vocoder's: "
            + "; ".join(diff)
            + " (compute it with the model's FeatureConfig: Vocoder.feature)"
        )
