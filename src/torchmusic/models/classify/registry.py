"""Name -> (config class, model class) registry of classifiers, and the builder."""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any

from torch import nn

from torchmusic.errors import DependencyError, ParameterError
from torchmusic.models.classify.crnn import CRNN, CRNNConfig
from torchmusic.models.classify.short_chunk_resnet import ShortChunkResNet, ShortChunkResNetConfig
from torchmusic.models.classify.simple_cnn import SimpleCNN, SimpleCNNConfig

#: ``name -> (ConfigClass, ModelClass)``; extend with :func:`register_classifier`.
CLASSIFIERS: dict[str, tuple[type, type[nn.Module]]] = {
    "simple_cnn": (SimpleCNNConfig, SimpleCNN),
    "crnn": (CRNNConfig, CRNN),
    "shortchunk": (ShortChunkResNetConfig, ShortChunkResNet),
}

# Architectures that live in modules of their own (with optional dependencies);
# importing the module registers them. Looked up only when a name is not found,
# so loading such a model file works without the caller importing anything.
_PLUGINS: dict[str, str] = {"mfcc-svm": "torchmusic.models.baseline"}


def register_classifier(name: str, config_cls: type, model_cls: type[nn.Module]) -> None:
    """Make ``name`` buildable by :func:`build_classifier` and loadable from model files.

    Parameters
    ----------
    name : str
        Architecture name stored in model files.
    config_cls : dataclass type
        Its config; must have ``n_mels``, ``n_frames`` and ``n_classes`` fields.
    model_cls : nn.Module subclass
        Built as ``model_cls(config)``; must keep the config as ``.config``.

    Raises
    ------
    ParameterError
        If ``name`` is taken by other classes, or the classes do not fit.

    Examples
    --------
    >>> register_classifier("my_cnn", MyConfig, MyCNN)  # doctest: +SKIP
    """
    if not isinstance(name, str) or not name:
        raise ParameterError(f"classifier name {name!r} must be a non-empty string")
    if not dataclasses.is_dataclass(config_cls) or not isinstance(config_cls, type):
        raise ParameterError(f"config_cls={config_cls!r} must be a dataclass type")
    fields = {f.name for f in dataclasses.fields(config_cls)}
    missing = {"n_mels", "n_frames", "n_classes"} - fields
    if missing:
        raise ParameterError(f"config_cls {config_cls.__name__} lacks fields {sorted(missing)}")
    if not (isinstance(model_cls, type) and issubclass(model_cls, nn.Module)):
        raise ParameterError(f"model_cls={model_cls!r} must be an nn.Module subclass")
    existing = CLASSIFIERS.get(name)
    if existing is not None and existing != (config_cls, model_cls):
        raise ParameterError(
            f"classifier name {name!r} is already registered to {existing[1].__name__}"
        )
    CLASSIFIERS[name] = (config_cls, model_cls)


def get_classifier(name: str) -> tuple[type, type[nn.Module]]:
    """``(ConfigClass, ModelClass)`` of architecture ``name``.

    Raises
    ------
    ParameterError
        Unknown name (the message lists the known ones).
    DependencyError
        The architecture's module needs a package that is not installed.
    """
    if name not in CLASSIFIERS and name in _PLUGINS:
        try:
            importlib.import_module(_PLUGINS[name])
        except ImportError as exc:
            raise DependencyError(
                f"architecture {name!r} needs module {_PLUGINS[name]}, which failed to "
                f"import: {exc}"
            ) from exc
    if name not in CLASSIFIERS:
        known = sorted(set(CLASSIFIERS) | set(_PLUGINS))
        raise ParameterError(f"unknown architecture {name!r}; expected one of {known}")
    return CLASSIFIERS[name]


def make_config(architecture: str, settings: dict[str, Any]) -> Any:
    """The config dataclass of ``architecture`` from a plain dict (e.g. read from JSON).

    Unknown keys are an error (listing the valid ones) rather than silently ignored.
    """
    config_cls, _ = get_classifier(architecture)
    known = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise ParameterError(
            f"unknown setting(s) {unknown} for architecture {architecture!r}; "
            f"expected a subset of {sorted(known)}"
        )
    try:
        return config_cls(**settings)
    except TypeError as exc:  # a required field is missing
        raise ParameterError(f"settings for architecture {architecture!r}: {exc}") from exc


def build_classifier(
    architecture: str, *, n_mels: int, n_frames: int, n_classes: int, **overrides: Any
) -> nn.Module:
    """Build a classifier sized for ``(n_mels, n_frames)`` inputs and ``n_classes`` outputs.

    Parameters
    ----------
    architecture : {"simple_cnn", "crnn", "shortchunk"} or a registered name
        Which network.
    n_mels : int
        Feature bins of the input (``FeatureConfig.n_mels`` for mel features,
        ``n_mfcc`` / ``n_chroma`` for those).
    n_frames : int
        Frames per clip (``torchmusic.data.tracks.n_frames(round(clip_seconds * sr), feature)``).
    n_classes : int
        Outputs.
    **overrides
        Further fields of the architecture's config (e.g. ``width=32``, ``rnn="gru"``).

    Returns
    -------
    nn.Module
        ``forward(x)`` maps ``(batch, n_mels, n_frames)`` to logits
        ``(batch, n_classes)``; ``.config`` holds its dataclass config.

    Raises
    ------
    ParameterError
        Unknown architecture or setting, or an invalid value.

    Examples
    --------
    >>> model = build_classifier("shortchunk", n_mels=128, n_frames=159, n_classes=10, width=32)
    >>> model(torch.randn(2, 128, 159)).shape  # doctest: +SKIP
    torch.Size([2, 10])
    """
    settings = dict(overrides, n_mels=n_mels, n_frames=n_frames, n_classes=n_classes)
    config = make_config(architecture, settings)
    _, model_cls = get_classifier(architecture)
    return model_cls(config)


def architecture_of(model: nn.Module) -> str:
    """Registered name of ``model``'s class (:class:`ParameterError` when unregistered)."""
    for name, (_, model_cls) in CLASSIFIERS.items():
        if type(model) is model_cls:
            return name
    raise ParameterError(
        f"{type(model).__name__} is not a registered classifier; register it with "
        "register_classifier(name, ConfigClass, ModelClass)"
    )
