"""Datasets and splits of a training run, built from a :class:`TrainConfig` (no Lightning).

:func:`load_tracks` reads the folder or manifest, :func:`split_tracks` assigns
train / valid / test (split lists, a split column, or a seeded group-aware random
split), :func:`check_files` computes every file's features into the cache and
reports the files that cannot be decoded, and :func:`drop_files` removes them.
The Lightning data module and the MFCC baseline both build on these.
"""

from __future__ import annotations

import dataclasses
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
from torchmusic.errors import DataError, ParameterError
from torchmusic.features.config import FeatureConfig
from torchmusic.training.classify.settings import TrainConfig

TRAIN, VALID, TEST = "train", "valid", "test"
_VALID_ALIASES = ("valid", "val", "validation", "dev")


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
        ds = ManifestDataset(
            path,
            label_column=cfg.label_column or "label",
            split_column=cfg.split_column or "split",
            group_column=cfg.group_column,
            multi_label=cfg.multi_label,
            features=features,
            cache_dir=cache_dir,
        )
        if cfg.split_column is not None and any(t.split is None for t in ds.tracks):
            bad = [t.track_id for t in ds.tracks if t.split is None][:5]
            raise DataError(
                f"manifest {str(path)!r}: split_column={cfg.split_column!r} is empty or missing "
                f"for tracks {bad}; every row needs a split"
            )
    if len(ds.classes) < 2:
        raise DataError(
            f"{str(path)!r} has {len(ds.classes)} class(es) {ds.classes}; a classifier needs "
            "at least 2 classes"
        )
    return ds


def split_tracks(ds: TrackDataset, cfg: TrainConfig) -> dict[str, TrackDataset]:
    """``{"train": ..., "valid": ..., ["test": ...]}`` by the config's split rule.

    Priority: ``split_lists``, then ``split_column``, then a random split with
    ``split_fractions`` (seeded by ``seed``, stratified, groups of
    ``group_column`` kept whole). All parts share the full dataset's classes.

    Raises
    ------
    DataError
        No training or no validation tracks, or a split list naming unknown files.

    Examples
    --------
    >>> parts = split_tracks(load_tracks(cfg), cfg)  # doctest: +SKIP
    >>> sorted(parts)  # doctest: +SKIP
    ['test', 'train', 'valid']
    """
    if cfg.split_lists:
        ds, _ = apply_split_lists(ds, cfg.split_lists, allow_missing=cfg.split_lists_allow_missing)
        parts = {name: ds.split(name) for name in ds.splits}
        how = f"split lists {sorted(cfg.split_lists)}"
    elif cfg.split_column:
        parts = {name: ds.split(name) for name in ds.splits}
        how = f"manifest column {cfg.split_column!r}"
    else:
        parts = split_dataset(ds, cfg.split_fractions, seed=cfg.seed, stratify=not ds.multi_label)
        how = f"random split {cfg.split_fractions} (seed {cfg.seed})"
    out: dict[str, TrackDataset] = {}
    for name, part in parts.items():
        key = VALID if name in _VALID_ALIASES else name
        if key in out:
            raise DataError(f"{how}: two validation splits ({sorted(parts)}); keep one")
        out[key] = part
    for needed in (TRAIN, VALID):
        if needed not in out or len(out[needed]) == 0:
            raise DataError(
                f"{how} gives no {needed!r} tracks (splits: {sorted(parts)} with "
                f"{[len(p) for p in parts.values()]} tracks); training needs 'train' and "
                "'valid' splits: add tracks or change the split settings"
            )
    return out


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
    """What :func:`prepare_splits` found: the parts and the files left out."""

    parts: dict[str, TrackDataset]
    failed: list[FailedFile]
    classes: list[str]
    multi_label: bool


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
    parts = split_tracks(ds, cfg)
    report = check_files(ds, workers=workers, progress=progress)
    if report.failed:
        parts = {name: drop_files(part, report.failed) for name, part in parts.items()}
        for needed in (TRAIN, VALID):
            if len(parts[needed]) == 0:
                raise DataError(
                    f"every file of the {needed!r} split failed to decode:\n{report.summary()}"
                )
        parts = {name: part for name, part in parts.items() if len(part)}
    return PreparedData(parts, list(report.failed), ds.classes, ds.multi_label)


def default_workers(cfg: TrainConfig, *, on_gpu: bool) -> int:
    """DataLoader workers: as configured, else 0 on CPU (cached features are cheap
    to slice, and workers would compete with training for the cores) and up to 8 on
    GPU so that loading never starves the device."""
    if cfg.num_workers is not None:
        return cfg.num_workers
    if not on_gpu:
        return 0
    return max(1, min(8, (os.cpu_count() or 2) - 1))
