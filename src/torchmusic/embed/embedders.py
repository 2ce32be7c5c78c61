"""Embedders: turn a waveform into one L2-normalised track vector.

- :class:`MFCCEmbedder` (``"mfcc"``): the mean over time of the MFCCs, a baseline
  with no training.
- :class:`NetworkEmbedder`: an embedding model file (autoencoder or contrastive).
- :class:`ClassifierEmbedder`: a classifier model file; the embedding is the input
  of its output layer (the penultimate layer).

Network embedders cut a track into clip windows of the model's clip length, embed
every window, and pool: the mean of the L2-normalised clip embeddings, normalised
again. :func:`get_embedder` picks the right class for ``"mfcc"`` or a file.
"""

from __future__ import annotations

import abc
import hashlib
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from torchmusic import audio
from torchmusic.embed.info import ModelInfo
from torchmusic.embed.windows import clip_windows
from torchmusic.errors import DataError, ParameterError
from torchmusic.features.config import FeatureConfig

MFCC_VERSION = "1"


class Embedder(abc.ABC):
    """Base class: ``embed_waveform(y) -> (dim,)`` float32, L2-normalised.

    Attributes
    ----------
    feature : FeatureConfig
        Audio is loaded at ``feature.sr``.
    device : torch.device
    """

    feature: FeatureConfig
    device: torch.device

    @property
    @abc.abstractmethod
    def info(self) -> ModelInfo:
        """Name, version, dimension and fingerprint of the model."""

    @property
    def dim(self) -> int:
        """Embedding size."""
        return self.info.dim

    @abc.abstractmethod
    def embed_waveform(self, y: torch.Tensor) -> np.ndarray:
        """Track embedding ``(dim,)`` float32 (unit norm) of a mono waveform at ``feature.sr``."""

    def load(self, path: str | os.PathLike[str]) -> torch.Tensor:
        """Mono waveform of ``path`` at ``feature.sr`` (:class:`AudioFileError` if unreadable)."""
        y, _ = audio.load(path, sr=self.feature.sr, mono=True)
        if y.numel() == 0:
            from torchmusic.errors import AudioFileError

            raise AudioFileError(f"audio file {str(path)!r} holds no samples")
        return y

    def embed_file(self, path: str | os.PathLike[str]) -> np.ndarray:
        """Track embedding ``(dim,)`` of an audio file.

        Examples
        --------
        >>> get_embedder("mfcc").embed_file("song.ogg").shape  # doctest: +SKIP
        (20,)
        """
        return self.embed_waveform(self.load(path))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.info.describe()})"


def _unit(v: torch.Tensor) -> np.ndarray:
    return F.normalize(v.float(), dim=-1).cpu().numpy().astype(np.float32)


class MFCCEmbedder(Embedder):
    """Mean over time of a track's MFCCs (``n_mfcc`` numbers), L2-normalised.

    Parameters
    ----------
    n_mfcc : int
        Coefficients per frame.
    drop_c0 : bool
        Leave out the 0th coefficient (overall loudness). It is an order of
        magnitude larger than the others, so cosine similarity would rank tracks
        by loudness alone.
    sr : int
        Sample rate audio is loaded at.
    device : str or torch.device

    Examples
    --------
    >>> emb = MFCCEmbedder()
    >>> emb.embed_waveform(torch.randn(22050)).shape
    (19,)
    """

    def __init__(
        self,
        *,
        n_mfcc: int = 20,
        drop_c0: bool = True,
        sr: int = 22050,
        device: str | torch.device = "cpu",
    ) -> None:
        if not isinstance(n_mfcc, int) or isinstance(n_mfcc, bool) or n_mfcc < 2:
            raise ParameterError(f"n_mfcc={n_mfcc!r} must be an int >= 2")
        self.feature = FeatureConfig(kind="mfcc", n_mfcc=n_mfcc, sr=sr)
        self.drop_c0 = bool(drop_c0)
        self.device = torch.device(device)
        dim = n_mfcc - 1 if self.drop_c0 else n_mfcc
        key = f"mfcc-mean:{MFCC_VERSION}:{self.feature.fingerprint()}:drop_c0={self.drop_c0}"
        self._info = ModelInfo(
            name="mfcc",
            version=MFCC_VERSION,
            dim=dim,
            fingerprint=hashlib.sha256(key.encode()).hexdigest()[:32],
            source="mfcc",
        )

    @property
    def info(self) -> ModelInfo:
        return self._info

    def embed_waveform(self, y: torch.Tensor) -> np.ndarray:
        if y.ndim != 1 or y.numel() == 0:
            raise ParameterError(f"y must be a non-empty 1-D waveform, got shape {tuple(y.shape)}")
        with torch.inference_mode():
            mfcc = self.feature.compute(y.to(self.device, torch.float32))
        mean = mfcc.mean(dim=-1)
        return _unit(mean[1:] if self.drop_c0 else mean)


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
    """An :class:`Embedder` for ``"mfcc"``, an embedding model file or a classifier model file.

    Parameters
    ----------
    model : str, os.PathLike or Embedder
        ``"mfcc"``; a file written by :func:`~torchmusic.models.embed.save_embedding_model`
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
    from torchmusic.models.embed.embedfile import FORMAT_NAME, read_model_metadata
    from torchmusic.pretrained import resolve_model

    path = resolve_model(model)
    _, meta, _ = read_model_metadata(path)
    if meta.get("format") == FORMAT_NAME:
        return NetworkEmbedder(path, device=device, hop_seconds=hop_seconds)
    return ClassifierEmbedder(path, device=device, hop_seconds=hop_seconds)
