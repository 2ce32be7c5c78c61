"""Track embeddings: audio + a model (``"mfcc"``, an embedding or a classifier model file)
-> one unit-norm vector per track. No Lightning here.

- :func:`get_embedder` / :class:`Embedder`: ``embed_file(path)``, ``embed_waveform(y)``.
- :func:`embed_tracks`: files and folders -> :class:`TrackEmbeddings` + failures.
- :func:`iter_embeddings`: the streaming version the catalog adds batches from.

A track's embedding is the mean of its clip-window embeddings (each L2-normalised),
normalised again; the ``"mfcc"`` baseline is the standardised means and standard
deviations of the MFCCs and their deltas (:mod:`torchmusic.embed.mfcc`).

Examples
--------
>>> from torchmusic.embed import embed_tracks
>>> emb, failed = embed_tracks(["music/"], "mfcc")  # doctest: +SKIP
"""

from __future__ import annotations

from torchmusic._lazy import lazy_package
from torchmusic.embed.info import ModelInfo

# torch is imported by the embedders: load them on first use, so ModelInfo (what a
# catalog records) is available without it.
_LAZY = {
    "ClassifierEmbedder": "torchmusic.embed.embedders",
    "Embedder": "torchmusic.embed.base",
    "MFCCEmbedder": "torchmusic.embed.mfcc",
    "MFCCMeanEmbedder": "torchmusic.embed.mfcc",
    "MFCCStandardisation": "torchmusic.embed.mfcc",
    "fit_mfcc_standardisation": "torchmusic.embed.mfcc",
    "reference_standardisation": "torchmusic.embed.mfcc",
    "NetworkEmbedder": "torchmusic.embed.embedders",
    "get_embedder": "torchmusic.embed.embedders",
    "EmbeddedFile": "torchmusic.embed.tracks",
    "TrackEmbeddings": "torchmusic.embed.tracks",
    "embed_tracks": "torchmusic.embed.tracks",
    "iter_embeddings": "torchmusic.embed.tracks",
    "clip_windows": "torchmusic.embed.windows",
}

__all__ = ["ModelInfo", *sorted(_LAZY)]


__getattr__, __dir__ = lazy_package(__name__, _LAZY, eager=("ModelInfo",))
