"""Name -> (config class, model class) registry of generative models, and the builder.

Built-in architectures (``"transformer"``, ``"lstm"``, ``"vae"``, ``"pianoroll"``) live
in modules of their own that register themselves when imported; :func:`get_generator`
imports them on first use, so loading a model file works without the caller
importing anything and this module stays free of the models' code (no import cycles
with modules that import :mod:`~torchmusic.models.symbolic.genfile`).
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any

from torch import nn

from torchmusic.errors import DependencyError, ParameterError

#: ``name -> (ConfigClass, ModelClass)``; extend with :func:`register_generator`.
GENERATORS: dict[str, tuple[type, type[nn.Module]]] = {}

#: ``name -> kind`` of model file ("tokens", "vae" or "pianoroll") where registered with one.
GENERATOR_KINDS: dict[str, str] = {}

#: Model-file kinds: token language models, token VAEs, piano-roll models.
KINDS = ("tokens", "vae", "pianoroll")

# Modules that register the built-in names when imported.
_PLUGINS: dict[str, str] = {
    "transformer": "torchmusic.models.symbolic.transformer",
    "lstm": "torchmusic.models.symbolic.lstm",
    "vae": "torchmusic.models.symbolic.vae",
    "pianoroll": "torchmusic.models.symbolic.pianoroll",
}


def register_generator(
    name: str, config_cls: type, model_cls: type[nn.Module], *, kind: str | None = None
) -> None:
    """Make ``name`` buildable by :func:`build_generator` and loadable from model files.

    Parameters
    ----------
    name : str
        Architecture name stored in model files.
    config_cls : dataclass type
        Its config (JSON-able fields only).
    model_cls : nn.Module subclass
        Built as ``model_cls(config)``; must keep the config as ``.config``.
    kind : {"tokens", "vae", "pianoroll"} or None
        The model-file kind this architecture is saved as; when given, files whose
        spec says otherwise are refused.

    Raises
    ------
    ParameterError
        If ``name`` is taken by other classes, or the classes do not fit.

    Examples
    --------
    >>> register_generator("my_lm", MyConfig, MyLM, kind="tokens")  # doctest: +SKIP
    """
    if not isinstance(name, str) or not name:
        raise ParameterError(f"generator name {name!r} must be a non-empty string")
    if not dataclasses.is_dataclass(config_cls) or not isinstance(config_cls, type):
        raise ParameterError(f"config_cls={config_cls!r} must be a dataclass type")
    if not (isinstance(model_cls, type) and issubclass(model_cls, nn.Module)):
        raise ParameterError(f"model_cls={model_cls!r} must be an nn.Module subclass")
    if kind is not None and kind not in KINDS:
        raise ParameterError(f"kind={kind!r} must be one of {list(KINDS)} or None")
    existing = GENERATORS.get(name)
    if existing is not None and existing != (config_cls, model_cls):
        raise ParameterError(
            f"generator name {name!r} is already registered to {existing[1].__name__}"
        )
    GENERATORS[name] = (config_cls, model_cls)
    if kind is not None:
        GENERATOR_KINDS[name] = kind


def get_generator(name: str) -> tuple[type, type[nn.Module]]:
    """``(ConfigClass, ModelClass)`` of architecture ``name``.

    Raises
    ------
    ParameterError
        Unknown name (the message lists the known ones).
    DependencyError
        The architecture's module failed to import (e.g. a missing package).
    """
    if name not in GENERATORS and name in _PLUGINS:
        try:
            importlib.import_module(_PLUGINS[name])
        except ImportError as exc:
            raise DependencyError(
                f"generator architecture {name!r} needs module {_PLUGINS[name]}, which "
                f"failed to import: {exc}"
            ) from exc
    if name not in GENERATORS:
        known = sorted(set(GENERATORS) | set(_PLUGINS))
        raise ParameterError(f"unknown generator architecture {name!r}; expected one of {known}")
    return GENERATORS[name]


def make_generator_config(architecture: str, settings: dict[str, Any]) -> Any:
    """The config dataclass of ``architecture`` from a plain dict (e.g. read from JSON).

    Unknown keys are an error (listing the valid ones) rather than silently ignored;
    invalid values raise the config's own :class:`ParameterError`.
    """
    config_cls, _ = get_generator(architecture)
    if not isinstance(settings, dict):
        raise ParameterError(f"model config {settings!r} must be a dict")
    known = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise ParameterError(
            f"unknown setting(s) {unknown} for generator {architecture!r}; "
            f"expected a subset of {sorted(known)}"
        )
    try:
        return config_cls(**settings)
    except TypeError as exc:  # a required field is missing
        raise ParameterError(f"settings for generator {architecture!r}: {exc}") from exc


def build_generator(architecture: str, **config: Any) -> nn.Module:
    """Build a generative model from its architecture name and config fields.

    Parameters
    ----------
    architecture : {"transformer", "lstm", "vae", "pianoroll"} or a registered name
        Which network.
    **config
        Fields of the architecture's config (``vocab_size=...`` is required for the
        token models).

    Returns
    -------
    nn.Module
        The model (``.config`` holds its dataclass config).

    Raises
    ------
    ParameterError
        Unknown architecture or setting, or an invalid value.

    Examples
    --------
    >>> model = build_generator("transformer", vocab_size=300, n_layer=2, n_embd=64, n_head=4)
    >>> model.config.positions
    'rotary'
    """
    cfg = make_generator_config(architecture, config)
    _, model_cls = get_generator(architecture)
    return model_cls(cfg)


def generator_architecture_of(model: nn.Module) -> str:
    """Registered name of ``model``'s class (:class:`ParameterError` when unregistered)."""
    for name, (_, model_cls) in GENERATORS.items():
        if type(model) is model_cls:
            return name
    raise ParameterError(
        f"{type(model).__name__} is not a registered generator; register it with "
        "register_generator(name, ConfigClass, ModelClass)"
    )
