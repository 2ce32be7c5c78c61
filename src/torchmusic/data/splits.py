"""Leak-free train/valid/test splits: by track (or group), seeded, stratified; split-list files.

A track id never appears in two splits, and with a group key (e.g. the artist) all
tracks of a group land in the same split, which is what makes results on GTZAN's
artist-filtered split meaningful.
"""

from __future__ import annotations

import dataclasses
import os
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path, PurePosixPath

import numpy as np

from torchmusic.data.textfile import read_text
from torchmusic.data.tracks import Track, TrackDataset, _preview
from torchmusic.errors import DataError, ParameterError

DEFAULT_FRACTIONS: dict[str, float] = {"train": 0.8, "valid": 0.1, "test": 0.1}


# -- split-list files -----------------------------------------------------------------
def read_split_list(path: str | os.PathLike[str]) -> list[str]:
    """Entries of a split-list file: one relative audio path per line.

    Blank lines and lines starting with ``#`` are skipped, surrounding whitespace is stripped
    and Windows separators become ``/``. Duplicate lines are an error (a file that
    lists a track twice is probably not the list you meant).

    Examples
    --------
    >>> read_split_list("gtzan_splits/train_filtered.txt")[:1]  # doctest: +SKIP
    ['blues/blues.00029.wav']
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"split list {str(path)!r} does not exist")
    text = read_text(path, what="split list")  # UTF-8, UTF-16 with a BOM or Latin-1
    entries: list[str] = []
    for line in text.splitlines():
        entry = line.strip().replace("\\", "/")
        if entry and not entry.startswith("#"):
            entries.append(entry)
    dupes = sorted(e for e, n in Counter(entries).items() if n > 1)
    if dupes:
        raise DataError(f"split list {str(path)!r} lists entries more than once: {_preview(dupes)}")
    return entries


def entry_track_id(entry: str) -> str:
    """Track id named by a split-list entry: ``"blues/blues.00029.wav"`` -> ``"blues/blues.00029"``.

    The extension is dropped so that a list naming ``.wav`` files also matches
    the same tracks stored as ``.au`` or ``.flac``.
    """
    return PurePosixPath(entry.strip().replace("\\", "/")).with_suffix("").as_posix()


def apply_split_lists(
    dataset: TrackDataset,
    lists: Mapping[str, str | os.PathLike[str] | Sequence[str]],
    *,
    allow_missing: bool = False,
) -> tuple[TrackDataset, dict[str, list[str]]]:
    """Assign each track the split whose list names it.

    Parameters
    ----------
    dataset : TrackDataset
        E.g. a :class:`~torchmusic.data.ClassFolderDataset`; entries are matched to
        its ``track_id`` (path relative to the root, extension ignored).
    lists : mapping
        ``{split name: split-list file or list of entries}``.
    allow_missing : bool
        Entries that match no track raise :class:`DataError` listing them, unless
        this is True; they are returned either way, never silently dropped.

    Returns
    -------
    dataset : TrackDataset
        All tracks, with ``split`` set (``None`` for tracks named by no list); use
        ``dataset.split("train")``.
    unmatched : dict of str to list of str
        Per split, the entries that match no track (empty lists when all matched).

    Raises
    ------
    DataError
        A track is named by two lists (that would leak it), or entries match no
        track and ``allow_missing`` is False.

    Examples
    --------
    >>> ds = ClassFolderDataset("gtzan/genres")  # doctest: +SKIP
    >>> ds, unmatched = apply_split_lists(
    ...     ds, {s: f"gtzan_splits/{s}_filtered.txt" for s in ("train", "valid", "test")}
    ... )  # doctest: +SKIP
    >>> len(ds.split("train"))  # doctest: +SKIP
    443
    """
    if not lists:
        raise ParameterError("lists must name at least one split, e.g. {'train': 'train.txt'}")
    by_id = {t.track_id: t for t in dataset.tracks}
    assigned: dict[str, str] = {}
    unmatched: dict[str, list[str]] = {}
    for split, source in lists.items():
        entries = read_split_list(source) if isinstance(source, str | os.PathLike) else list(source)
        unmatched[split] = []
        for entry in entries:
            tid = entry_track_id(entry)
            if tid not in by_id:
                unmatched[split].append(entry)
            elif assigned.get(tid, split) != split:
                raise DataError(
                    f"track {tid!r} is listed in split {assigned[tid]!r} and in {split!r}; "
                    "a track must be in one split only"
                )
            else:
                assigned[tid] = split
    n_unmatched = sum(len(v) for v in unmatched.values())
    if n_unmatched and not allow_missing:
        detail = "; ".join(f"{s}: {_preview(v)}" for s, v in unmatched.items() if v)
        raise DataError(
            f"{n_unmatched} split-list entries match no file in the dataset ({detail}); "
            "pass allow_missing=True to use the lists anyway"
        )
    tracks = [dataclasses.replace(t, split=assigned.get(t.track_id)) for t in dataset.tracks]
    return dataset.with_tracks(tracks), unmatched


# -- random splits ----------------------------------------------------------------------
def _normalise_fractions(fractions: Mapping[str, float] | Sequence[float]) -> dict[str, float]:
    if not isinstance(fractions, Mapping):
        values = list(fractions)
        names = ["train", "valid", "test"][: len(values)]
        if len(values) not in (2, 3):
            raise ParameterError(
                f"fractions={fractions!r}: give 2 or 3 numbers (train, valid[, test]) or a mapping"
            )
        fractions = dict(zip(names, values, strict=True))
    out = {str(k): float(v) for k, v in fractions.items()}
    if not out or any(not v > 0 for v in out.values()):
        raise ParameterError(f"fractions={fractions!r} must all be > 0")
    if abs(sum(out.values()) - 1.0) > 1e-6:
        raise ParameterError(f"fractions={fractions!r} must sum to 1, not {sum(out.values())}")
    return out


def assign_splits(
    tracks: Sequence[Track],
    fractions: Mapping[str, float] | Sequence[float] = DEFAULT_FRACTIONS,
    *,
    seed: int = 0,
    stratify: bool = True,
    group: Callable[[Track], str] | None = None,
) -> dict[str, str]:
    """Seeded split assignment ``{track_id: split}``; see :func:`split_dataset`."""
    fracs = _normalise_fractions(fractions)
    names = list(fracs)
    units: dict[str, list[Track]] = defaultdict(list)
    for t in tracks:
        key = group(t) if group is not None else (t.group if t.group is not None else t.track_id)
        # The prefix keeps a group named like a track id from merging with that track.
        units[f"g:{key}" if (group is not None or t.group is not None) else f"t:{key}"].append(t)

    strata: dict[str, list[str]] = defaultdict(list)
    for key, members in units.items():
        label = ""
        if stratify:
            counts = Counter(m.labels[0] for m in members if m.labels)
            if counts:
                # Majority label of the group; ties go to the alphabetically first.
                label = min(counts, key=lambda lab: (-counts[lab], lab))
        strata[label].append(key)

    rng = np.random.default_rng(seed)
    assignment: dict[str, str] = {}
    for label in sorted(strata):
        keys = sorted(strata[label])
        keys = [keys[i] for i in rng.permutation(len(keys))]
        # Big groups first (stable, so equal sizes keep the random order): greedy
        # filling then lands close to the target fractions in tracks, not groups.
        keys.sort(key=lambda k: -len(units[k]))
        total = sum(len(units[k]) for k in keys)
        filled = dict.fromkeys(names, 0)
        for key in keys:
            # Give the unit to the split furthest below its target track count.
            split = max(names, key=lambda s: fracs[s] * total - filled[s])
            filled[split] += len(units[key])
            for t in units[key]:
                assignment[t.track_id] = split
    return assignment


def split_dataset(
    dataset: TrackDataset,
    fractions: Mapping[str, float] | Sequence[float] = DEFAULT_FRACTIONS,
    *,
    seed: int = 0,
    stratify: bool = True,
    group: Callable[[Track], str] | None = None,
) -> dict[str, TrackDataset]:
    """Random split by track (or group), stratified by label, reproducible from ``seed``.

    Parameters
    ----------
    dataset : TrackDataset
        The tracks to split.
    fractions : mapping or sequence
        ``{"train": 0.8, "valid": 0.1, "test": 0.1}`` (default) or ``(0.8, 0.1, 0.1)``;
        must sum to 1. Fractions are met per label in number of tracks, as closely
        as whole groups allow (tiny classes may leave a split without that class).
    seed : int
        Same seed, same tracks -> same split.
    stratify : bool
        Keep label proportions equal across splits (by each group's majority label;
        the first label of multi-label tracks).
    group : callable, optional
        ``track -> key``; tracks with equal keys land in one split. Default: the
        track's ``group`` (e.g. a manifest's artist column) when set, else the
        track itself.

    Returns
    -------
    dict of str to TrackDataset
        One dataset per split name (with ``Track.split`` set), all sharing the
        full dataset's classes. Splits that received no track are absent.

    Examples
    --------
    >>> parts = split_dataset(ds, (0.8, 0.1, 0.1), seed=0)  # doctest: +SKIP
    >>> sorted(parts)  # doctest: +SKIP
    ['test', 'train', 'valid']
    """
    assignment = assign_splits(dataset.tracks, fractions, seed=seed, stratify=stratify, group=group)
    by_split: dict[str, list[Track]] = defaultdict(list)
    for t in dataset.tracks:
        split = assignment[t.track_id]
        by_split[split].append(dataclasses.replace(t, split=split))
    names = list(_normalise_fractions(fractions))
    return {s: dataset.with_tracks(by_split[s]) for s in names if by_split[s]}


# -- a validation split carved out of train -------------------------------------------
def carve_validation(
    dataset: TrackDataset,
    fraction: float,
    *,
    seed: int = 0,
    stratify: bool = True,
    name: str = "valid",
) -> tuple[TrackDataset, TrackDataset, str]:
    """Split ``dataset`` (a training split) into ``(train, valid, how)``.

    Seeded, stratified by label and grouped like :func:`split_dataset` (each
    track's ``group``, e.g. a manifest's ``group_column``, stays whole). Small
    strata can round every unit to ``train``; then the stratification is dropped
    and, as a last resort, one seeded random unit goes to the validation split, so
    any dataset of two or more units gets a non-empty validation split.

    Parameters
    ----------
    dataset : TrackDataset
        The tracks to carve from.
    fraction : float
        Share of the tracks (in (0, 1)) that goes to the validation split.
    seed : int
        Same seed, same tracks -> same carve.
    stratify : bool
        Keep label proportions (False for multi-label data).
    name : str
        Split name given to the carved tracks.

    Returns
    -------
    train, valid : TrackDataset
        The two parts (``Track.split`` set to ``"train"`` / ``name``).
    how : str
        A short description for the run summary, e.g.
        ``"stratified by label, grouped by track"``.

    Raises
    ------
    DataError
        Fewer than two units (tracks or groups) to share out.

    Examples
    --------
    >>> train, valid, how = carve_validation(parts["train"], 0.1, seed=0)  # doctest: +SKIP
    """
    if not 0.0 < float(fraction) < 1.0:
        raise ParameterError(f"fraction={fraction!r} must be in (0, 1)")
    tracks = list(dataset.tracks)
    grouped = any(t.group is not None for t in tracks)
    units = {t.group if t.group is not None else f"t:{t.track_id}" for t in tracks}
    if len(units) < 2:
        raise DataError(
            f"cannot carve a validation split out of {len(tracks)} training track(s) in "
            f"{len(units)} {'group' if grouped else 'track'}(s): add tracks or 'valid' rows"
        )
    fracs = {"train": 1.0 - float(fraction), name: float(fraction)}
    how = ("stratified by label" if stratify else "not stratified") + (
        ", groups kept whole" if grouped else ""
    )
    assignment = assign_splits(tracks, fracs, seed=seed, stratify=stratify)
    if name not in assignment.values() and stratify:
        assignment = assign_splits(tracks, fracs, seed=seed, stratify=False)
        how = "not stratified (classes too small)" + (", groups kept whole" if grouped else "")
    if name not in assignment.values():
        keys = sorted(units)
        chosen = keys[int(np.random.default_rng(seed).integers(len(keys)))]
        for t in tracks:
            if (t.group if t.group is not None else f"t:{t.track_id}") == chosen:
                assignment[t.track_id] = name
        how += ", one unit at least"
    by_split: dict[str, list[Track]] = defaultdict(list)
    for t in tracks:
        split = assignment[t.track_id]
        by_split[split].append(dataclasses.replace(t, split=split))
    return dataset.with_tracks(by_split["train"]), dataset.with_tracks(by_split[name]), how


# -- which tracks a run saw -----------------------------------------------------------
#: Hex characters of a track's content digest recorded in run folders and model files
#: (the first 64 bits of :func:`torchmusic.data.discover.content_hash`).
DIGEST_CHARS = 16


def track_digest(
    path: str | os.PathLike[str], *, hash_file: Callable[[Path], str] | None = None
) -> str:
    """Short content digest of an audio file: the same bytes give the same digest anywhere.

    ``hash_file`` (e.g. ``FeatureCache.hash_file``, which remembers hashes by file
    stat) replaces :func:`~torchmusic.data.discover.content_hash`.
    """
    from torchmusic.data.discover import content_hash

    return (hash_file or content_hash)(Path(path))[:DIGEST_CHARS]


def seen_digests(
    record: Mapping[str, object], splits: Sequence[str] = ("train", "valid")
) -> set[str] | None:
    """Digests of the tracks a run trained / validated on, from a record written by
    :func:`torchmusic.training.classify` (``spec.extra["seen_tracks"]`` or a run
    folder's ``data.json``); None when the record does not have them."""
    seen = record.get("seen_tracks") if "seen_tracks" in record else None
    if isinstance(seen, Mapping) and isinstance(seen.get("digests"), list):
        return {str(d)[:DIGEST_CHARS] for d in seen["digests"]}
    per_split = record.get("splits")
    if isinstance(per_split, Mapping):
        found: set[str] = set()
        known = False
        for name in splits:
            rows = per_split.get(name)
            if isinstance(rows, list):
                for row in rows:
                    if isinstance(row, Mapping) and row.get("digest"):
                        found.add(str(row["digest"])[:DIGEST_CHARS])
                        known = True
        return found if known else None
    return None
