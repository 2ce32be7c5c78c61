"""``music-embed`` (v2): the shipped encoder fused with MFCC statistics and rhythm.

Three views of a track, each L2-normalised, concatenated with equal weights and
normalised again (352 numbers)::

    [ encoder (256): the self-supervised CNN, mean of its 3 s windows  -> timbre, texture
      mfcc    (60):  standardised MFCC statistics ("mfcc" v2)         -> spectral envelope
      rhythm  (36):  standardised average tempogram (embed.rhythm)     -> metre, pulse ]

With equal weights, the cosine of two fused vectors is the mean of the three parts'
cosines. Why fuse: measured on held-out music (docs/embeddings.md), the CNN trained
on 14 hours of CPU-budget data is strong on same-track retrieval and timbre but loses
metre (it sees 3 s windows and is trained to ignore which crop it sees) and some
spectral detail; the MFCC statistics and the rhythm profile carry exactly those, and
the fusion beats every part on retrieval and on every probe. The encoder alone stays
available as ``music-embed-encoder`` (and as the ``--backbone`` of ``train classify``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from torchmusic.embed.base import Embedder
from torchmusic.embed.info import ModelInfo, fingerprint_of
from torchmusic.errors import ParameterError

#: Name and version of the fused shipped embedder in catalogs.
FUSED_NAME = "music-embed"
FUSED_VERSION = "2"
#: The shipped name of the encoder alone.
ENCODER_NAME = "music-embed-encoder"


class FusedEmbedder(Embedder):
    """Concatenation of several embedders' unit vectors, weighted, renormalised.

    Parameters
    ----------
    parts : sequence of (str, Embedder)
        Named parts; all must load audio at the same sample rate.
    weights : sequence of float, optional
        One positive weight per part (default 1 each): part ``i`` contributes
        ``w_i^2 / sum(w^2)`` of the cosine similarity.
    name, version : str
        Identity recorded in catalogs.
    source : str
        The file a catalog copies to rebuild the embedder (the encoder's model file).

    Raises
    ------
    ParameterError
        No parts, duplicate names, a bad weight, or parts at different sample rates.

    Examples
    --------
    >>> from torchmusic.embed import MFCCEmbedder
    >>> from torchmusic.embed.rhythm import RhythmEmbedder
    >>> emb = FusedEmbedder([("mfcc", MFCCEmbedder()), ("rhythm", RhythmEmbedder())])
    >>> emb.embed_waveform(torch.randn(22050)).shape  # doctest: +SKIP
    (96,)
    """

    def __init__(
        self,
        parts: Sequence[tuple[str, Embedder]],
        *,
        weights: Sequence[float] | None = None,
        name: str = "fused",
        version: str = "1",
        source: str = "",
    ) -> None:
        parts = list(parts)
        if not parts:
            raise ParameterError("a fused embedder needs at least one part")
        names = [n for n, _ in parts]
        if len(set(names)) != len(names):
            raise ParameterError(f"part names must be unique, got {names}")
        weights = [1.0] * len(parts) if weights is None else [float(w) for w in weights]
        if len(weights) != len(parts) or not all(np.isfinite(w) and w > 0 for w in weights):
            raise ParameterError(
                f"weights must be {len(parts)} positive numbers, got {list(weights)}"
            )
        rates = {n: e.feature.sr for n, e in parts}
        if len(set(rates.values())) != 1:
            raise ParameterError(f"fused parts must share a sample rate, got {rates}")
        self.parts = dict(parts)
        self.weights = tuple(weights)
        self.feature = parts[0][1].feature
        self.device = parts[0][1].device
        key = f"fused:{name}:{version}:" + ";".join(
            f"{n}={e.info.fingerprint}*{w!r}" for (n, e), w in zip(parts, weights, strict=True)
        )
        self._info = ModelInfo(
            name=name,
            version=version,
            dim=sum(e.info.dim for _, e in parts),
            fingerprint=fingerprint_of(key),
            source=source,
        )

    @property
    def info(self) -> ModelInfo:
        return self._info

    @property
    def layout(self) -> list[tuple[str, int]]:
        """``(part name, dim)`` in the order of the vector."""
        return [(n, e.info.dim) for n, e in self.parts.items()]

    def embed_waveform(self, y: torch.Tensor) -> np.ndarray:
        pieces = [
            w * e.embed_waveform(y) for e, w in zip(self.parts.values(), self.weights, strict=True)
        ]
        v = np.concatenate(pieces).astype(np.float64)
        return (v / np.linalg.norm(v)).astype(np.float32)


def music_embedder(
    encoder: str | os.PathLike[str] | None = None,
    *,
    device: str | torch.device = "cpu",
    hop_seconds: float | None = None,
) -> FusedEmbedder:
    """The ``music-embed`` v2 embedder: encoder + ``mfcc`` + rhythm (module docstring).

    Parameters
    ----------
    encoder : str or os.PathLike, optional
        The encoder's model file (default: the shipped ``music-embed.safetensors``;
        a catalog passes its own copy).
    device : str or torch.device
    hop_seconds : float, optional
        Window hop of the encoder (default: its clip length).

    Examples
    --------
    >>> music_embedder().dim  # doctest: +SKIP
    352
    """
    from torchmusic.embed.embedders import NetworkEmbedder
    from torchmusic.embed.mfcc import MFCCEmbedder
    from torchmusic.embed.rhythm import RhythmEmbedder
    from torchmusic.pretrained import resolve_model

    path = Path(resolve_model(FUSED_NAME if encoder is None else encoder))
    net = NetworkEmbedder(path, device=device, hop_seconds=hop_seconds)
    return FusedEmbedder(
        [
            ("encoder", net),
            ("mfcc", MFCCEmbedder(device=device)),
            ("rhythm", RhythmEmbedder(device=device)),
        ],
        name=FUSED_NAME,
        version=FUSED_VERSION,
        source=str(path.resolve()),
    )
