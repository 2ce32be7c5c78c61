"""Track catalogs: embeddings in SQLite (WAL), searched through a FAISS index on disk.

- :class:`Catalog`: ``add(paths, embedder=...)``, ``add_embeddings``, ``remove``,
  ``similar(query, k)``, ``rebuild_index()``, ``restandardise()`` (``mfcc``
  catalogs), ``len()``, ``info()``.
- :func:`build_catalog` / :func:`build_demo_catalog`: one call from audio to a
  catalog (and, for the demo, a printable table of nearest neighbours).

See ``docs/catalog.md`` for the schema, the index choice and the consistency
guarantees.

Examples
--------
>>> from torchmusic.recommend.catalog import Catalog
>>> cat = Catalog("my_catalog")  # doctest: +SKIP
>>> cat.add(["music/"], embedder="mfcc")  # doctest: +SKIP
>>> cat.similar("music/a.ogg", k=5)  # doctest: +SKIP
"""

from __future__ import annotations

from torchmusic.recommend.catalog.catalog import (
    AddReport,
    Catalog,
    Neighbor,
    RemoveReport,
    RestandardiseReport,
)
from torchmusic.recommend.catalog.demo import DemoCatalog, build_catalog, build_demo_catalog
from torchmusic.recommend.catalog.index import DEFAULT_NPROBE, EXACT_MAX_TRACKS, build_index

__all__ = [
    "DEFAULT_NPROBE",
    "EXACT_MAX_TRACKS",
    "AddReport",
    "Catalog",
    "DemoCatalog",
    "Neighbor",
    "RemoveReport",
    "RestandardiseReport",
    "build_catalog",
    "build_demo_catalog",
    "build_index",
]
