"""Classifier model files: one ``.safetensors`` file with the weights and everything to use them.

Layout: a standard safetensors file (https://huggingface.co/docs/safetensors) whose
string metadata holds

- ``format`` = ``"torchmusic.classifier"`` and ``format_version`` (an int as text),
- ``torchmusic_version`` that wrote it,
- ``spec``: the :class:`ClassifierSpec` as JSON (architecture and its config, label
  names, single/multi-label, feature settings, clip length, metrics),
- ``payload_sha256`` / ``spec_sha256``: digests of the tensor bytes and of the spec,
  so a truncated or corrupted file is refused instead of giving wrong predictions.

safetensors stores raw tensor bytes and a JSON header only, so loading a file from
an untrusted source never executes code (unlike pickle-based ``torch.save`` files,
which are refused with a message saying why). The format is
:data:`CLASSIFIER_FORMAT`, a :class:`torchmusic.io.modelformat.ModelFormat`: writing,
verifying and loading are shared with the other torchmusic model files.
"""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from torchmusic.errors import DataError, ParameterError
from torchmusic.features.config import FeatureConfig
from torchmusic.io.container import (  # noqa: F401 (helpers re-exported for old importers)
    _json,
    _refuse_pickle,
    _sha256,
    _split_safetensors,
    load_weights,
    read_container,
    spec_from_dict,
    spec_to_json,
    spec_with_model_config,
    write_container,
)
from torchmusic.io.modelformat import ModelFormat
from torchmusic.models.classify.registry import CLASSIFIER_REGISTRY, make_config

FORMAT_NAME = "torchmusic.classifier"
#: Bumped when the layout or the spec's meaning changes incompatibly.
FORMAT_VERSION = 1


@dataclasses.dataclass
class ClassifierSpec:
    """Everything besides the weights that a model file needs to be used on audio.

    Attributes
    ----------
    architecture : str
        Registered architecture name (``"simple_cnn"``, ``"crnn"``, ``"shortchunk"``, ...).
    model_config : dict
        Its config as a plain dict (``dataclasses.asdict(model.config)``);
        :func:`save_classifier` fills it from the model when left empty.
    labels : list of str
        Class names; output ``i`` of the model is ``labels[i]``.
    multi_label : bool
        Outputs are independent tags (sigmoid) rather than one class (softmax).
    feature : dict
        ``FeatureConfig.to_dict()`` of the input features; audio is loaded at its ``sr``.
    clip_seconds : float
        Clip length the model sees; its ``n_frames`` is that many seconds of frames.
    metrics : dict
        Validation/test figures recorded at training time (free form, JSON-able).
    extra : dict
        Anything else JSON-able (training settings, data provenance, licences, ...).
    """

    architecture: str
    model_config: dict[str, Any]
    labels: list[str]
    multi_label: bool
    feature: dict[str, Any]
    clip_seconds: float
    metrics: dict[str, Any] = dataclasses.field(default_factory=dict)
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def n_classes(self) -> int:
        """Number of outputs (labels)."""
        return len(self.labels)

    def feature_config(self) -> FeatureConfig:
        """The input features as a :class:`FeatureConfig` (:class:`ParameterError` if invalid)."""
        if not isinstance(self.feature, dict):
            raise ParameterError(f"feature={self.feature!r} must be a FeatureConfig dict")
        return FeatureConfig.from_dict(self.feature)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON dict of all fields."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClassifierSpec:
        """Inverse of :meth:`to_dict`; unknown or missing keys are a :class:`ParameterError`."""
        return spec_from_dict(cls, data)


def feature_bins(feature: FeatureConfig) -> int:
    """Rows of ``feature.compute(y)``; an alias of :attr:`FeatureConfig.n_bins`."""
    return feature.n_bins


def clip_frames(clip_seconds: float, feature: FeatureConfig) -> int:
    """Frames of a ``clip_seconds`` clip; an alias of :meth:`FeatureConfig.clip_frames`."""
    return feature.clip_frames(clip_seconds)


def validate_spec(spec: ClassifierSpec) -> Any:
    """Check ``spec`` on its own and against its architecture; returns the model config.

    Raises
    ------
    ParameterError
        The first problem found, described with the offending value.
    """
    if not isinstance(spec.architecture, str):
        raise ParameterError(f"architecture={spec.architecture!r} must be a string")
    labels = spec.labels
    if (
        not isinstance(labels, list)
        or not labels
        or not all(isinstance(lab, str) and lab for lab in labels)
    ):
        raise ParameterError(f"labels={labels!r} must be a non-empty list of non-empty strings")
    if len(set(labels)) != len(labels):
        raise ParameterError(f"labels={labels!r} contain duplicates")
    if not isinstance(spec.multi_label, bool):
        raise ParameterError(f"multi_label={spec.multi_label!r} must be true or false")
    clip = spec.clip_seconds
    if isinstance(clip, bool) or not isinstance(clip, int | float) or not 0 < clip < math.inf:
        raise ParameterError(f"clip_seconds={clip!r} must be a positive number")
    for name in ("model_config", "metrics", "extra"):
        if not isinstance(getattr(spec, name), dict):
            raise ParameterError(f"{name}={getattr(spec, name)!r} must be a dict")
    try:
        feature = spec.feature_config()
    except ParameterError as exc:
        raise ParameterError(f"invalid feature settings {spec.feature!r}: {exc}") from exc
    config = make_config(spec.architecture, spec.model_config)
    # The model's sizes must be those of the features and clip it is fed, or it
    # would fail (or silently mis-predict) on the first file.
    expected = {
        "n_classes": len(labels),
        "n_mels": feature.n_bins,
        "n_frames": feature.clip_frames(float(clip)),
    }
    for name, want in expected.items():
        have = getattr(config, name)
        if have != want:
            raise ParameterError(
                f"model_config {name}={have} does not match the spec, which implies {name}="
                f"{want} (labels={len(labels)}, feature kind={feature.kind!r}, "
                f"clip_seconds={clip}, sr={feature.sr}, hop_length={feature.hop_length})"
            )
    return config


def check_feature_match(spec: ClassifierSpec, requested: FeatureConfig) -> None:
    """Raise :class:`DataError` if ``requested`` differs from the features ``spec`` was trained on.

    The message lists every differing setting with both values.

    Examples
    --------
    >>> check_feature_match(spec, FeatureConfig(n_mels=64))  # doctest: +SKIP
    DataError: feature settings differ from the model's: n_mels: model 128, requested 64
    """
    have = spec.feature_config().to_dict()
    want = requested.to_dict()
    diffs = [f"{k}: model {have[k]!r}, requested {want[k]!r}" for k in have if have[k] != want[k]]
    if diffs:
        raise DataError("feature settings differ from the model's: " + "; ".join(diffs))


#: The classifier model-file format.
CLASSIFIER_FORMAT = ModelFormat(
    FORMAT_NAME,
    FORMAT_VERSION,
    ClassifierSpec,
    "classifier model file",
    registry=CLASSIFIER_REGISTRY,
    validate=validate_spec,
    shipped=True,
)


def save_classifier(path: str | os.PathLike[str], model: nn.Module, spec: ClassifierSpec) -> Path:
    """Write a registered classifier and its spec to one model file, atomically.

    :meth:`~torchmusic.io.modelformat.ModelFormat.save` of :data:`CLASSIFIER_FORMAT`:
    ``spec.architecture`` must name the model's class (one in :data:`CLASSIFIERS`),
    ``spec.model_config`` may be ``{}`` (filled from ``model.config``), and the
    sizes must fit the labels, features and clip (:func:`validate_spec`);
    :class:`ParameterError` otherwise.

    Examples
    --------
    >>> from torchmusic.models import build_classifier
    >>> model = build_classifier("crnn", n_mels=128, n_frames=130, n_classes=2)
    >>> spec = ClassifierSpec("crnn", {}, ["a", "b"], False, FeatureConfig().to_dict(), 3.0)
    >>> save_classifier("model.safetensors", model, spec)  # doctest: +SKIP
    PosixPath('model.safetensors')
    """
    return CLASSIFIER_FORMAT.save(path, model, spec)


def read_spec(path: str | os.PathLike[str]) -> ClassifierSpec:
    """The verified :class:`ClassifierSpec` of a model file (or shipped name), without the model.

    Raises
    ------
    DataError
        As :func:`load_classifier`.
    """
    return CLASSIFIER_FORMAT.read_spec(path)


def load_classifier(
    path: str | os.PathLike[str], *, device: str | torch.device = "cpu"
) -> tuple[nn.Module, ClassifierSpec]:
    """Load a model file written by :func:`save_classifier`; never unpickles anything.

    Parameters
    ----------
    path : str or os.PathLike
        Model file, or the name of a shipped model (``"drums"``; see
        :func:`torchmusic.pretrained.resolve_model`).
    device : str or torch.device
        Where the model is put.

    Returns
    -------
    model : nn.Module
        The classifier in eval mode: ``(batch, n_bins, n_frames)`` features -> logits
        ``(batch, n_classes)``.
    spec : ClassifierSpec
        Labels, feature settings, clip length, metrics.

    Raises
    ------
    DataError
        Naming the file: not found, a pickle/zip ``torch.save`` file, not a torchmusic
        safetensors file, truncated or tampered (checksum mismatch), a newer format,
        an unknown architecture, invalid feature settings, or sizes that do not fit
        the features and labels.
    DependencyError
        The architecture needs an optional package that is missing.

    Examples
    --------
    >>> model, spec = load_classifier("drums")  # doctest: +SKIP
    >>> spec.labels[:3]  # doctest: +SKIP
    ['clap', 'crash', 'hihat']
    """
    return CLASSIFIER_FORMAT.load(path, device=device)
