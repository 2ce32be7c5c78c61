"""The :class:`Embedder` interface every track embedder implements."""

from __future__ import annotations

import abc
import os

import numpy as np
import torch
import torch.nn.functional as F

from torchmusic import audio
from torchmusic.embed.info import ModelInfo
from torchmusic.features.config import FeatureConfig


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

    def embed_with_raw(self, y: torch.Tensor) -> tuple[np.ndarray, np.ndarray | None]:
        """The embedding and the raw features it was computed from, when the embedder
        has any worth keeping (``None`` here; the ``mfcc`` embedder returns its raw
        MFCC statistics, which a catalog stores so it can refit the standardisation
        without the audio)."""
        return self.embed_waveform(y), None

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
        (60,)
        """
        return self.embed_waveform(self.load(path))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.info.describe()})"


def unit(v: torch.Tensor) -> np.ndarray:
    """``v`` L2-normalised along its last axis, as float32 numpy."""
    return F.normalize(v.float(), dim=-1).cpu().numpy().astype(np.float32)
