"""Import an embeddings table (Parquet / JSON Lines, e.g. from a Ray job) into a catalog.

An embeddings table has one row per input file with the columns of
:data:`EMBEDDING_COLUMNS`: what :meth:`Catalog.add` would have computed itself
(vector, content hash, duration, size, name, the MFCC statistics of an ``mfcc``
model) plus the model that made it (``model``: :class:`ModelInfo` as JSON) and
``error`` (None, or why the file could not be embedded). Importing it is
:meth:`Catalog.add` of the same files without decoding them again: same rows,
same metadata, same duplicate rule (content hash), same failures.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm.auto import tqdm

from torchmusic.data.discover import FailedFile
from torchmusic.data.tables import iter_table_rows
from torchmusic.embed.info import ModelInfo
from torchmusic.errors import DataError, ParameterError
from torchmusic.recommend.catalog import store

if TYPE_CHECKING:
    from torchmusic.recommend.catalog.catalog import AddReport, Catalog

#: Columns of an embeddings table, in order.
EMBEDDING_COLUMNS = (
    "path",  # the file as the job saw it (absolute on a shared filesystem)
    "name",  # relative to the folder it was found in (catalog metadata "name")
    "content_hash",  # blake2b of the file's bytes: the catalog's duplicate key
    "size",  # bytes
    "duration",  # seconds
    "vector",  # float32 (dim,), unit norm; None on an error row
    "raw",  # mfcc: raw MFCC statistics (Catalog.restandardise refits from them)
    "model",  # ModelInfo.to_dict() as JSON
    "error",  # None, or why the file could not be embedded
)


def model_of(row: dict[str, Any]) -> ModelInfo:
    """The :class:`ModelInfo` recorded in a table row (:class:`DataError` if malformed)."""
    text = row.get("model")
    try:
        data = json.loads(text) if isinstance(text, str) else text
    except json.JSONDecodeError as exc:
        raise DataError(f"row of {row.get('path')!r}: model is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise DataError(f"row of {row.get('path')!r} records no model (column 'model')")
    return ModelInfo.from_dict(data)


def _embedder_for(model: Any, info: ModelInfo, device: str) -> Any:
    """The embedder ``model`` names (checked to be the table's model), or None."""
    if model is None:
        return None
    from torchmusic.embed.embedders import get_embedder

    emb = get_embedder(model, device=device)
    if emb.info.fingerprint != info.fingerprint:
        raise DataError(
            f"model {model!r} ({emb.info.describe()}) is not the model the table was "
            f"embedded with ({info.describe()})"
        )
    return emb


def _check_new_catalog_model(catalog: Catalog, info: ModelInfo, embedder: Any) -> None:
    """Refuse, before anything is written, a new catalog it could not rebuild the model of."""
    if embedder is not None:
        return
    if info.name == "mfcc":
        from torchmusic.embed.mfcc import MFCCEmbedder, MFCCMeanEmbedder

        default = MFCCMeanEmbedder() if info.version == "1" else MFCCEmbedder()
        if default.info.fingerprint != info.fingerprint:
            raise DataError(
                f"the table was embedded with {info.describe()}, not the default mfcc settings "
                f"and statistics: pass the same embedder (model=...) to start catalog "
                f"{str(catalog.root)!r} with it"
            )
    elif not (info.source and Path(info.source).is_file()):
        raise DataError(
            f"the table's model file {info.source!r} ({info.describe()}) is not here: pass "
            f"it (--model FILE / model=...) so that catalog {str(catalog.root)!r} keeps a copy"
        )


def import_embeddings(
    catalog: Catalog,
    source: str | os.PathLike[str],
    *,
    model: Any = None,
    device: str = "cpu",
    batch_size: int = 1024,
    progress: bool = False,
) -> AddReport:
    """Add the rows of an embeddings table to ``catalog`` (see :meth:`Catalog.import_embeddings`)."""
    from torchmusic.recommend.catalog.catalog import AddReport, _unit_rows

    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ParameterError(f"batch_size={batch_size!r} must be a positive integer")
    report = AddReport()
    info: ModelInfo | None = None
    embedder: Any = None
    conn = None
    seen: dict[str, int] = {}
    bar = tqdm(desc="catalog import", unit="track", disable=not progress)
    for batch in iter_table_rows(source, columns=EMBEDDING_COLUMNS, batch_rows=batch_size):
        good = []
        for row in batch:
            path = Path(str(row.get("path") or "?"))
            if row.get("error") or row.get("vector") is None or not row.get("content_hash"):
                report.failed.append(FailedFile(path, str(row.get("error") or "no embedding")))
                continue
            row_info = model_of(row)
            if info is None:
                info = row_info
                embedder = _embedder_for(model, info, device)
                if catalog.model is None:
                    _check_new_catalog_model(catalog, info, embedder)
                conn = catalog._connection(create=True)
                catalog._check_model(conn, info)  # another model: refused before any write
            elif row_info.fingerprint != info.fingerprint:
                raise DataError(
                    f"the table mixes models: {path} was embedded with {row_info.describe()}, "
                    f"earlier rows with {info.describe()}; nothing more was imported"
                )
            good.append((path, row))
        bar.update(len(batch))
        if not good:
            continue
        assert info is not None and conn is not None
        known = store.known_hashes(conn, [r["content_hash"] for _, r in good])
        rows, raw = [], {}
        for path, row in good:
            digest = str(row["content_hash"])
            if digest in known or digest in seen:
                report.duplicates.append((path, known.get(digest, seen.get(digest, -1))))
                continue
            seen[digest] = -1
            # The metadata Catalog.add writes, so an import equals an add of the files.
            meta = {"name": row.get("name") or path.name, "duration": round(row["duration"], 3)}
            meta["size"] = int(row.get("size") or 0)
            vector = _unit_rows(np.asarray(row["vector"], np.float32), info.dim, what="embeddings")
            rows.append((str(path), digest, meta, vector[0]))
            if row.get("raw") is not None:
                raw[digest] = np.asarray(row["raw"], np.float32)
        if rows:
            seen.update(catalog._insert(conn, rows, info, embedder, report, raw=raw))
    bar.close()
    if conn is None:  # nothing importable: do not create an empty catalog
        report.generation = catalog.generation
        return report
    if report.added:
        catalog._save_current_index(conn)
    report.generation = store.generation(conn)
    return report
