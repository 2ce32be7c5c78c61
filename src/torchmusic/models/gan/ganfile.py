"""GAN model files: a generator (its EMA weights), its class names, and how to hear it.

The layout is the shared container (:mod:`torchmusic.io.container`) with ``format`` =
``"torchmusic.gan"``; the spec is a :class:`GanSpec`. Only the generator is stored
(the discriminator is needed for training only; a run's checkpoints keep it), and
the weights are the exponential moving average of the generator when the run kept
one (``extra["ema"]`` says so).

A SpecGAN file also records the :class:`~torchmusic.features.FeatureConfig` of the
log-mel images it makes (``feature``) and how to turn them into audio: ``vocoder``
names a vocoder model file or shipped vocoder whose features match, or is None for
Griffin-Lim (librosa). A WaveGAN file records the log-mel its spectrogram pictures
use.

Any other kind of torchmusic file (a classifier, a vocoder, a denoiser) is refused by
name when a GAN file is expected, and a GAN file given to another command is named
as one (:data:`torchmusic.io.container.FORMATS`).
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
from torchmusic.models.gan.registry import GAN_REGISTRY

FORMAT_NAME = "torchmusic.gan"
FORMAT_VERSION = 1


@dataclasses.dataclass
class GanSpec:
    """Everything besides the weights that a GAN model file needs.

    Attributes
    ----------
    architecture : str
        ``"wavegan"`` or ``"specgan"``.
    model_config : dict
        The generator's config as a plain dict (filled from ``model.config`` on save).
    labels : list of str
        Class names, index = the generator's label; ``[]`` for an unconditional model
        (``model_config["n_classes"]`` must be ``len(labels)``).
    sample_rate : int
        Hz of the audio the model makes (the network config's ``sample_rate``).
    feature : dict or None
        ``FeatureConfig.to_dict()`` of the log-mel: what a SpecGAN makes (its
        ``n_mels``, ``hop_length`` and ``sr`` are the network's), or what a
        WaveGAN's pictures show; None: the toolkit's default log-mel at
        ``sample_rate``.
    vocoder : str or None
        SpecGAN only: the vocoder model file or shipped name that turns its log-mels
        into audio; None: Griffin-Lim.
    metrics : dict
        Training figures (free form, JSON-able).
    extra : dict
        Anything else JSON-able (training settings, data and licences, ...).
    """

    architecture: str
    model_config: dict[str, Any]
    labels: list[str] = dataclasses.field(default_factory=list)
    sample_rate: int = 22050
    feature: dict[str, Any] | None = None
    vocoder: str | None = None
    metrics: dict[str, Any] = dataclasses.field(default_factory=dict)
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def conditional(self) -> bool:
        """Whether the generator takes a class label."""
        return bool(self.labels)

    def feature_config(self) -> FeatureConfig:
        """The log-mel's :class:`FeatureConfig` (see :attr:`feature`)."""
        if self.feature is None:
            return FeatureConfig(kind="logmel", sr=int(self.sample_rate))
        return FeatureConfig.from_dict(dict(self.feature))

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON dict of all fields."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GanSpec:
        """Inverse of :meth:`to_dict`; unknown or missing keys are a :class:`ParameterError`."""
        return spec_from_dict(cls, data)


def specgan_feature(config: Any) -> FeatureConfig:
    """The log-mel a SpecGAN config's images are: the toolkit's default log-mel with the
    network's ``sample_rate``, ``hop_length`` and ``n_mels``."""
    return FeatureConfig(
        kind="logmel", sr=config.sample_rate, hop_length=config.hop_length, n_mels=config.n_mels
    )


def validate_gan_spec(spec: GanSpec) -> Any:
    """Check ``spec`` against its architecture; returns the network config.

    Raises
    ------
    ParameterError
        Naming the value: labels that do not match ``n_classes`` (or repeat), a
        ``sample_rate`` other than the network's, a feature that is not a log-mel or
        does not match a SpecGAN's image size, a vocoder on a WaveGAN.
    """
    for name in ("model_config", "metrics", "extra"):
        if not isinstance(getattr(spec, name), dict):
            raise ParameterError(f"{name}={getattr(spec, name)!r} must be a dict")
    if not isinstance(spec.labels, list) or not all(isinstance(x, str) for x in spec.labels):
        raise ParameterError(f"labels={spec.labels!r} must be a list of class names")
    if len(set(spec.labels)) != len(spec.labels):
        raise ParameterError(f"labels={spec.labels!r} repeat a class name")
    config = GAN_REGISTRY.make_config(spec.architecture, spec.model_config)
    if config.n_classes != len(spec.labels):
        raise ParameterError(
            f"the generator has n_classes={config.n_classes} but the file names "
            f"{len(spec.labels)} label(s) {spec.labels}"
        )
    if spec.sample_rate != config.sample_rate:
        raise ParameterError(
            f"sample_rate={spec.sample_rate!r} does not match the network's "
            f"sample_rate={config.sample_rate}"
        )
    feature = spec.feature_config()
    if feature.kind != "logmel" or feature.sr != spec.sample_rate:
        raise ParameterError(
            f"feature kind={feature.kind!r} at sr={feature.sr}: expected a log-mel at "
            f"{spec.sample_rate} Hz"
        )
    if spec.architecture == "specgan":
        for name in ("n_mels", "hop_length"):
            if getattr(feature, name) != getattr(config, name):
                raise ParameterError(
                    f"model_config {name}={getattr(config, name)} does not match the "
                    f"feature's {name}={getattr(feature, name)}"
                )
    elif spec.vocoder is not None:
        raise ParameterError(f"vocoder={spec.vocoder!r}: a WaveGAN makes audio itself")
    return config


#: The GAN model-file format; shipped names resolve too.
GAN_FORMAT = ModelFormat(
    FORMAT_NAME,
    FORMAT_VERSION,
    GanSpec,
    "GAN model file",
    registry=GAN_REGISTRY,
    validate=validate_gan_spec,
    shipped=True,
    description="a GAN model file",
    used_by="torchmusic synthesize",
    written_by="torchmusic train gan",
)


def save_gan(path: str | os.PathLike[str], generator: nn.Module, spec: GanSpec) -> Path:
    """Write a GAN generator and its spec to one model file, atomically.

    ``spec.model_config`` may be ``{}`` (filled from ``generator.config``).

    Examples
    --------
    >>> from torchmusic.models.gan import build_gan
    >>> g, _ = build_gan("wavegan", dim=4, length=1024, n_layers=3, n_classes=2)
    >>> save_gan("g.safetensors", g, GanSpec("wavegan", {}, ["kick", "snare"]))  # doctest: +SKIP
    PosixPath('g.safetensors')
    """
    return GAN_FORMAT.save(path, generator, spec)


def read_gan_spec(path: str | os.PathLike[str]) -> GanSpec:
    """The verified :class:`GanSpec` of a file (or shipped name), without the weights."""
    return GAN_FORMAT.read_spec(path)


def load_gan_file(
    path: str | os.PathLike[str], *, device: str | torch.device = "cpu"
) -> tuple[nn.Module, GanSpec]:
    """Load a GAN model file (or shipped name): ``(generator in eval mode, spec)``.

    Never unpickles anything.

    Raises
    ------
    DataError
        Naming the file: missing, pickled, another kind of model file (a classifier
        or vocoder given to ``synthesize`` is named as one), corrupt, or a newer format.
    """
    return GAN_FORMAT.load(path, device=device)
