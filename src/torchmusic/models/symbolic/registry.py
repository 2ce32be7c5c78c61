"""The generator registry (name -> (config class, model class)) and the builder.

A :class:`torchmusic.io.registry.Registry`. Built-in architectures
(``"transformer"``, ``"lstm"``, ``"vae"``, ``"pianoroll"``) live in modules of their
own that register themselves when imported; the registry imports them on first
use, so loading a model file works without the caller importing anything and this
module stays free of the models' code (no import cycles with modules that import
:mod:`~torchmusic.models.symbolic.genfile`).
"""

from __future__ import annotations

from typing import Any

from torch import nn

from torchmusic.errors import ParameterError
from torchmusic.io.registry import Registry

#: Model-file kinds: token language models, token VAEs, piano-roll models.
KINDS = ("tokens", "vae", "pianoroll")

GENERATOR_REGISTRY = Registry(
    "generator",
    label="generator architecture",
    base=nn.Module,
    base_name="nn.Module",
    plugins={
        "transformer": "torchmusic.models.symbolic.transformer",
        "lstm": "torchmusic.models.symbolic.lstm",
        "vae": "torchmusic.models.symbolic.vae",
        "pianoroll": "torchmusic.models.symbolic.pianoroll",
    },
)
#: ``name -> (ConfigClass, ModelClass)`` (the registry's own table); extend with
#: :func:`register_generator`.
GENERATORS: dict[str, tuple[type, type[nn.Module]]] = GENERATOR_REGISTRY.entries

#: ``name -> kind`` of model file ("tokens", "vae" or "pianoroll") where registered with one.
GENERATOR_KINDS: dict[str, str] = {}


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
    if kind is not None and kind not in KINDS:
        raise ParameterError(f"kind={kind!r} must be one of {list(KINDS)} or None")
    GENERATOR_REGISTRY.register(name, config_cls, model_cls)
    if kind is not None:
        GENERATOR_KINDS[name] = kind


def get_generator(name: str) -> tuple[type, type[nn.Module]]:
    """``(ConfigClass, ModelClass)`` of architecture ``name`` (see :meth:`Registry.get`)."""
    return GENERATOR_REGISTRY.get(name)


def make_generator_config(architecture: str, settings: dict[str, Any]) -> Any:
    """The config dataclass of ``architecture`` from a plain dict; unknown keys are an error."""
    return GENERATOR_REGISTRY.make_config(architecture, settings)


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
    return GENERATOR_REGISTRY.build(architecture, **config)


def generator_architecture_of(model: nn.Module) -> str:
    """Registered name of ``model``'s class (:class:`ParameterError` when unregistered)."""
    return GENERATOR_REGISTRY.name_of(model)
