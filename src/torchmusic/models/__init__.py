"""Models: plain ``nn.Module`` networks with ``@dataclass`` configs, and their model files.

- :func:`build_classifier` builds ``"simple_cnn"``, ``"crnn"`` or ``"shortchunk"`` (or any
  architecture added with :func:`register_classifier`) sized to the clip and classes.
- :func:`save_classifier` / :func:`load_classifier` write and read single-file
  safetensors model files (weights + :class:`ClassifierSpec`); loading never unpickles.

No training code lives here (that is :mod:`torchmusic.training`).

Examples
--------
>>> from torchmusic.models import build_classifier
>>> model = build_classifier("crnn", n_mels=128, n_frames=130, n_classes=10)
>>> model.config.rnn
'lstm'
"""

from __future__ import annotations

from torchmusic.models.classify import (
    CLASSIFIERS,
    CRNN,
    CRNNConfig,
    ShortChunkResNet,
    ShortChunkResNetConfig,
    SimpleCNN,
    SimpleCNNConfig,
    architecture_of,
    build_classifier,
    get_classifier,
    register_classifier,
)
from torchmusic.models.modelfile import (
    ClassifierSpec,
    check_feature_match,
    clip_frames,
    feature_bins,
    load_classifier,
    read_spec,
    save_classifier,
)
from torchmusic.pretrained import resolve_model

__all__ = [
    "CLASSIFIERS",
    "CRNN",
    "CRNNConfig",
    "ClassifierSpec",
    "ShortChunkResNet",
    "ShortChunkResNetConfig",
    "SimpleCNN",
    "SimpleCNNConfig",
    "architecture_of",
    "build_classifier",
    "check_feature_match",
    "clip_frames",
    "feature_bins",
    "get_classifier",
    "load_classifier",
    "read_spec",
    "register_classifier",
    "resolve_model",
    "save_classifier",
]
