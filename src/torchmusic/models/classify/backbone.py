"""A classifier on a pretrained embedding encoder: the encoder's features, then a small head.

:class:`BackboneClassifier` wraps an embedding network (an embedding model file's
architecture, e.g. :class:`~torchmusic.models.embed.ContrastiveEncoder`) and adds a
linear head (or a one-hidden-layer MLP). The encoder's *pre-projection* embedding is
the head's input: SimCLR-style projection heads only serve the contrastive loss,
and the embedding before them transfers better.

The encoder's architecture and config are part of :class:`BackboneClassifierConfig`,
and its weights are part of the classifier's ``state_dict``, so a classifier model
file written with :func:`~torchmusic.models.save_classifier` is self-contained:
loading it builds the encoder from the stored config and needs no embedding file.

With ``freeze=True`` (a linear probe) the encoder's parameters do not require
gradients and the encoder stays in eval mode even while the classifier trains,
so its BatchNorm running statistics do not move either.

Registered as the classifier architecture ``"backbone"`` (a registry plugin: this
module is imported when the name is first looked up).

Examples
--------
>>> from torchmusic.models.embed import build_embedder
>>> encoder = build_embedder("contrastive", n_mels=32, n_frames=44, channels=(4, 8))
>>> model = backbone_classifier(encoder, n_classes=3)
>>> model(torch.randn(2, 32, 44)).shape
torch.Size([2, 3])
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from torchmusic.errors import ParameterError
from torchmusic.models.classify._common import check_dropout, check_sizes
from torchmusic.models.classify.registry import register_classifier
from torchmusic.models.embed.registry import (
    EMBEDDER_REGISTRY,
    embedder_architecture_of,
    make_embedder_config,
)

#: How the classifier reads each embedding architecture: the method giving the
#: un-normalised ``(batch, dim)`` embedding, and the submodules it does not use
#: (they are dropped, so the classifier file does not carry them and, under DDP,
#: no parameter goes unused). Other registered architectures need ``features(x)``.
ENCODER_USE: dict[str, tuple[str, tuple[str, ...]]] = {
    "contrastive": ("features", ("projection",)),
    "autoencoder": ("code", ("from_code", "decoder")),
}


def _encoder_use(architecture: str, encoder: nn.Module) -> tuple[str, tuple[str, ...]]:
    method, dropped = ENCODER_USE.get(architecture, ("features", ()))
    if not callable(getattr(encoder, method, None)):
        raise ParameterError(
            f"embedding architecture {architecture!r} cannot be a backbone: its network has no "
            f"{method}(x) giving the un-normalised embedding"
        )
    return method, dropped


@dataclasses.dataclass
class BackboneClassifierConfig:
    """Settings of :class:`BackboneClassifier`.

    Parameters
    ----------
    n_mels, n_frames : int
        Input size: the encoder's (an encoder takes windows of exactly ``n_frames``).
    n_classes : int
        Outputs.
    encoder : str
        The embedding architecture (``"contrastive"``, ``"autoencoder"``): a name in
        :data:`torchmusic.models.embed.EMBEDDERS`.
    encoder_config : dict
        Its config as a plain dict (an embedding model file's ``model_config``);
        ``n_mels`` / ``n_frames`` are filled from above when missing and must
        match them when given. Stored normalised (every field of the config).
    hidden : int
        Width of a hidden ReLU layer in the head (0, the default: a linear head).
    dropout : float
        Dropout on the embedding before the head (and on the hidden layer).
    freeze : bool
        Keep the encoder fixed (default: a linear probe): no gradients, and eval
        mode (BatchNorm statistics fixed) while training. ``False`` fine-tunes it.
    """

    n_mels: int
    n_frames: int
    n_classes: int
    encoder: str = "contrastive"
    encoder_config: dict[str, Any] = dataclasses.field(default_factory=dict)
    hidden: int = 0
    dropout: float = 0.0
    freeze: bool = True

    def __post_init__(self) -> None:
        owner = type(self).__name__
        check_sizes(owner, self.n_mels, self.n_frames, self.n_classes)
        if not isinstance(self.encoder, str) or self.encoder not in EMBEDDER_REGISTRY:
            raise ParameterError(
                f"{owner}: encoder={self.encoder!r} is not an embedding architecture; "
                f"expected one of {EMBEDDER_REGISTRY.names()}"
            )
        if not isinstance(self.encoder_config, dict):
            raise ParameterError(f"{owner}: encoder_config={self.encoder_config!r} must be a dict")
        settings = dict(self.encoder_config)
        for name in ("n_mels", "n_frames"):
            want = getattr(self, name)
            have = settings.setdefault(name, want)
            if have != want:
                raise ParameterError(
                    f"{owner}: encoder_config {name}={have!r} differs from {name}={want}: the "
                    f"classifier's input is the encoder's"
                )
        self.encoder_config = dataclasses.asdict(make_embedder_config(self.encoder, settings))
        if isinstance(self.hidden, bool) or not isinstance(self.hidden, int) or self.hidden < 0:
            raise ParameterError(f"{owner}: hidden={self.hidden!r} must be an int >= 0 (0: linear)")
        self.dropout = check_dropout(owner, self.dropout)
        if not isinstance(self.freeze, bool):
            raise ParameterError(f"{owner}: freeze={self.freeze!r} must be true or false")


class BackboneClassifier(nn.Module):
    """An embedding encoder, then dropout and a linear (or one-hidden-layer) head.

    ``forward(x)`` maps features ``(batch, n_mels, n_frames)`` to logits
    ``(batch, n_classes)``. Build it from a trained encoder with
    :func:`backbone_classifier`; ``BackboneClassifier(config)`` alone has a randomly
    initialised encoder (what loading a model file fills with the file's weights).

    Parameters
    ----------
    config : BackboneClassifierConfig
    """

    def __init__(self, config: BackboneClassifierConfig) -> None:
        super().__init__()
        self.config = config
        encoder = EMBEDDER_REGISTRY.build(config.encoder, **config.encoder_config)
        self._encode_method, dropped = _encoder_use(config.encoder, encoder)
        for name in dropped:
            setattr(encoder, name, nn.Identity())
        self.encoder = encoder
        dim = int(encoder.config.dim)
        layers: list[nn.Module] = [nn.Dropout(config.dropout)]
        if config.hidden:
            layers += [nn.Linear(dim, config.hidden), nn.ReLU(inplace=True)]
            layers += [nn.Dropout(config.dropout)]
            dim = config.hidden
        # The last linear layer is the output layer: ClassifierEmbedder reads its input.
        layers.append(nn.Linear(dim, config.n_classes))
        self.head = nn.Sequential(*layers)
        self.set_frozen(config.freeze)

    @property
    def frozen(self) -> bool:
        """Whether the encoder is kept fixed."""
        return self.config.freeze

    def set_frozen(self, freeze: bool) -> BackboneClassifier:
        """Freeze (or unfreeze) the encoder; returns self."""
        self.config.freeze = bool(freeze)
        for p in self.encoder.parameters():
            p.requires_grad_(not self.config.freeze)
        if self.config.freeze:
            self.encoder.eval()
        return self

    def train(self, mode: bool = True) -> BackboneClassifier:
        """As :meth:`nn.Module.train`, but a frozen encoder stays in eval mode."""
        super().train(mode)
        if self.config.freeze:
            self.encoder.eval()
        return self

    def backbone_parameters(self) -> Iterator[nn.Parameter]:
        """The encoder's parameters (the trainer gives them their own learning rate)."""
        return self.encoder.parameters()

    def embedding(self, x: torch.Tensor) -> torch.Tensor:
        """The encoder's un-normalised embedding ``(batch, dim)`` of features ``x``."""
        c = self.config
        if x.ndim != 3 or tuple(x.shape[1:]) != (c.n_mels, c.n_frames):
            got = tuple(x.shape)
            frames = f"{got[-1]} frames" if x.ndim == 3 else f"shape {got}"
            raise ParameterError(
                f"BackboneClassifier: input has {frames}; its {c.encoder} encoder takes windows "
                f"of exactly ({c.n_mels}, {c.n_frames}) (n_mels, n_frames): pad shorter clips "
                f"to {c.n_frames} frames"
            )
        encode = getattr(self.encoder, self._encode_method)
        if self.config.freeze:
            with torch.no_grad():
                return encode(x)
        return encode(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embedding(x))


def backbone_classifier(
    encoder: nn.Module,
    *,
    n_classes: int,
    hidden: int = 0,
    dropout: float = 0.0,
    freeze: bool = True,
) -> BackboneClassifier:
    """A :class:`BackboneClassifier` around a trained embedding network, its weights copied.

    Parameters
    ----------
    encoder : nn.Module
        A registered embedding network (e.g. the model of
        :func:`~torchmusic.models.embed.load_embedding_model`); it is not changed.
    n_classes, hidden, dropout, freeze
        As in :class:`BackboneClassifierConfig`.

    Returns
    -------
    BackboneClassifier
        Its encoder holds ``encoder``'s weights and buffers (BatchNorm statistics
        included); the head is freshly initialised.

    Examples
    --------
    >>> net, spec = load_embedding_model("music-embed.safetensors")  # doctest: +SKIP
    >>> model = backbone_classifier(net, n_classes=10)  # doctest: +SKIP
    """
    architecture = embedder_architecture_of(encoder)
    config = BackboneClassifierConfig(
        n_mels=int(encoder.config.n_mels),
        n_frames=int(encoder.config.n_frames),
        n_classes=n_classes,
        encoder=architecture,
        encoder_config=dataclasses.asdict(encoder.config),
        hidden=hidden,
        dropout=dropout,
        freeze=freeze,
    )
    model = BackboneClassifier(config)
    wanted = model.encoder.state_dict()
    state = {k: v for k, v in encoder.state_dict().items() if k in wanted}
    model.encoder.load_state_dict(state, strict=True)
    return model.set_frozen(freeze)


register_classifier("backbone", BackboneClassifierConfig, BackboneClassifier)
