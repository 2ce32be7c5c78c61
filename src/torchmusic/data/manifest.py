"""Datasets described by a manifest file (CSV, TSV or JSON Lines).

One row per track: a ``path`` column (relative to the manifest's folder, or
absolute), a label column chosen by name, and optional ``split``, ``track_id`` and
group (e.g. artist) columns. Multi-label rows hold several labels: ``;``-separated
in CSV/TSV (``"rock;live"``), a list in JSON Lines (``["rock", "live"]``).
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from torchmusic.data.textfile import read_text
from torchmusic.data.tracks import Track, TrackDataset, _preview
from torchmusic.errors import DataError, ParameterError
from torchmusic.features.config import FeatureConfig

_CSV_SUFFIXES = {".csv": ",", ".tsv": "\t"}
_JSONL_SUFFIXES = {".jsonl", ".ndjson"}


def read_manifest(
    manifest: str | os.PathLike[str],
) -> tuple[list[str], list[tuple[int, dict[str, Any]]]]:
    """Rows of a CSV/TSV/JSONL manifest.

    Returns
    -------
    columns : list of str
        Column names (CSV header; for JSONL, the keys of all rows in order of
        first appearance).
    rows : list of (int, dict)
        ``(line number, row)``, so errors can point at the line.

    The text may be UTF-8 (with or without a byte-order mark), UTF-16 / UTF-32 with
    a byte-order mark, or Latin-1 (the fallback when it is not UTF-8; see
    :func:`read_text`).

    Raises
    ------
    DataError
        Unknown suffix, unreadable or binary file, or a malformed line (line number
        given).
    """
    path = Path(manifest)
    suffix = path.suffix.lower()
    if not path.is_file():
        raise DataError(f"manifest {str(path)!r} does not exist or is not a file")
    if suffix in _CSV_SUFFIXES:
        # Spreadsheet programs save UTF-8 with a byte-order mark, UTF-16 or Latin-1.
        with io.StringIO(read_text(path), newline="") as f:
            reader = csv.DictReader(f, delimiter=_CSV_SUFFIXES[suffix])
            columns = [c.strip() for c in reader.fieldnames or []]
            reader.fieldnames = columns
            rows = []
            for row in reader:
                if None in row:  # more cells than header columns
                    raise DataError(
                        f"{path}: line {reader.line_num} has more cells than the header "
                        f"has columns ({len(columns)})"
                    )
                rows.append((reader.line_num, row))
        if not columns:
            raise DataError(f"manifest {str(path)!r} is empty; expected a header line")
        return columns, rows
    if suffix in _JSONL_SUFFIXES:
        columns_seen: dict[str, None] = {}
        rows = []
        with io.StringIO(read_text(path)) as f:
            for line_no, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DataError(f"{path}: line {line_no} is not valid JSON: {exc}") from None
                if not isinstance(row, dict):
                    raise DataError(
                        f"{path}: line {line_no} is not a JSON object: {line.strip()[:80]}"
                    )
                columns_seen.update(dict.fromkeys(row))
                rows.append((line_no, row))
        return list(columns_seen), rows
    raise DataError(
        f"manifest {str(path)!r}: unknown format {suffix!r}; expected .csv, .tsv, .jsonl or .ndjson"
    )


class ManifestDataset(TrackDataset):
    """Tracks listed in a CSV/TSV/JSONL manifest.

    Parameters
    ----------
    manifest : path
        ``.csv``, ``.tsv``, ``.jsonl`` or ``.ndjson`` file.
    label_column : str or None
        Column holding the label(s); ``None`` for an unlabelled dataset (items have
        no ``"label"``).
    path_column : str
        Column holding the audio path.
    split : str, optional
        Keep only rows whose ``split_column`` equals this (label indices still come
        from all rows, so every split agrees on them).
    split_column, track_id_column : str
        Optional columns; used when present. Without a track id column, the id is
        the path relative to the manifest's folder, without extension.
    group_column : str, optional
        Column grouping tracks that must share a split (e.g. ``"artist"``).
    multi_label : bool, optional
        Multi-hot targets. Default: detected (a list value, or a value holding
        ``label_separator``). ``False`` makes a multi-label row an error.
    label_separator : str
        Separator of several labels in one CSV/TSV cell.
    classes : sequence of str, optional
        Fix the label vocabulary and its order.
    check_files : bool
        Verify that every file exists (all missing files are listed in one error).
    sr, mono, clip, transform, features, cache_dir
        As in :class:`~torchmusic.data.tracks.TrackDataset`.

    Raises
    ------
    DataError
        Missing columns, empty label values (line number and path given), missing
        files (listed), duplicate track ids.

    Examples
    --------
    >>> ds = ManifestDataset("tags.jsonl", label_column="tags")  # doctest: +SKIP
    >>> ds.multi_label, ds[0]["label"].shape  # doctest: +SKIP
    (True, torch.Size([50]))
    >>> train = ManifestDataset("tracks.csv", split="train")  # doctest: +SKIP
    """

    def __init__(
        self,
        manifest: str | os.PathLike[str],
        *,
        label_column: str | None = "label",
        path_column: str = "path",
        split: str | None = None,
        split_column: str = "split",
        track_id_column: str = "track_id",
        group_column: str | None = None,
        multi_label: bool | None = None,
        label_separator: str = ";",
        classes: Sequence[str] | None = None,
        check_files: bool = True,
        sr: int | None = None,
        mono: bool = True,
        clip: float | None = None,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
        features: FeatureConfig | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        if not label_separator:
            raise ParameterError("label_separator must be a non-empty string such as ';'")
        self.manifest = Path(manifest).resolve()
        columns, rows = read_manifest(self.manifest)
        needed = [path_column] + ([label_column] if label_column is not None else [])
        if group_column is not None:
            needed.append(group_column)
        absent = [c for c in needed if c not in columns]
        if absent:
            raise DataError(
                f"manifest {str(self.manifest)!r} lacks column(s) {absent}; it has {columns}"
            )
        if split is not None and split_column not in columns:
            raise DataError(
                f"split={split!r} needs a {split_column!r} column; manifest {str(self.manifest)!r} "
                f"has {columns}"
            )
        if not rows:
            raise DataError(f"manifest {str(self.manifest)!r} has no rows")

        base = self.manifest.parent
        tracks: list[Track] = []
        any_multi = False
        for line_no, row in rows:
            where = f"{self.manifest.name}: line {line_no}"
            raw_path = row.get(path_column)
            if raw_path is None or not str(raw_path).strip():
                raise DataError(f"{where}: empty {path_column!r} value")
            rel = Path(str(raw_path).strip())
            path = rel if rel.is_absolute() else base / rel
            labels: tuple[str, ...] = ()
            if label_column is not None:
                labels, is_multi = self._parse_labels(row.get(label_column), label_separator)
                if not labels and not is_multi:
                    raise DataError(
                        f"{where} ({raw_path}): missing value in label column {label_column!r}"
                    )
                any_multi |= is_multi
                if is_multi and multi_label is False:
                    raise DataError(
                        f"{where} ({raw_path}): several labels {list(labels)} but multi_label=False"
                    )
            track_id = _cell(row, track_id_column) or _default_id(path, base)
            group = _cell(row, group_column) if group_column else None
            if group_column and group is None:
                raise DataError(
                    f"{where} ({raw_path}): missing value in group column {group_column!r}"
                )
            tracks.append(
                Track(
                    path=path,
                    labels=labels,
                    track_id=track_id,
                    split=_cell(row, split_column),
                    group=group,
                )
            )
        if check_files:
            missing = [str(t.path) for t in tracks if not t.path.is_file()]
            if missing:
                raise DataError(
                    f"manifest {str(self.manifest)!r}: {len(missing)} listed file(s) do not exist: "
                    f"{_preview(missing)}"
                )
        multi = any_multi if multi_label is None else multi_label
        if classes is None:
            classes = sorted({lab for t in tracks for lab in t.labels})
        super().__init__(
            tracks,
            classes=classes,
            multi_label=multi,
            sr=sr,
            mono=mono,
            clip=clip,
            features=features,
            cache_dir=cache_dir,
            transform=transform,
        )
        if split is not None:
            # Filter after the vocabulary is fixed so every split shares label indices.
            self._tracks = self.split(split)._tracks

    @staticmethod
    def _parse_labels(value: Any, separator: str) -> tuple[tuple[str, ...], bool]:
        """``(labels, is_multi)``: a list (JSONL) or a separated string is multi-label."""
        if value is None:
            return (), False
        if isinstance(value, list | tuple):
            labels = tuple(str(v).strip() for v in value if str(v).strip())
            return tuple(dict.fromkeys(labels)), True
        text = str(value).strip()
        if separator in text:
            labels = tuple(p.strip() for p in text.split(separator) if p.strip())
            return tuple(dict.fromkeys(labels)), True
        return ((text,) if text else ()), False


def _cell(row: dict[str, Any], column: str | None) -> str | None:
    """Stripped cell text, or None when the column is absent or the cell empty."""
    if column is None:
        return None
    value = row.get(column)
    if value is None or not str(value).strip():
        return None
    return str(value).strip()


def _default_id(path: Path, base: Path) -> str:
    """Path relative to the manifest folder (absolute when outside it), no extension."""
    try:
        return path.relative_to(base).with_suffix("").as_posix()
    except ValueError:
        return path.with_suffix("").as_posix()
