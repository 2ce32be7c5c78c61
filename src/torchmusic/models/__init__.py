"""Models: plain ``nn.Module`` networks with ``@dataclass`` configs, and their model files.

- :func:`build_classifier` builds ``"simple_cnn"``, ``"crnn"`` or ``"shortchunk"`` (or any
  architecture added with :func:`register_classifier`) sized to the clip and classes.
- :func:`save_classifier` / :func:`load_classifier` write and read single-file
  safetensors model files (weights + :class:`ClassifierSpec`); loading never unpickles.

No training code lives here (that is :mod:`torchmusic.training`). Names are
imported on first use, so that e.g. :mod:`torchmusic.models.symbolic` (generators)
loads without the classifiers and the feature code.

Examples
--------
>>> from torchmusic.models import build_classifier
>>> model = build_classifier("crnn", n_mels=128, n_frames=130, n_classes=10)
>>> model.config.rnn
'lstm'
"""

from __future__ import annotations

from torchmusic._lazy import lazy_package

_CLASSIFY = "torchmusic.models.classify"
_MODELFILE = "torchmusic.models.modelfile"
_LAZY = {
    **dict.fromkeys(
        [
            "CLASSIFIERS",
            "CRNN",
            "CRNNConfig",
            "ShortChunkResNet",
            "ShortChunkResNetConfig",
            "SimpleCNN",
            "SimpleCNNConfig",
            "architecture_of",
            "build_classifier",
            "get_classifier",
            "register_classifier",
        ],
        _CLASSIFY,
    ),
    **dict.fromkeys(
        [
            "ClassifierSpec",
            "check_feature_match",
            "clip_frames",
            "feature_bins",
            "load_classifier",
            "read_spec",
            "save_classifier",
        ],
        _MODELFILE,
    ),
    **dict.fromkeys(
        ["BackboneClassifier", "BackboneClassifierConfig", "backbone_classifier"],
        "torchmusic.models.classify.backbone",
    ),
    "resolve_model": "torchmusic.pretrained",
}

__all__ = sorted(_LAZY)


__getattr__, __dir__ = lazy_package(__name__, _LAZY, submodules=True)
