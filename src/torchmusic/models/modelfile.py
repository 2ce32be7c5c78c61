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
which are refused with a message saying why). Writing and verifying that container
is shared with the other torchmusic file formats (:mod:`torchmusic.models.container`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from torchmusic.errors import DataError, ParameterError
from torchmusic.features.config import FeatureConfig
from torchmusic.models.classify.registry import architecture_of, get_classifier, make_config
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
from torchmusic.pretrained import resolve_model

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
    """Rows of ``feature.compute(y)``: the ``n_mels`` a classifier on it must be built with."""
    if feature.kind in ("mel", "logmel"):
        return feature.n_mels
    if feature.kind == "mfcc":
        return feature.n_mfcc
    if feature.kind == "chroma":
        return feature.n_chroma
    return feature.n_fft // 2 + 1


def clip_frames(clip_seconds: float, feature: FeatureConfig) -> int:
    """Frames of a ``clip_seconds`` clip: what the datasets give and models are sized for."""
    from torchmusic.data.tracks import n_frames

    return n_frames(round(clip_seconds * feature.sr), feature)


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
        "n_mels": feature_bins(feature),
        "n_frames": clip_frames(float(clip), feature),
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


def save_classifier(path: str | os.PathLike[str], model: nn.Module, spec: ClassifierSpec) -> Path:
    """Write ``model`` and ``spec`` to one safetensors model file, atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Output file (conventionally ``*.safetensors``); parent folders are created.
        An existing file is replaced only once the new one is completely written.
    model : nn.Module
        A registered classifier (its class is in :data:`CLASSIFIERS`) with ``.config``.
    spec : ClassifierSpec
        Its description. ``spec.architecture`` must name the model's class;
        ``spec.model_config`` may be ``{}`` (filled from ``model.config``), otherwise it
        must equal ``dataclasses.asdict(model.config)``.

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    ParameterError
        The spec is invalid or does not describe ``model``.

    Examples
    --------
    >>> from torchmusic.models import build_classifier
    >>> model = build_classifier("crnn", n_mels=128, n_frames=130, n_classes=2)
    >>> spec = ClassifierSpec("crnn", {}, ["a", "b"], False, FeatureConfig().to_dict(), 3.0)
    >>> save_classifier("model.safetensors", model, spec)  # doctest: +SKIP
    PosixPath('model.safetensors')
    """
    if not isinstance(spec, ClassifierSpec):
        raise ParameterError(f"spec must be a ClassifierSpec, got {type(spec).__name__}")
    arch = architecture_of(model)
    if arch != spec.architecture:
        raise ParameterError(
            f"spec.architecture={spec.architecture!r} but the model is a {arch!r} classifier"
        )
    spec = spec_with_model_config(spec, model)
    validate_spec(spec)
    spec_json = spec_to_json(spec)
    return write_container(
        path,
        model.state_dict(),
        format_name=FORMAT_NAME,
        format_version=FORMAT_VERSION,
        spec_json=spec_json,
    )


def _read_verified(path: Path) -> tuple[bytes, ClassifierSpec, Any]:
    """Raw bytes, spec and model config of a model file, all checks passed."""
    raw, meta, _, _ = read_container(
        path, format_name=FORMAT_NAME, format_version=FORMAT_VERSION, what="classifier model file"
    )
    spec_json = meta.get("spec", "")
    try:
        spec = ClassifierSpec.from_dict(json.loads(spec_json))
        config = validate_spec(spec)
    except json.JSONDecodeError as exc:
        raise DataError(f"model file {path} has an unreadable spec: {exc}") from exc
    except ParameterError as exc:
        raise DataError(f"model file {path}: {exc}") from exc
    return raw, spec, config


def read_spec(path: str | os.PathLike[str]) -> ClassifierSpec:
    """The verified :class:`ClassifierSpec` of a model file (or shipped name), without the model.

    Raises
    ------
    DataError
        As :func:`load_classifier`.
    """
    p = resolve_model(path)
    return _read_verified(p)[1]


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
    p = resolve_model(path)
    raw, spec, config = _read_verified(p)
    _, model_cls = get_classifier(spec.architecture)
    model = load_weights(
        model_cls(config),
        raw,
        path=p,
        what="model file",
        architecture=spec.architecture,
        device=device,
    )
    return model, spec
