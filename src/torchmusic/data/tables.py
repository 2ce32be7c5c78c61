"""Result tables on disk: Parquet or JSON Lines, one file or a folder of part files.

Distributed jobs (:mod:`torchmusic.scale.ray_engine`) write their results the way
Ray Data does: a folder (``embeddings.parquet/``, ``predictions.jsonl/``) of part
files, one per block, written in parallel by the workers. This module reads such
a table, or a single ``.parquet`` / ``.jsonl`` file, in bounded batches of rows,
so a table of a whole library never has to fit in memory at once.

pyarrow is needed for Parquet only (it comes with ``torchmusic[ray]``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from torchmusic.errors import DataError, DependencyError, ParameterError

#: Part-file suffixes and the format they hold (Ray's ``write_json`` names parts ``.json``).
PART_SUFFIXES = {".parquet": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}
#: Formats a table may be written in.
TABLE_FORMATS = ("parquet", "jsonl")


def table_format(path: str | os.PathLike[str]) -> str:
    """``"parquet"`` or ``"jsonl"`` from the name of a table file or folder.

    Examples
    --------
    >>> table_format("embeddings.parquet"), table_format("out/predictions.jsonl")
    ('parquet', 'jsonl')
    """
    suffix = Path(path).suffix.lower()
    if suffix == ".parquet":
        return "parquet"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    raise ParameterError(
        f"cannot tell the table format of {str(path)!r}: name it *.parquet or *.jsonl"
    )


def table_files(path: str | os.PathLike[str]) -> list[Path]:
    """The part files of a table: the file itself, or a folder's parts in name order.

    Hidden and ``_``-prefixed files (Ray's and Spark's bookkeeping) are skipped.

    Raises
    ------
    DataError
        The path does not exist, or the folder holds no part file.

    Examples
    --------
    >>> table_files("embeddings.parquet")  # doctest: +SKIP
    [PosixPath('embeddings.parquet/1_000000_000000.parquet'), ...]
    """
    p = Path(path).expanduser()
    if p.is_file():
        if p.suffix.lower() not in PART_SUFFIXES:
            raise DataError(f"{str(p)!r} is not a .parquet or .jsonl table file")
        return [p]
    if not p.is_dir():
        raise DataError(f"no table at {str(p)!r}: expected a .parquet/.jsonl file or folder")
    parts = sorted(
        f
        for f in p.rglob("*")
        if f.is_file() and f.suffix.lower() in PART_SUFFIXES and not f.name.startswith((".", "_"))
    )
    if not parts:
        raise DataError(f"folder {str(p)!r} holds no .parquet or .json(l) part file")
    return parts


def _parquet_batches(
    path: Path, columns: Sequence[str] | None, batch_rows: int
) -> Iterator[list[dict[str, Any]]]:
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise DependencyError(
            f"reading the Parquet table {str(path)!r} needs pyarrow: "
            "pip install 'torchmusic[ray]' (or pip install pyarrow)"
        ) from exc
    try:
        f = pq.ParquetFile(path)
        have = set(f.schema_arrow.names)
        cols = None if columns is None else [c for c in columns if c in have]
        for batch in f.iter_batches(batch_size=batch_rows, columns=cols):
            yield batch.to_pylist()
    # pyarrow's ArrowInvalid is a ValueError, its I/O errors OSErrors.
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read Parquet file {str(path)!r}: {exc}") from exc


def _jsonl_batches(
    path: Path, columns: Sequence[str] | None, batch_rows: int
) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{str(path)!r} line {line_no} is not JSON: {exc}") from exc
            if not isinstance(row, dict):
                raise DataError(f"{str(path)!r} line {line_no} is not a JSON object")
            batch.append(row if columns is None else {c: row.get(c) for c in columns})
            if len(batch) >= batch_rows:
                yield batch
                batch = []
    if batch:
        yield batch


def iter_table_rows(
    path: str | os.PathLike[str],
    *,
    columns: Sequence[str] | None = None,
    batch_rows: int = 1024,
) -> Iterator[list[dict[str, Any]]]:
    """Rows of a Parquet or JSON Lines table (file or folder of parts), in batches.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.parquet`` / ``.jsonl`` file, or a folder of part files (``.parquet``,
        ``.json``, ``.jsonl``), such as ``Dataset.write_parquet`` / ``write_json`` write.
    columns : sequence of str, optional
        Columns to read (Parquet reads only those; a missing column is ``None`` in
        JSON Lines rows and absent in Parquet rows). Default: all.
    batch_rows : int
        Rows per yielded batch: memory is bounded by one batch, not the table.

    Yields
    ------
    list of dict
        Up to ``batch_rows`` rows, as plain Python values.

    Examples
    --------
    >>> for rows in iter_table_rows("embeddings.parquet", columns=["path", "error"]):  # doctest: +SKIP
    ...     print(rows[0])
    {'path': '/music/a.ogg', 'error': None}
    """
    if not isinstance(batch_rows, int) or isinstance(batch_rows, bool) or batch_rows < 1:
        raise ParameterError(f"batch_rows={batch_rows!r} must be a positive integer")
    for part in table_files(path):
        if PART_SUFFIXES[part.suffix.lower()] == "parquet":
            yield from _parquet_batches(part, columns, batch_rows)
        else:
            yield from _jsonl_batches(part, columns, batch_rows)
