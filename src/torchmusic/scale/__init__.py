"""Whole-library jobs: decode in worker processes, batch the model across tracks, resume.

- :mod:`torchmusic.scale.decode`: decoding + resampling in worker processes with a
  bounded look-ahead (memory does not grow with the library).
- :mod:`torchmusic.scale.batching`: clip windows of several tracks in one forward pass.
- :mod:`torchmusic.scale.jsonl`: result files that a killed job continues.
- :mod:`torchmusic.scale.ray_engine`: the same jobs on a Ray cluster (``torchmusic[ray]``).

Nothing here imports Lightning; Ray is imported only by the Ray engine.
"""

from __future__ import annotations

from torchmusic._lazy import lazy_package

# Filled in by the modules as they land; each name maps to the module defining it.
_LAZY: dict[str, str] = {
    "RayReport": "torchmusic.scale.ray_engine",
    "embed_dataset": "torchmusic.scale.ray_engine",
    "predict_dataset": "torchmusic.scale.ray_engine",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_package(__name__, _LAZY, submodules=True)
