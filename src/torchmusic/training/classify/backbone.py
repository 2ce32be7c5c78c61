"""``model: backbone``: a classifier head on a pretrained embedding model's encoder.

:func:`resolve_backbone` reads the backbone's embedding model file (a path or a
shipped name such as ``music-embed``) and makes the recipe's ``feature`` and
``clip_seconds`` the backbone's, refusing a recipe that asks for others;
:func:`build_backbone_model` builds the
:class:`~torchmusic.models.classify.backbone.BackboneClassifier` with the file's
encoder weights. Both run before the run folder is written, so a refused backbone
leaves nothing behind.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torchmusic.errors import DataError, ParameterError
from torchmusic.features.config import FeatureConfig
from torchmusic.training.classify.settings import TrainConfig

if TYPE_CHECKING:
    from torchmusic.models.embed.embedfile import EmbeddingModelSpec

#: The ``feature`` of a recipe that says nothing about features (the dataclass default).
_UNSET_FEATURE = {"kind": "logmel"}
#: Per feature kind, the setting that sizes its bins (shown in messages).
_BINS = {"mel": "n_mels", "logmel": "n_mels", "mfcc": "n_mfcc", "chroma": "n_chroma"}


@dataclasses.dataclass
class Backbone:
    """A backbone embedding model file and what its spec says.

    Attributes
    ----------
    name : str
        As the recipe gives it (a path or a shipped name).
    path : pathlib.Path
        The file.
    spec : EmbeddingModelSpec
        Architecture, config, features, clip length.
    """

    name: str
    path: Path
    spec: EmbeddingModelSpec

    @property
    def feature(self) -> FeatureConfig:
        return self.spec.feature_config()

    def describe(self) -> str:
        """``"logmel sr=22050 n_fft=2048 hop_length=512 n_mels=64, 3 s windows (130 frames)"``."""
        f = self.feature
        keys = ["sr", "n_fft", "hop_length"]
        if f.kind in _BINS:
            keys.append(_BINS[f.kind])
        settings = " ".join(f"{k}={getattr(f, k)}" for k in keys)
        frames = f.clip_frames(float(self.spec.clip_seconds))
        return f"{f.kind} {settings}, {self.spec.clip_seconds:g} s windows ({frames} frames)"

    def provenance(self) -> dict[str, Any]:
        """What a classifier file records of its backbone (``spec.extra["backbone"]``)."""
        from torchmusic.io.modelformat import model_fingerprint

        return {
            "source": self.name,
            "file": str(self.path),
            "fingerprint": model_fingerprint(self.path),
            "architecture": self.spec.architecture,
            "dim": self.spec.dim,
            "clip_seconds": float(self.spec.clip_seconds),
        }


def read_backbone(name: str) -> Backbone:
    """The backbone embedding model named ``name`` (a file, or a shipped model's name).

    Raises
    ------
    DataError
        Missing, not a torchmusic file, another kind of model file (a classifier,
        a generator, ...), corrupt, or a spec that does not fit its network.
    """
    from torchmusic.models.embed.embedfile import EMBEDDER_FORMAT
    from torchmusic.pretrained import resolve_model

    try:
        path = resolve_model(name)
    except DataError as exc:
        raise DataError(f"backbone {name!r}: {exc}") from None
    try:
        spec = EMBEDDER_FORMAT.read_spec(path)
    except DataError as exc:
        raise DataError(
            f"backbone {name!r} must be an embedding model file (written by 'torchmusic train "
            f"embed'): {exc}"
        ) from None
    return Backbone(str(name), path, spec)


def resolve_backbone(cfg: TrainConfig) -> Backbone | None:
    """Fill ``cfg.feature`` and ``cfg.clip_seconds`` from ``cfg.backbone``; None without one.

    The recipe's explicit feature settings (any ``feature`` other than the default
    ``{kind: logmel}``) must equal the backbone's; ``clip_seconds``, when given,
    must give the encoder's window (its ``n_frames``). The encoder's window is
    fixed, so shorter tracks are padded to it (as every classifier's data pads
    tracks shorter than its clip) and longer ones cropped.

    Raises
    ------
    ParameterError
        Feature settings or a clip length that differ from the backbone's (the
        message names both).
    DataError
        As :func:`read_backbone`.
    """
    if cfg.model != "backbone" or not cfg.backbone:
        return None
    backbone = read_backbone(cfg.backbone)
    have = backbone.feature.to_dict()
    asked = dict(cfg.feature)
    # The default feature is {kind: logmel}, and --feature.n_mels 64 alone gives
    # {kind: logmel, n_mels: 64}: a kind of logmel is the default's, not a request.
    if asked.get("kind") == _UNSET_FEATURE["kind"]:
        del asked["kind"]
    try:
        wanted = FeatureConfig.from_dict({**have, **asked}).to_dict()
    except ParameterError as exc:
        raise ParameterError(
            f"feature={cfg.feature!r} with backbone {cfg.backbone!r}: {exc}"
        ) from None
    diffs = [f"{k}={wanted[k]!r} (backbone: {have[k]!r})" for k in asked if wanted[k] != have[k]]
    if diffs:
        raise ParameterError(
            f"backbone {cfg.backbone!r} uses {backbone.describe()}; the recipe asks "
            f"{', '.join(diffs)}. A classifier on a backbone sees the backbone's features: "
            "drop those feature settings (they are taken from the backbone file), or train a "
            "backbone on the features you want"
        )
    feature = backbone.feature
    window = feature.clip_frames(float(backbone.spec.clip_seconds))
    if cfg.clip_seconds is not None:
        frames = feature.clip_frames(float(cfg.clip_seconds))
        if frames != window:
            shorter = "shorter" if frames < window else "longer"
            raise ParameterError(
                f"clip_seconds={cfg.clip_seconds:g} gives {frames} frames, {shorter} than the "
                f"window of backbone {cfg.backbone!r}'s encoder: {backbone.spec.clip_seconds:g} "
                f"s ({window} frames). Drop clip_seconds (it is taken from the backbone); tracks "
                "shorter than the window are padded"
            )
    cfg.feature = have
    cfg.clip_seconds = float(backbone.spec.clip_seconds)
    return backbone


def build_backbone_model(cfg: TrainConfig, backbone: Backbone, *, n_classes: int) -> Any:
    """The :class:`BackboneClassifier` of ``cfg``: the backbone file's encoder (its
    weights and BatchNorm statistics) and a fresh head of ``cfg.model_config``."""
    from torchmusic.models.classify.backbone import backbone_classifier
    from torchmusic.models.embed.embedfile import EMBEDDER_FORMAT

    encoder, _ = EMBEDDER_FORMAT.load(backbone.path, device="cpu")
    # validate() allowed only the head's settings (BACKBONE_HEAD) in model_config.
    return backbone_classifier(encoder, n_classes=n_classes, **(cfg.model_config or {}))
