"""Generator model files: one ``.safetensors`` file with a generative model and its tokenizer.

The layout is that of the classifier files (:mod:`torchmusic.models.modelfile`), with
``format = "torchmusic.generator"``: safetensors tensors plus string metadata holding
``format_version``, ``torchmusic_version``, ``spec`` (the :class:`GeneratorSpec` as
JSON: architecture and config, the miditok tokenizer's settings, the condition
vocabulary, the kind of model, metrics) and the ``payload_sha256`` / ``spec_sha256``
digests, so a truncated or tampered file is refused. Loading never unpickles.

Writing and verifying the container is shared with the other formats
(:mod:`torchmusic.models.container`), so all are read and checked by the same code.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from torchmusic.errors import DataError, ParameterError
from torchmusic.io.container import (
    load_weights,
    read_container,
    spec_from_dict,
    spec_to_json,
    spec_with_model_config,
    write_container,
)
from torchmusic.models.modelfile import FORMAT_NAME as CLASSIFIER_FORMAT
from torchmusic.models.symbolic.registry import (
    GENERATOR_KINDS,
    KINDS,
    generator_architecture_of,
    get_generator,
    make_generator_config,
)
from torchmusic.pretrained import resolve_model

FORMAT_NAME = "torchmusic.generator"
#: Bumped when the layout or the spec's meaning changes incompatibly.
FORMAT_VERSION = 1

#: Which command uses a model file of each kind (for error messages).
COMMANDS = {
    "tokens": "torchmusic generate",
    "vae": "torchmusic generate / torchmusic interpolate",
    "pianoroll": "torchmusic generate",
    CLASSIFIER_FORMAT: "torchmusic predict / torchmusic evaluate",
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


def save_generator(path: str | os.PathLike[str], model: nn.Module, spec: GeneratorSpec) -> Path:
    """Write ``model`` and ``spec`` to one safetensors model file, atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Output file (conventionally ``*.safetensors``); parent folders are created.
        An existing file is replaced only once the new one is completely written.
    model : nn.Module
        A registered generator (its class is in :data:`GENERATORS`) with ``.config``.
    spec : GeneratorSpec
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
        The spec is invalid, not JSON-able, or does not describe ``model``.

    Examples
    --------
    >>> model = build_generator("lstm", vocab_size=300, hidden=64)
    >>> spec = GeneratorSpec("lstm", {}, tokenizer_to_dict(tok), None, "tokens")
    >>> save_generator("lm.safetensors", model, spec)  # doctest: +SKIP
    PosixPath('lm.safetensors')
    """
    if not isinstance(spec, GeneratorSpec):
        raise ParameterError(f"spec must be a GeneratorSpec, got {type(spec).__name__}")
    arch = generator_architecture_of(model)
    if arch != spec.architecture:
        raise ParameterError(
            f"spec.architecture={spec.architecture!r} but the model is a {arch!r} generator"
        )
    spec = spec_with_model_config(spec, model)
    validate_generator_spec(spec)
    spec_json = spec_to_json(spec)
    return write_container(
        path,
        model.state_dict(),
        format_name=FORMAT_NAME,
        format_version=FORMAT_VERSION,
        spec_json=spec_json,
    )


def _check_kind(path: Path, spec: GeneratorSpec, kind: str | tuple[str, ...] | None) -> None:
    if kind is None:
        return
    wanted = (kind,) if isinstance(kind, str) else tuple(kind)
    if spec.kind not in wanted:
        raise DataError(
            f"model file {path} is a {spec.kind!r} generator ({spec.architecture}), used by "
            f"'{COMMANDS[spec.kind]}'; this needs a {' or '.join(map(repr, wanted))} model"
        )


def _read_verified(path: Path) -> tuple[bytes, GeneratorSpec, Any]:
    """Raw bytes, spec and model config of a generator file, all checks passed."""
    raw, meta, _, _ = read_container(
        path, format_name=FORMAT_NAME, format_version=FORMAT_VERSION, what="generator model file"
    )
    spec_json = meta.get("spec", "")
    try:
        spec = GeneratorSpec.from_dict(json.loads(spec_json))
        config = validate_generator_spec(spec)
    except json.JSONDecodeError as exc:
        raise DataError(f"model file {path} has an unreadable spec: {exc}") from exc
    except ParameterError as exc:
        raise DataError(f"model file {path}: {exc}") from exc
    return raw, spec, config


def read_generator_spec(
    path: str | os.PathLike[str], *, kind: str | tuple[str, ...] | None = None
) -> GeneratorSpec:
    """The verified :class:`GeneratorSpec` of a model file (or shipped name), without the model.

    Raises
    ------
    DataError
        As :func:`load_generator`.
    """
    p = resolve_model(path)
    spec = _read_verified(p)[1]
    _check_kind(p, spec, kind)
    return spec


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
    p = resolve_model(path)
    raw, spec, config = _read_verified(p)
    _check_kind(p, spec, kind)
    _, model_cls = get_generator(spec.architecture)
    model = load_weights(
        model_cls(config),
        raw,
        path=p,
        what="model file",
        architecture=spec.architecture,
        device=device,
    )
    return model, spec
