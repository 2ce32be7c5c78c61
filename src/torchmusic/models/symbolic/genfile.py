"""Generator model files: one ``.safetensors`` file with a generative model and its tokenizer.

The layout is that of the classifier files (:mod:`torchmusic.models.modelfile`), with
``format = "torchmusic.generator"``: safetensors tensors plus string metadata holding
``format_version``, ``torchmusic_version``, ``spec`` (the :class:`GeneratorSpec` as
JSON: architecture and config, the miditok tokenizer's settings, the condition
vocabulary, the kind of model, metrics) and the ``payload_sha256`` / ``spec_sha256``
digests, so a truncated or tampered file is refused. Loading never unpickles.

The format is :data:`GENERATOR_FORMAT`, a :class:`torchmusic.io.modelformat.ModelFormat`,
so all model files are written, read and checked by the same code.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from torchmusic.errors import DataError, ParameterError
from torchmusic.io.container import spec_from_dict
from torchmusic.io.modelformat import ModelFormat
from torchmusic.models.symbolic.registry import (
    GENERATOR_KINDS,
    GENERATOR_REGISTRY,
    KINDS,
    make_generator_config,
)

FORMAT_NAME = "torchmusic.generator"
#: Bumped when the layout or the spec's meaning changes incompatibly.
FORMAT_VERSION = 1

#: Which command uses a model file of each kind (for error messages).
COMMANDS = {
    "tokens": "torchmusic generate",
    "vae": "torchmusic generate / torchmusic interpolate",
    "pianoroll": "torchmusic generate",
    "torchmusic.classifier": "torchmusic predict / torchmusic evaluate",
}


@dataclasses.dataclass
class GeneratorSpec:
    """Everything besides the weights that a generator model file needs to be used.

    Attributes
    ----------
    architecture : str
        Registered generator name (``"transformer"``, ``"lstm"``, ``"vae"``, ``"pianoroll"``).
    model_config : dict
        Its config as a plain dict; :func:`save_generator` fills it from the model
        when left empty.
    tokenizer : dict or None
        ``torchmusic.symbolic.tokenizer_to_dict(tok)`` of the tokenizer the model was
        trained with (None for piano-roll models, which see frames, not tokens).
    conditions : dict or None
        ``ConditionVocab.to_dict()`` when the model was trained with condition
        tokens (their ids follow the tokenizer's vocabulary), else None.
    kind : {"tokens", "vae", "pianoroll"}
        What the model generates from: a token LM, a token VAE, or piano-roll frames.
    metrics : dict
        Figures recorded at training time (free form, JSON-able).
    extra : dict
        Anything else JSON-able (training settings, data provenance, licences, ...).
    """

    architecture: str
    model_config: dict[str, Any]
    tokenizer: dict[str, Any] | None
    conditions: dict[str, Any] | None
    kind: str
    metrics: dict[str, Any] = dataclasses.field(default_factory=dict)
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON dict of all fields."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GeneratorSpec:
        """Inverse of :meth:`to_dict`; unknown or missing keys are a :class:`ParameterError`."""
        return spec_from_dict(cls, data)


def validate_generator_spec(spec: GeneratorSpec) -> Any:
    """Check ``spec`` on its own and against its architecture; returns the model config.

    Raises
    ------
    ParameterError
        The first problem found, described with the offending value.
    """
    if not isinstance(spec.architecture, str):
        raise ParameterError(f"architecture={spec.architecture!r} must be a string")
    if spec.kind not in KINDS:
        raise ParameterError(f"kind={spec.kind!r} must be one of {list(KINDS)}")
    for name in ("model_config", "metrics", "extra"):
        if not isinstance(getattr(spec, name), dict):
            raise ParameterError(f"{name}={getattr(spec, name)!r} must be a dict")
    for name in ("tokenizer", "conditions"):
        value = getattr(spec, name)
        if value is not None and not isinstance(value, dict):
            raise ParameterError(f"{name}={value!r} must be a dict or None")
    config = make_generator_config(spec.architecture, spec.model_config)
    expected_kind = GENERATOR_KINDS.get(spec.architecture)
    if expected_kind is not None and expected_kind != spec.kind:
        raise ParameterError(
            f"kind={spec.kind!r} does not fit architecture {spec.architecture!r}, "
            f"which is a {expected_kind!r} model"
        )
    return config


#: The generator model-file format.
GENERATOR_FORMAT = ModelFormat(
    FORMAT_NAME,
    FORMAT_VERSION,
    GeneratorSpec,
    "generator model file",
    registry=GENERATOR_REGISTRY,
    validate=validate_generator_spec,
    shipped=True,
)


def save_generator(path: str | os.PathLike[str], model: nn.Module, spec: GeneratorSpec) -> Path:
    """Write a registered generator and its spec to one model file, atomically.

    :meth:`~torchmusic.io.modelformat.ModelFormat.save` of :data:`GENERATOR_FORMAT`:
    ``spec.architecture`` must name the model's class (one in :data:`GENERATORS`),
    ``spec.model_config`` may be ``{}`` (filled from ``model.config``), and the kind
    must fit the architecture (:func:`validate_generator_spec`);
    :class:`ParameterError` otherwise.

    Examples
    --------
    >>> model = build_generator("lstm", vocab_size=300, hidden=64)
    >>> spec = GeneratorSpec("lstm", {}, tokenizer_to_dict(tok), None, "tokens")
    >>> save_generator("lm.safetensors", model, spec)  # doctest: +SKIP
    PosixPath('lm.safetensors')
    """
    return GENERATOR_FORMAT.save(path, model, spec)


def _kind_check(kind: str | tuple[str, ...] | None) -> Any:
    """A ``check(path, spec)`` for :meth:`ModelFormat.load` that accepts the kinds ``kind``."""
    if kind is None:
        return None
    wanted = (kind,) if isinstance(kind, str) else tuple(kind)

    def check(path: Path, spec: GeneratorSpec) -> None:
        if spec.kind not in wanted:
            raise DataError(
                f"model file {path} is a {spec.kind!r} generator ({spec.architecture}), used "
                f"by '{COMMANDS[spec.kind]}'; this needs a {' or '.join(map(repr, wanted))} model"
            )

    return check


def read_generator_spec(
    path: str | os.PathLike[str], *, kind: str | tuple[str, ...] | None = None
) -> GeneratorSpec:
    """The verified :class:`GeneratorSpec` of a model file (or shipped name), without the model.

    Raises
    ------
    DataError
        As :func:`load_generator`.
    """
    return GENERATOR_FORMAT.read_spec(path, check=_kind_check(kind))


def load_generator(
    path: str | os.PathLike[str],
    *,
    device: str | torch.device = "cpu",
    kind: str | tuple[str, ...] | None = None,
) -> tuple[nn.Module, GeneratorSpec]:
    """Load a model file written by :func:`save_generator`; never unpickles anything.

    Parameters
    ----------
    path : str or os.PathLike
        Model file, or the name of a shipped model (see
        :func:`torchmusic.pretrained.resolve_model`).
    device : str or torch.device
        Where the model is put.
    kind : str or tuple of str, optional
        Kinds the caller accepts (e.g. ``"vae"`` for ``torchmusic interpolate``);
        a file of another kind is a :class:`DataError` naming its kind and command.

    Returns
    -------
    model : nn.Module
        The generator in eval mode.
    spec : GeneratorSpec
        Tokenizer settings, conditions, kind, metrics.

    Raises
    ------
    DataError
        Naming the file: not found, a pickle/zip ``torch.save`` file, a classifier
        model file, not a torchmusic safetensors file, truncated or tampered
        (checksum mismatch), a newer format, an unknown architecture, weights that
        do not fit the config, or a kind other than ``kind``.
    ParameterError
        ``device`` is not usable.

    Examples
    --------
    >>> model, spec = load_generator("lm.safetensors", kind="tokens")  # doctest: +SKIP
    >>> spec.architecture  # doctest: +SKIP
    'transformer'
    """
    return GENERATOR_FORMAT.load(path, device=device, check=_kind_check(kind))
