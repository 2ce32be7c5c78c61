"""Model files: the safetensors container, the generic format and the architecture registry.

- :mod:`torchmusic.io.container`: write and verify a torchmusic safetensors file
  (checksums, format name and version, refusal of pickles).
- :class:`ModelFormat` (:mod:`torchmusic.io.modelformat`): one kind of model file
  (classifier, generator, embedder, recommender, ...) with ``save``, ``read_spec``
  and ``load``; shipped model names are resolved there.
- :class:`Registry` (:mod:`torchmusic.io.registry`): architecture name ->
  (config class, model class), with ``build`` and close-name suggestions.

This package is torch-free: importing it imports neither torch, scipy nor
:mod:`torchmusic.models`, so reading a recommender file or a catalog needs none
of them. Its names are imported on first use.
"""

from __future__ import annotations

from torchmusic._lazy import lazy_package

_LAZY = {
    "FORMATS": "torchmusic.io.container",
    "describe_format": "torchmusic.io.container",
    "read_container": "torchmusic.io.container",
    "write_container": "torchmusic.io.container",
    "ModelFormat": "torchmusic.io.modelformat",
    "model_fingerprint": "torchmusic.io.modelformat",
    "Registry": "torchmusic.io.registry",
}

__all__ = sorted(_LAZY)


__getattr__, __dir__ = lazy_package(__name__, _LAZY)
