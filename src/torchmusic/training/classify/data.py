"""Datasets and splits of a training run, built from a :class:`TrainConfig` (no Lightning).

:func:`load_tracks` reads the folder or manifest, :func:`split_tracks` assigns
train / valid / test (split lists, a manifest's split column, or a seeded
group-aware random split; a validation split is carved out of ``train`` when the
source has none) and says which, :func:`check_files` computes every file's features into the cache and
reports the files that cannot be decoded, and :func:`drop_files` removes them.
The Lightning data module and the MFCC baseline both build on these.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import torch

from torchmusic.data import (
    ClassFolderDataset,
    ExtractionReport,
    FailedFile,
    ManifestDataset,
    RandomClips,
    TrackDataset,
    apply_split_lists,
    default_cache_dir,
    extract_features,
    split_dataset,
)
from torchmusic.data.splits import carve_validation
from torchmusic.errors import DataError, ParameterError, TorchMusicError
from torchmusic.features.config import FeatureConfig
from torchmusic.training.classify.settings import DEFAULT_CLIP_SECONDS, TrainConfig

TRAIN, VALID, TEST = "train", "valid", "test"
_VALID_ALIASES = ("valid", "val", "validation", "dev")
#: The manifest column read for splits when ``split_column`` is null ("auto").
DEFAULT_SPLIT_COLUMN = "split"
#: ``split_column`` values that turn the manifest's split column off (random split).
SPLIT_COLUMN_OFF = ("", "none")


def split_column_of(cfg: TrainConfig) -> tuple[str | None, bool]:
    """``(column to read, explicit)`` of ``cfg.split_column``.

    ``None`` (the default) means "auto": the manifest's ``split`` column when it has
    one, else a random split; ``"none"`` (or ``""``) turns the column off; any other
    value names a column that every row must fill.
    """
    value = cfg.split_column
    if value is None:
        return DEFAULT_SPLIT_COLUMN, False
    if str(value).strip().lower() in SPLIT_COLUMN_OFF:
        return None, True
    return str(value), True


def resolve_cache_dir(cfg: TrainConfig) -> Path:
    """The feature cache folder of a run (``cfg.cache_dir`` or the default)."""
    return Path(cfg.cache_dir).expanduser() if cfg.cache_dir else default_cache_dir()


def load_tracks(cfg: TrainConfig, *, features: FeatureConfig | None = None) -> TrackDataset:
    """All labelled tracks of ``cfg.data`` (folder or manifest), with features from the cache.

    A folder holding a ``manifest.csv`` (such as the demo corpus) is read through
    that manifest; any other folder is a class-per-folder root.

    Raises
    ------
    DataError
        Missing or empty data, a manifest without the label column or with empty
        labels (line given), fewer than 2 classes.
    ParameterError
        Settings that do not apply to a class folder (``group_column``,
        ``split_column``, ``multi_label=True``).

    Examples
    --------
    >>> ds = load_tracks(TrainConfig(data="genres/"))  # doctest: +SKIP
    >>> ds.classes[:2]  # doctest: +SKIP
    ['blues', 'classical']
    """
    if not cfg.data:
        raise ParameterError("data is not set: give --data DIR_OR_MANIFEST")
    features = features or cfg.feature_config()
    cache_dir = resolve_cache_dir(cfg)
    path = Path(cfg.data).expanduser()
    if not path.exists():
        raise DataError(f"data {str(path)!r} does not exist (expected a folder or a manifest)")
    if path.is_dir() and (path / "manifest.csv").is_file():
        # A corpus folder with its manifest (e.g. the demo corpus): the manifest
        # says what the labels are, not the folder names.
        path = path / "manifest.csv"
    ds: TrackDataset
    if path.is_dir():
        for name in ("group_column", "split_column", "label_column"):
            if name == "split_column" and split_column_of(cfg)[0] is None:
                continue  # split_column: none asks for what a folder does anyway
            if getattr(cfg, name) is not None:
                raise ParameterError(
                    f"{name}={getattr(cfg, name)!r} needs a manifest; {str(path)!r} is a "
                    "class-per-folder root whose labels are its sub-folder names"
                )
        if cfg.multi_label:
            raise ParameterError(
                f"multi_label=True needs a manifest; folder {str(path)!r} gives one label per file"
            )
        ds = ClassFolderDataset(path, features=features, cache_dir=cache_dir)
    else:
        column, explicit = split_column_of(cfg)
        ds = ManifestDataset(
            path,
            label_column=cfg.label_column or "label",
            # None: no split column is read (split_column: none); _cell gives None.
            split_column=column,  # type: ignore[arg-type]
            group_column=cfg.group_column,
            multi_label=cfg.multi_label,
            features=features,
            cache_dir=cache_dir,
        )
        missing = [t.track_id for t in ds.tracks if t.split is None]
        # A named column must fill every row; the automatic one may be absent or
        # wholly empty (then the split is random), but not half filled.
        if column is not None and missing and (explicit or len(missing) < len(ds.tracks)):
            raise DataError(
                f"manifest {str(path)!r}: split column {column!r} is empty or missing for "
                f"{len(missing)} of {len(ds.tracks)} tracks (e.g. {missing[:5]}); every row "
                "needs a split (train/valid/test), or set split_column: none "
                "(--split_column none) to split at random"
            )
    if len(ds.classes) < 2:
        raise DataError(
            f"{str(path)!r} has {len(ds.classes)} class(es) {ds.classes}; a classifier needs "
            "at least 2 classes"
        )
    return ds


#: At most this many tracks are measured to size ``clip_seconds: null``.
_CLIP_PROBE_TRACKS = 2000


def resolve_clip_seconds(cfg: TrainConfig, ds: TrackDataset | None = None) -> TrainConfig:
    """Fill ``cfg.clip_seconds`` when it is None (the default); returns ``cfg``.

    The clip is :data:`DEFAULT_CLIP_SECONDS` unless every track is shorter, when
    it is the longest track's length (rounded up to 0.1 s): one-second drum hits
    become one-second clips instead of three seconds that are two-thirds padding
    (the padding costs compute and, measured on drums, accuracy). Only headers
    are read, and the search stops at the first track as long as the default
    (at most :data:`_CLIP_PROBE_TRACKS` tracks, spread over the data set, are read).
    Unreadable files are passed over here; training reports them.

    Examples
    --------
    >>> cfg = resolve_clip_seconds(TrainConfig(data="drum_hits/"))  # doctest: +SKIP
    >>> cfg.clip_seconds  # doctest: +SKIP
    1.0
    """
    if cfg.clip_seconds is not None:
        return cfg
    from torchmusic.audio import info
    from torchmusic.errors import AudioFileError

    ds = ds if ds is not None else load_tracks(cfg)
    tracks = list(ds.tracks)
    step = max(1, len(tracks) // _CLIP_PROBE_TRACKS)
    longest = 0.0
    for track in tracks[::step]:
        try:
            seconds = info(track.path).duration
        except (AudioFileError, OSError):
            continue
        longest = max(longest, seconds)
        if longest >= DEFAULT_CLIP_SECONDS:
            break
    if longest >= DEFAULT_CLIP_SECONDS or longest <= 0:
        cfg.clip_seconds = DEFAULT_CLIP_SECONDS
    else:
        cfg.clip_seconds = max(0.1, math.ceil(longest * 10 - 1e-6) / 10)
    return cfg


@dataclasses.dataclass
class SplitPlan:
    """The splits of a run and where they came from.

    Attributes
    ----------
    parts : dict of str to TrackDataset
        ``"train"``, ``"valid"`` and, when there is one, ``"test"`` (and any other
        split a list or column names).
    source : str
        ``"split lists"``, ``"column <NAME>"`` or ``"random"``.
    description : str
        One line for the run summary, e.g. ``"manifest column 'split'"`` or
        ``"random seeded fractions {...} (seed 0, stratified by label)"``.
    carved : dict or None
        When the validation split was carved out of ``train``: ``fraction``,
        ``seed``, ``tracks`` and ``how``.
    """

    parts: dict[str, TrackDataset]
    source: str
    description: str
    carved: dict[str, Any] | None = None

    def summary(self) -> str:
        """``"splits: <description>"`` plus the carve, for the run summary."""
        line = f"splits: {self.description}"
        if self.carved:
            c = self.carved
            line += (
                f"; no 'valid' split, so {c['tracks']} of {c['tracks'] + c['train_tracks']} "
                f"'train' tracks were carved out as validation (fraction {c['fraction']:.3g}, "
                f"seed {c['seed']}, {c['how']})"
            )
        return line

    def to_dict(self) -> dict[str, Any]:
        """``source``, ``description`` and ``carved`` (for ``data.json``)."""
        return {"source": self.source, "description": self.description, "carved": self.carved}


def _valid_share(cfg: TrainConfig) -> float:
    """The validation share of train + valid in ``split_fractions`` (default 1/9)."""
    fr = cfg.split_fractions
    valid = next((fr[k] for k in _VALID_ALIASES if k in fr), None)
    train = fr.get(TRAIN)
    if valid is None or train is None:
        return 0.1 / 0.9
    return float(valid) / (float(train) + float(valid))


def plan_splits(ds: TrackDataset, cfg: TrainConfig) -> SplitPlan:
    """The run's splits by the config's split rule, and a description of the rule.

    Priority: ``split_lists``; then the manifest's split column (``split_column``,
    or the ``split`` column when ``split_column`` is null and the manifest has one;
    ``split_column: none`` turns it off); then a random split with
    ``split_fractions`` (seeded by ``seed``, stratified, groups of ``group_column``
    kept whole). A source that gives ``train`` and ``test`` but no validation split
    gets one carved out of ``train`` (seeded, stratified, groups kept whole; the
    valid share of ``split_fractions`` relative to train + valid). All parts share
    the full dataset's classes.

    Raises
    ------
    DataError
        No training or no validation tracks, or a split list naming unknown files.

    Examples
    --------
    >>> plan = plan_splits(load_tracks(cfg), cfg)  # doctest: +SKIP
    >>> plan.summary()  # doctest: +SKIP
    "splits: manifest column 'split'"
    """
    column, _ = split_column_of(cfg)
    stratify = not ds.multi_label
    grouped = f", grouped by {cfg.group_column!r}" if cfg.group_column else ""
    if cfg.split_lists:
        ds, _ = apply_split_lists(ds, cfg.split_lists, allow_missing=cfg.split_lists_allow_missing)
        parts = {name: ds.split(name) for name in ds.splits}
        source, how = "split lists", f"split lists {sorted(cfg.split_lists)}"
    elif column is not None and any(t.split is not None for t in ds.tracks):
        parts = {name: ds.split(name) for name in ds.splits}
        source, how = f"column {column}", f"manifest column {column!r}"
    else:
        parts = split_dataset(ds, cfg.split_fractions, seed=cfg.seed, stratify=stratify)
        source = "random"
        how = (
            f"random seeded fractions {dict(cfg.split_fractions)} (seed {cfg.seed}, "
            f"{'stratified by label' if stratify else 'not stratified'}{grouped})"
        )
        if getattr(ds, "manifest", None) is not None:
            how += (
                "; split_column: none"
                if column is None
                else f"; the manifest has no {column!r} column"
            )
    out: dict[str, TrackDataset] = {}
    for name, part in parts.items():
        key = VALID if name in _VALID_ALIASES else name
        if key in out:
            raise DataError(f"{how}: two validation splits ({sorted(parts)}); keep one")
        out[key] = part
    carved = None
    has = {k for k, v in out.items() if len(v)}
    if TRAIN in has and TEST in has and VALID not in has:
        fraction = _valid_share(cfg)
        train, valid, carve_how = carve_validation(
            out[TRAIN], fraction, seed=cfg.seed, stratify=stratify
        )
        out[TRAIN], out[VALID] = train, valid
        carved = {
            "from": TRAIN,
            "fraction": round(fraction, 6),
            "seed": cfg.seed,
            "tracks": len(valid),
            "train_tracks": len(train),
            "how": carve_how + grouped,
        }
    for needed in (TRAIN, VALID):
        if needed not in out or len(out[needed]) == 0:
            raise DataError(
                f"{how} gives no {needed!r} tracks (splits: {sorted(parts)} with "
                f"{[len(p) for p in parts.values()]} tracks); training needs 'train' and "
                "'valid' splits (a 'valid' split is carved out of 'train' when there is a "
                "'test' split): add tracks or change the split settings"
            )
    return SplitPlan(out, source, how, carved)


def split_tracks(ds: TrackDataset, cfg: TrainConfig) -> dict[str, TrackDataset]:
    """``{"train": ..., "valid": ..., ["test": ...]}``: the parts of :func:`plan_splits`.

    Examples
    --------
    >>> parts = split_tracks(load_tracks(cfg), cfg)  # doctest: +SKIP
    >>> sorted(parts)  # doctest: +SKIP
    ['test', 'train', 'valid']
    """
    return plan_splits(ds, cfg).parts


def track_records(
    parts: dict[str, TrackDataset], *, digests: bool = True
) -> dict[str, list[dict[str, str]]]:
    """Per split, ``{"track_id", "path", "digest"}`` of every track (for ``data.json``).

    The digest (:func:`torchmusic.data.splits.track_digest`, a content hash: the
    same audio file anywhere has the same one) comes from the feature cache's stat
    index when the dataset has a cache, so it costs a lookup per file after the
    features were computed. A file that cannot be read gets no digest.
    """
    from torchmusic.data.splits import track_digest

    out: dict[str, list[dict[str, str]]] = {}
    for name, part in parts.items():
        hash_file = part.cache.hash_file if part.cache is not None else None
        rows = []
        for t in part.tracks:
            row = {"track_id": t.track_id, "path": str(t.path)}
            if digests:
                try:
                    row["digest"] = track_digest(t.path, hash_file=hash_file)
                except (OSError, TorchMusicError):
                    pass
            rows.append(row)
        out[name] = rows
    return out


def seen_tracks(records: dict[str, list[dict[str, str]]]) -> dict[str, Any]:
    """What a model file records of its training run's tracks (``spec.extra["seen_tracks"]``):
    the sorted content digests of the ``train`` and ``valid`` tracks, so that
    ``torchmusic evaluate`` can refuse to score it on any of them as held-out data."""
    from torchmusic.data.splits import DIGEST_CHARS

    digests = sorted(
        {
            row["digest"]
            for name in (TRAIN, VALID)
            for row in records.get(name, [])
            if "digest" in row
        }
    )
    return {
        "splits": [TRAIN, VALID],
        "digest": f"blake2b-128 of the file bytes, first {DIGEST_CHARS} hex",
        "digests": digests,
    }


def check_files(
    ds: TrackDataset, *, workers: int | None = None, progress: bool = False
) -> ExtractionReport:
    """Compute every track's features into the cache; undecodable files are reported.

    Cached files are found without decoding (a stat lookup), so calling this a
    second time, e.g. once per DDP process, costs little.

    Examples
    --------
    >>> report = check_files(load_tracks(cfg))  # doctest: +SKIP
    >>> [f.path.name for f in report.failed]  # doctest: +SKIP
    ['broken.wav']
    """
    if ds.features is None or ds.cache is None:
        raise ParameterError("check_files needs a dataset with features and a cache_dir")
    paths = [t.path for t in ds.tracks]
    return extract_features(
        paths,
        ds.features,
        cache_dir=ds.cache.root,
        workers=workers,
        progress=progress,
        mono=ds.mono,
    )


def drop_files(ds: TrackDataset, failed: Iterable[FailedFile]) -> TrackDataset:
    """``ds`` without the tracks whose files failed.

    Examples
    --------
    >>> ds = drop_files(ds, check_files(ds).failed)  # doctest: +SKIP
    """
    # realpath, unlike Path.resolve(), does not raise on a symbolic-link loop.
    bad = {os.path.realpath(f.path) for f in failed}
    return ds.with_tracks(t for t in ds.tracks if os.path.realpath(t.path) not in bad)


def split_table(parts: dict[str, TrackDataset]) -> str:
    """Tracks per class and split, as a text table.

    Examples
    --------
    >>> print(split_table(split_tracks(load_tracks(cfg), cfg)))  # doctest: +SKIP
    class  train  valid  test
    ...
    """
    names = [n for n in (TRAIN, VALID, TEST) if n in parts] + sorted(
        n for n in parts if n not in (TRAIN, VALID, TEST)
    )
    classes = next(iter(parts.values())).classes
    counts = {n: Counter(lab for t in parts[n].tracks for lab in t.labels) for n in names}
    header = ["class", *names]
    rows = [[c, *(str(counts[n][c]) for n in names)] for c in classes]
    rows.append(["(tracks)", *(str(len(parts[n])) for n in names)])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(x.ljust(w) for x, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


class RepeatedClips(torch.utils.data.Dataset):
    """``repeats`` random crops per track per epoch (index ``i`` is track ``i % n``).

    Parameters
    ----------
    dataset : TrackDataset
        The tracks.
    duration : float
        Crop length in seconds (shorter tracks are padded).
    repeats : int
        Crops per track per epoch.
    """

    def __init__(self, dataset: TrackDataset, *, duration: float, repeats: int = 1) -> None:
        if not isinstance(repeats, int) or repeats < 1:
            raise ParameterError(f"repeats={repeats!r} must be a positive integer")
        # seed=None: crops come from torch's RNG, which Lightning's seed_everything
        # (workers=True) seeds reproducibly in the main process and in every worker.
        self.clips = RandomClips(dataset, duration=duration, seed=None)
        self.repeats = repeats

    def __len__(self) -> int:
        return len(self.clips) * self.repeats

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.clips[index % len(self.clips)]


def collate_clips(items: Sequence[dict[str, Any]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Batch ``(features (batch, n_bins, frames), targets)``; only what training needs.

    Targets are class indices (long, ``(batch,)``) or multi-hot floats
    (``(batch, n_classes)``).
    """
    x = torch.stack([it["features"] for it in items])
    labels = [it["label"] for it in items]
    if isinstance(labels[0], torch.Tensor):
        y = torch.stack(labels).float()
    else:
        y = torch.as_tensor(labels, dtype=torch.long)
    return x, y


@dataclasses.dataclass
class PreparedData:
    """What :func:`prepare_splits` found: the parts, the files left out, the split rule."""

    parts: dict[str, TrackDataset]
    failed: list[FailedFile]
    classes: list[str]
    multi_label: bool
    plan: SplitPlan | None = None


def prepare_splits(
    cfg: TrainConfig, *, workers: int | None = None, progress: bool = False
) -> PreparedData:
    """Load, split, cache features and drop undecodable files, in one call.

    Raises
    ------
    DataError
        As :func:`load_tracks` / :func:`split_tracks`, or when every file of the
        training or validation split failed.

    Examples
    --------
    >>> prepared = prepare_splits(TrainConfig(data="genres/"))  # doctest: +SKIP
    >>> len(prepared.parts["train"]), len(prepared.failed)  # doctest: +SKIP
    (443, 0)
    """
    ds = load_tracks(cfg)
    resolve_clip_seconds(cfg, ds)
    plan = plan_splits(ds, cfg)
    parts = plan.parts
    report = check_files(ds, workers=workers, progress=progress)
    if report.failed:
        parts = {name: drop_files(part, report.failed) for name, part in parts.items()}
        for needed in (TRAIN, VALID):
            if len(parts[needed]) == 0:
                raise DataError(
                    f"every file of the {needed!r} split failed to decode:\n{report.summary()}"
                )
        parts = {name: part for name, part in parts.items() if len(part)}
    return PreparedData(parts, list(report.failed), ds.classes, ds.multi_label, plan)


def default_workers(cfg: TrainConfig, *, on_gpu: bool) -> int:
    """DataLoader workers: as configured, else 0 on CPU (cached features are cheap
    to slice, and workers would compete with training for the cores) and up to 8 on
    GPU so that loading never starves the device."""
    if cfg.num_workers is not None:
        return cfg.num_workers
    if not on_gpu:
        return 0
    return max(1, min(8, (os.cpu_count() or 2) - 1))
