"""One-call catalog building, for scripts and ``torchmusic demo``."""

from __future__ import annotations

import csv
import dataclasses
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from torchmusic.errors import DataError, ParameterError
from torchmusic.recommend.catalog.catalog import AddReport, Catalog, Neighbor

MANIFEST_NAME = "manifest.csv"


def build_catalog(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    *,
    model: Any = "mfcc",
    device: str = "cpu",
    workers: int | None = None,
    metadata: Any = None,
    progress: bool = False,
) -> tuple[Catalog, AddReport]:
    """Embed audio files/folders into the catalog folder ``out`` (created or extended).

    Parameters
    ----------
    paths : path or iterable of paths
        Audio files and folders.
    out : path
        Catalog folder.
    model : str, os.PathLike or Embedder
        ``"mfcc"``, an embedding or classifier model file, or an embedder.
    device, workers, metadata, progress
        As in :meth:`Catalog.add`.

    Returns
    -------
    catalog : Catalog
    report : AddReport

    Examples
    --------
    >>> cat, report = build_catalog(["music/"], "cat", model="mfcc")  # doctest: +SKIP
    >>> len(cat), len(report.failed)  # doctest: +SKIP
    (12, 0)
    """
    catalog = Catalog(out)
    report = catalog.add(
        paths,
        embedder=model,
        device=device,
        workers=workers,
        metadata=metadata,
        progress=progress,
    )
    return catalog, report


@dataclasses.dataclass
class DemoCatalog:
    """Outcome of :func:`build_demo_catalog`.

    Attributes
    ----------
    catalog : Catalog
    report : AddReport
    neighbours : list of (Neighbor, list of Neighbor)
        Each query track and its nearest neighbours.
    labels : list of str
        Manifest columns shown next to every track.
    """

    catalog: Catalog
    report: AddReport
    neighbours: list[tuple[Neighbor, list[Neighbor]]]
    labels: list[str]

    def table(self) -> str:
        """Text table of each query's neighbours, with their labels and scores."""
        model = self.catalog.model
        lines = [
            f"catalog {self.catalog.root}: {len(self.catalog)} tracks, model "
            f"{model.describe() if model else '-'}"
        ]
        for query, found in self.neighbours:
            lines.append(f"\nquery #{query.id} {query.name}  {self._labels(query)}")
            agree = {lab: 0 for lab in self.labels}
            for rank, n in enumerate(found, start=1):
                lines.append(f"  {rank:>2}. {n.score:6.3f}  #{n.id} {n.name}  {self._labels(n)}")
                for lab in self.labels:
                    agree[lab] += n.metadata.get(lab) == query.metadata.get(lab)
            if found and self.labels:
                shared = ", ".join(f"{lab} {agree[lab]}/{len(found)}" for lab in self.labels)
                lines.append(f"  same label as the query: {shared}")
        return "\n".join(lines)

    def agreement(self, *, k: int = 5) -> dict[str, float]:
        """Mean share of each track's ``k`` nearest neighbours that share its label.

        Every track of the catalog queries once (itself excluded); one number per
        label column, in [0, 1]: how well the embedding groups tracks the way the
        labels do, without any training on them.
        """
        tracks = self.catalog.tracks()
        hits = {lab: 0 for lab in self.labels}
        total = 0
        for q in tracks:
            found = self.catalog.similar(q.id, k=k)
            total += len(found)
            for n in found:
                for lab in self.labels:
                    hits[lab] += n.metadata.get(lab) == q.metadata.get(lab)
        return {lab: hits[lab] / total if total else 0.0 for lab in self.labels}

    def _labels(self, n: Neighbor) -> str:
        return " ".join(f"{lab}={n.metadata.get(lab, '?')}" for lab in self.labels)


def _manifest_metadata(corpus: Path, columns: Sequence[str]) -> dict[Path, dict[str, str]]:
    manifest = corpus / MANIFEST_NAME
    if not manifest.is_file():
        return {}
    with open(manifest, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return {
        (corpus / row["path"]).resolve(): {c: row[c] for c in columns if c in row}
        for row in rows
        if row.get("path")
    }


def build_demo_catalog(
    corpus_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    model: Any = "mfcc",
    n_queries: int = 3,
    k: int = 5,
    label_columns: Sequence[str] = ("tune_type", "instrument_family"),
    device: str = "cpu",
    workers: int | None = None,
    progress: bool = False,
) -> DemoCatalog:
    """Catalog a corpus folder and find the nearest neighbours of a few of its tracks.

    Tracks get the ``label_columns`` of the corpus's ``manifest.csv`` (when there
    is one) as metadata, so the table shows whether neighbours share labels with
    their query. Queries are spread evenly over the catalog (deterministic).
    Re-running reuses the catalog (same files are not embedded again).

    Parameters
    ----------
    corpus_dir : path
        Audio folder, e.g. the demo corpus (``demo_out/corpus``).
    out_dir : path
        Catalog folder.
    model : str, os.PathLike or Embedder
        ``"mfcc"`` (default), an embedding model file, or a classifier model
        file (e.g. the demo's trained ``run/model.safetensors``).
    n_queries, k : int
        Query tracks, and neighbours per query.
    label_columns : sequence of str
        Manifest columns copied into the metadata and shown.
    device, workers, progress
        As in :meth:`Catalog.add`.

    Returns
    -------
    DemoCatalog
        Print ``result.table()``.

    Examples
    --------
    >>> result = build_demo_catalog("demo_out/corpus", "demo_out/catalog")  # doctest: +SKIP
    >>> print(result.table())  # doctest: +SKIP
    """
    for name, value in (("n_queries", n_queries), ("k", k)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ParameterError(f"{name}={value!r} must be a positive integer")
    corpus = Path(corpus_dir)
    if not corpus.is_dir():
        raise DataError(f"corpus folder {str(corpus)!r} does not exist")
    labels = _manifest_metadata(corpus, label_columns)
    present = [c for c in label_columns if any(c in m for m in labels.values())]
    catalog = Catalog(out_dir)
    report = catalog.add(
        [corpus],
        embedder=model,
        device=device,
        workers=workers,
        metadata=lambda p: labels.get(Path(p).resolve(), {}),
        progress=progress,
    )
    if len(catalog) == 0:
        raise DataError(f"no readable audio in {str(corpus)!r}: {report.summary()}")
    tracks = catalog.tracks()
    step = max(1, len(tracks) // n_queries)
    queries = tracks[::step][:n_queries]
    neighbours = [(q, catalog.similar(q.id, k=k)) for q in queries]
    return DemoCatalog(catalog=catalog, report=report, neighbours=neighbours, labels=present)
