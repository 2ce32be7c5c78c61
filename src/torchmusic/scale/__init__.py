"""Whole-library jobs: decode in worker processes, batch the model across tracks, resume.

- :mod:`torchmusic.scale.decode`: decoding + resampling in worker processes with a
  bounded look-ahead (memory does not grow with the library).
- :mod:`torchmusic.scale.batching`: clip windows of several tracks in one forward pass.
- :mod:`torchmusic.scale.jsonl`: result files that a killed job continues.
- :mod:`torchmusic.scale.jobs`: ``predict`` / ``embed`` / ``catalog add`` built from
  the three above (:func:`predict_files`, :func:`embed_files`, :func:`embed_stream`).
- :mod:`torchmusic.scale.ray_engine`: the same jobs on a Ray cluster (``torchmusic[ray]``).

Nothing here imports Lightning; Ray is imported only by the Ray engine.
"""

from __future__ import annotations

from torchmusic._lazy import lazy_package

# Filled in by the modules as they land; each name maps to the module defining it.
_LAZY: dict[str, str] = {
    # Local folder jobs (docs/scale.md, "Local folder jobs").
    "Decoded": "torchmusic.scale.decode",
    "decode_stream": "torchmusic.scale.decode",
    "TrackWindows": "torchmusic.scale.batching",
    "WindowMaker": "torchmusic.scale.batching",
    "cross_track_batches": "torchmusic.scale.batching",
    "embed_batched": "torchmusic.scale.batching",
    "predict_batched": "torchmusic.scale.batching",
    "JsonlResults": "torchmusic.scale.jsonl",
    "read_records": "torchmusic.scale.jsonl",
    "JsonlReport": "torchmusic.scale.jobs",
    "embed_files": "torchmusic.scale.jobs",
    "embed_stream": "torchmusic.scale.jobs",
    "iter_embeddings": "torchmusic.scale.jobs",
    "iter_predictions": "torchmusic.scale.jobs",
    "predict_files": "torchmusic.scale.jobs",
    "predict_to_jsonl": "torchmusic.scale.jobs",
    "RayReport": "torchmusic.scale.ray_engine",
    "embed_dataset": "torchmusic.scale.ray_engine",
    "predict_dataset": "torchmusic.scale.ray_engine",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_package(__name__, _LAZY, submodules=True)
