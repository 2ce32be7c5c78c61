"""Audio files for waveform-level training (vocoders, denoisers), split by track.

These trainers read raw audio, not labelled clips, so they need neither a label
column nor a feature cache: just the files, and a split in which one recording is
never on both sides. The files come from folders, files or a manifest (``path``
and optional ``split`` columns); files without a split go to ``valid`` by a hash of
their name, so adding files never moves the others.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from torchmusic.errors import DataError

TRAIN, VALID, TEST = "train", "valid", "test"
MANIFEST_SUFFIXES = (".csv", ".tsv", ".jsonl", ".ndjson")
_VALID_NAMES = ("valid", "val", "validation", "dev")


def audio_items(
    sources: str | Sequence[str] | None, *, name: str = "data"
) -> list[tuple[str, str | None]]:
    """``[(absolute path, split or None), ...]`` of folders, files and manifests.

    A manifest (CSV/TSV/JSONL) gives its ``path`` column, relative to the manifest's
    folder, and its ``split`` column when it has one; a folder or a file gives
    itself with no split (folders are expanded by :func:`split_by_track`).

    Raises
    ------
    DataError
        A manifest without a ``path`` column (``name`` says which setting gave it).

    Examples
    --------
    >>> audio_items(["music/"])  # doctest: +SKIP
    [('/home/me/music', None)]
    """
    from torchmusic.data.manifest import read_manifest

    items = [sources] if isinstance(sources, str) else list(sources or [])
    out: list[tuple[str, str | None]] = []
    for item in items:
        p = Path(item).expanduser()
        if p.is_file() and p.suffix.lower() in MANIFEST_SUFFIXES:
            columns, rows = read_manifest(p)
            if "path" not in columns:
                raise DataError(f"{name} manifest {str(p)!r} has no 'path' column")
            for _, row in rows:
                if row["path"]:
                    split = (row.get("split") or "").strip() or None
                    out.append((str((p.parent / row["path"]).resolve()), split))
        else:
            out.append((str(p.resolve()), None))
    return out


def _unit(path: str, seed: int) -> float:
    """A number in [0, 1) fixed by the file name and the seed (not by the file order)."""
    digest = hashlib.sha256(f"{seed}:{Path(path).name}".encode()).hexdigest()
    return int(digest[:12], 16) / float(16**12)


def split_by_track(
    items: Sequence[tuple[str, str | None]],
    *,
    val_fraction: float,
    seed: int,
    name: str = "data",
    what: str = "training audio",
) -> dict[str, list[str]]:
    """``{"train": [...], "valid": [...], "test": [...]}`` audio files, split by track.

    An item's own split (a manifest's ``split`` column) decides where it has one
    (``val``/``validation``/``dev`` mean ``valid``); folders are searched for audio
    files; files without a split go to ``valid`` with probability ``val_fraction``
    by a hash of the file name and ``seed``, at least one when there are two or
    more and ``val_fraction > 0``.

    Raises
    ------
    DataError
        An input that does not exist, or no training file at all.
    """
    from torchmusic.data.discover import collect_inputs

    parts: dict[str, list[str]] = {TRAIN: [], VALID: [], TEST: []}
    unsplit: list[str] = []
    for path, split in items:
        if split is not None:
            part = VALID if split.lower() in _VALID_NAMES else split.lower()
            parts.setdefault(part, []).append(path)
            continue
        files, missing = collect_inputs([path])
        if missing:
            raise DataError(
                f"{name} {str(missing[0])!r} does not exist (expected audio or a folder)"
            )
        unsplit += [str(f) for f, _ in files]
    if unsplit:
        ranked = sorted(unsplit, key=lambda p: _unit(p, seed))
        n_valid = round(len(unsplit) * val_fraction)
        if val_fraction > 0 and len(unsplit) >= 2:
            n_valid = max(1, n_valid)
        held = set(ranked[:n_valid])
        for p in unsplit:
            parts[VALID if p in held else TRAIN].append(p)
    if not parts[TRAIN]:
        sources = sorted({p for p, _ in items})[:3]
        raise DataError(
            f"no {what} in {name} {sources} (expected audio files, folders of them, or a "
            "manifest with a 'path' column)"
        )
    return parts
