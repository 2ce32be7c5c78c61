"""The classifier registry (name -> (config class, model class)) and the builder.

A :class:`torchmusic.io.registry.Registry`; the functions here are its long-standing
names (``register_classifier``, ``get_classifier``, ``build_classifier``, ...).
"""

from __future__ import annotations

from typing import Any

from torch import nn

from torchmusic.io.registry import Registry
from torchmusic.models.classify.crnn import CRNN, CRNNConfig
from torchmusic.models.classify.short_chunk_resnet import ShortChunkResNet, ShortChunkResNetConfig
from torchmusic.models.classify.simple_cnn import SimpleCNN, SimpleCNNConfig

#: Every classifier architecture. ``"mfcc-svm"`` (optional dependencies) and
#: ``"backbone"`` (a pretrained embedding encoder + a head: it needs the embedding
#: networks) live in modules of their own that register them when first looked up,
#: so loading such a model file works without the caller importing anything.
CLASSIFIER_REGISTRY = Registry(
    "classifier",
    base=nn.Module,
    base_name="nn.Module",
    required_fields=("n_mels", "n_frames", "n_classes"),
    plugins={
        "mfcc-svm": "torchmusic.models.baseline",
        "backbone": "torchmusic.models.classify.backbone",
    },
)
#: ``name -> (ConfigClass, ModelClass)`` (the registry's own table); extend with
#: :func:`register_classifier`.
CLASSIFIERS: dict[str, tuple[type, type[nn.Module]]] = CLASSIFIER_REGISTRY.entries
for _name, (_config_cls, _model_cls) in {
    "simple_cnn": (SimpleCNNConfig, SimpleCNN),
    "crnn": (CRNNConfig, CRNN),
    "shortchunk": (ShortChunkResNetConfig, ShortChunkResNet),
}.items():
    CLASSIFIER_REGISTRY.register(_name, _config_cls, _model_cls)


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
    CLASSIFIER_REGISTRY.register(name, config_cls, model_cls)


def get_classifier(name: str) -> tuple[type, type[nn.Module]]:
    """``(ConfigClass, ModelClass)`` of architecture ``name`` (see :meth:`Registry.get`)."""
    return CLASSIFIER_REGISTRY.get(name)


def make_config(architecture: str, settings: dict[str, Any]) -> Any:
    """The config dataclass of ``architecture`` from a plain dict; unknown keys are an error."""
    return CLASSIFIER_REGISTRY.make_config(architecture, settings)


def build_classifier(
    architecture: str, *, n_mels: int, n_frames: int, n_classes: int, **overrides: Any
) -> nn.Module:
    """Build a classifier sized for ``(n_mels, n_frames)`` inputs and ``n_classes`` outputs.

    Parameters
    ----------
    architecture : {"simple_cnn", "crnn", "shortchunk"} or a registered name
        Which network.
    n_mels : int
        Feature bins of the input (``FeatureConfig.n_bins``: ``n_mels`` for mel
        features, ``n_mfcc`` / ``n_chroma`` for those).
    n_frames : int
        Frames per clip (``FeatureConfig.clip_frames(clip_seconds)``).
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
    return CLASSIFIER_REGISTRY.build(architecture, **settings)


def architecture_of(model: nn.Module) -> str:
    """Registered name of ``model``'s class (:class:`ParameterError` when unregistered)."""
    return CLASSIFIER_REGISTRY.name_of(model)
