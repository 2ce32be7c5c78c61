"""Classifier networks on feature clips: SimpleCNN, CRNN, ShortChunkResNet, and their registry."""

from __future__ import annotations

from torchmusic.models.classify.crnn import CRNN, CRNNConfig
from torchmusic.models.classify.registry import (
    CLASSIFIERS,
    architecture_of,
    build_classifier,
    get_classifier,
    make_config,
    register_classifier,
)
from torchmusic.models.classify.short_chunk_resnet import ShortChunkResNet, ShortChunkResNetConfig
from torchmusic.models.classify.simple_cnn import SimpleCNN, SimpleCNNConfig

__all__ = [
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
    "make_config",
    "register_classifier",
]
