"""Embedders: turn a waveform into one L2-normalised track vector.

- :class:`MFCCEmbedder` (``"mfcc"``, v2): standardised means and standard deviations
  of the MFCCs and their deltas, a baseline with no training (:mod:`torchmusic.embed.mfcc`;
  the legacy v1 MFCC mean is :class:`MFCCMeanEmbedder`).
- :class:`NetworkEmbedder`: an embedding model file (autoencoder or contrastive).
- :class:`ClassifierEmbedder`: a classifier model file; the embedding is the input
  of its output layer (the penultimate layer).

Network embedders cut a track into clip windows of the model's clip length, embed
every window, and pool: the mean of the L2-normalised clip embeddings, normalised
again. :func:`get_embedder` picks the right class for ``"mfcc"`` or a file.
"""

from __future__ import annotations

import abc
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from torchmusic.embed.base import Embedder
from torchmusic.embed.base import unit as _unit
from torchmusic.embed.info import ModelInfo
from torchmusic.embed.mfcc import (
    MFCC_MEAN_VERSION,
    MFCC_VERSION,
    MFCCEmbedder,
    MFCCMeanEmbedder,
    MFCCStandardisation,
)
from torchmusic.embed.windows import clip_windows
from torchmusic.errors import DataError, ParameterError

__all__ = [
    "MFCC_MEAN_VERSION",
    "MFCC_VERSION",
    "ClassifierEmbedder",
    "Embedder",
    "MFCCEmbedder",
    "MFCCMeanEmbedder",
    "MFCCStandardisation",
    "NetworkEmbedder",
    "get_embedder",
]


class _WindowedEmbedder(Embedder):
    """Shared window -> batch -> pool logic of the network embedders."""

    clip_seconds: float
    n_frames: int
    hop_seconds: float | None
    batch_size: int

    @abc.abstractmethod
    def embed_windows(self, windows: torch.Tensor) -> torch.Tensor:
        """Clip embeddings ``(n, dim)`` of one batch of feature windows ``(n, n_bins, n_frames)``."""

    def embed_waveform(self, y: torch.Tensor) -> np.ndarray:
        windows = clip_windows(
            y,
            feature=self.feature,
            clip_seconds=self.clip_seconds,
            n_frames=self.n_frames,
            hop_seconds=self.hop_seconds,
            device=self.device,
        )
        clips = []
        with torch.inference_mode():
            for i in range(0, windows.shape[0], self.batch_size):
                clips.append(F.normalize(self.embed_windows(windows[i : i + self.batch_size])))
        return _unit(torch.cat(clips).mean(dim=0))


def _check_settings(hop_seconds: float | None, batch_size: int) -> None:
    if hop_seconds is not None and (
        isinstance(hop_seconds, bool)
        or not isinstance(hop_seconds, int | float)
        or hop_seconds <= 0
    ):
        raise ParameterError(f"hop_seconds={hop_seconds!r} must be a positive number or None")
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ParameterError(f"batch_size={batch_size!r} must be a positive integer")


class NetworkEmbedder(_WindowedEmbedder):
    """An embedding model file (``torchmusic.embedder``): autoencoder or contrastive.

    Parameters
    ----------
    path : str or os.PathLike
        The model file.
    device : str or torch.device
    hop_seconds : float, optional
        Seconds between windows (default: the clip length, no overlap).
    batch_size : int
        Windows per forward pass.

    Examples
    --------
    >>> emb = NetworkEmbedder("contrastive.safetensors")  # doctest: +SKIP
    >>> emb.embed_file("song.ogg").shape  # doctest: +SKIP
    (128,)
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        device: str | torch.device = "cpu",
        hop_seconds: float | None = None,
        batch_size: int = 64,
    ) -> None:
        from torchmusic.models.embed.embedfile import (
            fingerprint_of,
            load_embedding_model,
            read_model_metadata,
        )

        _check_settings(hop_seconds, batch_size)
        self.path = Path(path)
        _, meta, _ = read_model_metadata(self.path)
        self.model, self.spec = load_embedding_model(self.path, device=device)
        self.device = torch.device(device)
        self.feature = self.spec.feature_config()
        self.clip_seconds = float(self.spec.clip_seconds)
        self.n_frames = int(self.model.config.n_frames)
        self.hop_seconds, self.batch_size = hop_seconds, batch_size
        self._info = ModelInfo(
            name=self.spec.architecture,
            version=str(meta.get("format_version", "")),
            dim=int(self.model.config.dim),
            fingerprint=fingerprint_of(meta),
            source=str(self.path.resolve()),
        )

    @property
    def info(self) -> ModelInfo:
        return self._info

    def embed_windows(self, windows: torch.Tensor) -> torch.Tensor:
        return self.model.embed(windows.to(self.device, torch.float32))


def _output_layer(model: nn.Module) -> nn.Linear | None:
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    return linears[-1] if linears else None


class ClassifierEmbedder(_WindowedEmbedder):
    """A classifier model file used as an embedder: its penultimate-layer activations.

    The embedding is the input of the network's last linear layer (the output
    layer in every torchmusic classifier), captured with a forward hook.

    Parameters
    ----------
    path : str or os.PathLike
        Classifier model file or shipped model name (``"drums"``).
    device, hop_seconds, batch_size
        As in :class:`NetworkEmbedder`.

    Raises
    ------
    DataError
        The classifier has no linear output layer (the ``mfcc-svm`` baseline).

    Examples
    --------
    >>> ClassifierEmbedder("drums").dim  # doctest: +SKIP
    64
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        device: str | torch.device = "cpu",
        hop_seconds: float | None = None,
        batch_size: int = 64,
    ) -> None:
        from torchmusic.models.embed.embedfile import fingerprint_of, read_model_metadata
        from torchmusic.models.modelfile import load_classifier
        from torchmusic.pretrained import resolve_model

        _check_settings(hop_seconds, batch_size)
        self.path = resolve_model(path)
        _, meta, _ = read_model_metadata(self.path)
        self.model, self.spec = load_classifier(self.path, device=device)
        layer = _output_layer(self.model)
        if layer is None:
            raise DataError(
                f"classifier {self.path} ({self.spec.architecture}) has no linear output layer "
                "whose input could serve as an embedding"
            )
        self._captured: list[torch.Tensor] = []
        layer.register_forward_pre_hook(lambda _m, args: self._captured.append(args[0]))
        self.device = torch.device(device)
        self.feature = self.spec.feature_config()
        self.clip_seconds = float(self.spec.clip_seconds)
        self.n_frames = int(self.model.config.n_frames)
        self.hop_seconds, self.batch_size = hop_seconds, batch_size
        self._info = ModelInfo(
            name=f"classifier:{self.spec.architecture}",
            version=str(meta.get("format_version", "")),
            dim=int(layer.in_features),
            fingerprint=fingerprint_of(meta),
            source=str(self.path.resolve()),
        )

    @property
    def info(self) -> ModelInfo:
        return self._info

    def embed_windows(self, windows: torch.Tensor) -> torch.Tensor:
        self._captured.clear()
        self.model(windows.to(self.device, torch.float32))
        return self._captured.pop().flatten(1)


def get_embedder(
    model: str | os.PathLike[str] | Embedder,
    *,
    device: str | torch.device = "cpu",
    hop_seconds: float | None = None,
) -> Embedder:
    """An :class:`Embedder` for a name (``"mfcc"``, ``"rhythm"``, ``"music-embed"``), an
    embedding model file or a classifier model file.

    Parameters
    ----------
    model : str, os.PathLike or Embedder
        ``"mfcc"``; ``"rhythm"`` (:mod:`torchmusic.embed.rhythm`); ``"music-embed"``
        (the shipped encoder fused with ``mfcc`` and ``rhythm``,
        :func:`~torchmusic.embed.fused.music_embedder`); ``"music-embed-encoder"`` (the
        shipped encoder alone); a file written by :func:`~torchmusic.models.embed.save_embedding_model`
        or by :func:`~torchmusic.models.save_classifier`; a shipped classifier name
        (``"drums"``); or a ready embedder (returned as it is).
    device : str or torch.device
    hop_seconds : float, optional
        Window hop of network embedders (default: their clip length).

    Raises
    ------
    DataError
        The file is missing, corrupt, or not a torchmusic model file.

    Examples
    --------
    >>> get_embedder("mfcc").info.name
    'mfcc'
    """
    if isinstance(model, Embedder):
        return model
    if isinstance(model, str) and model.lower() == "mfcc":
        return MFCCEmbedder(device=device)
    if isinstance(model, str) and model.lower() == "rhythm":
        from torchmusic.embed.rhythm import RhythmEmbedder

        return RhythmEmbedder(device=device)
    if isinstance(model, str) and model == "music-embed" and not Path(model).is_file():
        from torchmusic.embed.fused import music_embedder

        return music_embedder(device=device, hop_seconds=hop_seconds)
    from torchmusic.models.embed.embedfile import FORMAT_NAME, read_model_metadata
    from torchmusic.pretrained import resolve_model

    path = resolve_model(model)
    _, meta, _ = read_model_metadata(path)
    if meta.get("format") == FORMAT_NAME:
        return NetworkEmbedder(path, device=device, hop_seconds=hop_seconds)
    return ClassifierEmbedder(path, device=device, hop_seconds=hop_seconds)
