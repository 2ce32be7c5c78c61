"""Track records and the dataset base class shared by the folder and manifest datasets.

A *track* is one audio file with its label(s). :class:`TrackDataset` turns a list of
tracks into a :class:`torch.utils.data.Dataset` of waveforms or features; the
subclasses only differ in how they find the tracks.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from torchmusic import audio
from torchmusic.data.cache import FeatureCache
from torchmusic.errors import DataError, ParameterError
from torchmusic.features.config import FeatureConfig

DEFAULT_SR = 22050


@dataclasses.dataclass(frozen=True)
class Track:
    """One audio file and what is known about it.

    Attributes
    ----------
    path : pathlib.Path
        Absolute path of the audio file.
    labels : tuple of str
        The track's label(s); empty for an unlabelled track.
    track_id : str
        Unique id within its dataset (for folders: the path relative to the root,
        without extension, e.g. ``"country/country.00000"``). Clips keep it so that
        clip predictions can be aggregated per track, and splits never put one id
        in two splits.
    split : str or None
        Name of the split the track belongs to (``"train"``, ...), if known.
    group : str or None
        Tracks sharing a group (e.g. an artist) always land in the same split.
    """

    path: Path
    labels: tuple[str, ...]
    track_id: str
    split: str | None = None
    group: str | None = None

    @property
    def label(self) -> str | None:
        """The single label (``None`` when unlabelled); an error for multi-label tracks."""
        if len(self.labels) > 1:
            raise DataError(
                f"track {self.track_id!r} has {len(self.labels)} labels {list(self.labels)}; "
                "use .labels for multi-label tracks"
            )
        return self.labels[0] if self.labels else None


def check_unique_ids(tracks: Sequence[Track], *, where: str) -> None:
    """Raise :class:`DataError` listing track ids that occur more than once."""
    seen: set[str] = set()
    dupes: list[str] = []
    for t in tracks:
        if t.track_id in seen:
            dupes.append(t.track_id)
        seen.add(t.track_id)
    if dupes:
        raise DataError(f"{where}: duplicate track_id(s) {_preview(dupes)}; each must be unique")


def _preview(items: Sequence[Any], limit: int = 10) -> str:
    """``[a, b, ...] (+N more)``: long lists stay readable in error messages."""
    shown = ", ".join(repr(str(x)) for x in items[:limit])
    more = f" (+{len(items) - limit} more)" if len(items) > limit else ""
    return f"[{shown}]{more}"


def fit_length(x: torch.Tensor, n: int, *, pad_value: float = 0.0) -> torch.Tensor:
    """Trim or right-pad the last axis of ``x`` to exactly ``n`` entries."""
    have = x.shape[-1]
    if have >= n:
        return x[..., :n]
    return torch.nn.functional.pad(x, (0, n - have), value=pad_value)


def n_frames(n_samples: int, config: FeatureConfig) -> int:
    """Frames that ``config`` produces for ``n_samples`` samples (:meth:`FeatureConfig.n_frames`)."""
    return config.n_frames(n_samples)


class TrackDataset(torch.utils.data.Dataset):
    """A dataset of labelled audio tracks, as waveforms or features.

    Use :class:`~torchmusic.data.ClassFolderDataset` or
    :class:`~torchmusic.data.ManifestDataset` to build one; this base class holds
    the loading logic they share.

    Parameters
    ----------
    tracks : sequence of Track
        The tracks, with unique ``track_id``.
    classes : sequence of str, optional
        Label vocabulary, fixing the label indices; default: sorted labels of all
        tracks. Pass the same list to every split so indices agree.
    multi_label : bool
        Targets are multi-hot float vectors instead of class indices.
    sr : int, optional
        Sample rate audio is loaded at; default ``features.sr`` or 22050.
    mono : bool
        Mix down to mono (waveform ``(samples,)``) or keep channels
        (``(channels, samples)``).
    clip : float, optional
        Item length in seconds: every item is the first ``clip`` seconds of its
        track, zero-padded when the track is shorter, so items batch without a
        collate function. For random crops or sliding windows wrap the dataset in
        :class:`~torchmusic.data.RandomClips` / :class:`~torchmusic.data.SlidingWindows`.
    features : FeatureConfig, optional
        Return features (key ``"features"``, ``(n_bins, frames)``) instead of the
        waveform (key ``"waveform"``).
    cache_dir : path, optional
        Feature cache folder (needs ``features``): features of a whole track are
        computed once, stored, and sliced for clips.
    transform : callable, optional
        Applied to the waveform or feature tensor of every item.
    """

    def __init__(
        self,
        tracks: Sequence[Track],
        *,
        classes: Sequence[str] | None = None,
        multi_label: bool = False,
        sr: int | None = None,
        mono: bool = True,
        clip: float | None = None,
        features: FeatureConfig | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        if features is not None and not isinstance(features, FeatureConfig):
            raise ParameterError(f"features={features!r} must be a FeatureConfig or None")
        if sr is None:
            sr = features.sr if features is not None else DEFAULT_SR
        if not isinstance(sr, int) or isinstance(sr, bool) or sr <= 0:
            raise ParameterError(f"sr={sr!r} must be a positive integer (Hz)")
        if features is not None and features.sr != sr:
            raise ParameterError(
                f"sr={sr} differs from features.sr={features.sr}; features are computed at "
                "features.sr, so leave sr unset or make them equal"
            )
        if clip is not None and not clip > 0:
            raise ParameterError(f"clip={clip!r} must be a positive number of seconds or None")
        if cache_dir is not None and features is None:
            raise ParameterError(
                "cache_dir needs features=FeatureConfig(...): only features are cached"
            )
        if transform is not None and not callable(transform):
            raise ParameterError(f"transform={transform!r} must be callable or None")

        tracks = list(tracks)
        check_unique_ids(tracks, where=type(self).__name__)
        if classes is None:
            classes = sorted({label for t in tracks for label in t.labels})
        else:
            classes = list(classes)
            unknown = sorted({lab for t in tracks for lab in t.labels} - set(classes))
            if unknown:
                raise DataError(f"labels {_preview(unknown)} are not in classes={classes}")
        self._tracks = tracks
        self._classes = list(classes)
        self._class_to_index = {c: i for i, c in enumerate(self._classes)}
        self.multi_label = bool(multi_label)
        self.sr = sr
        self.mono = mono
        self.clip = clip
        self.features = features
        self.transform = transform
        self._cache = (
            FeatureCache(cache_dir, features, mono=mono) if cache_dir is not None else None
        )
        self._durations: dict[Path, float] = {}

    # -- what is in it ---------------------------------------------------------------
    @property
    def tracks(self) -> list[Track]:
        """The track records (a copy; the dataset itself is not changed through it)."""
        return list(self._tracks)

    @property
    def classes(self) -> list[str]:
        """Label vocabulary; a label's index is its position here."""
        return list(self._classes)

    @property
    def class_to_index(self) -> dict[str, int]:
        """``{label: index}``."""
        return dict(self._class_to_index)

    @property
    def cache(self) -> FeatureCache | None:
        """The feature cache, when ``cache_dir`` was given."""
        return self._cache

    def __len__(self) -> int:
        return len(self._tracks)

    def __repr__(self) -> str:
        kind = "features" if self.features is not None else "waveform"
        return (
            f"{type(self).__name__}({len(self)} tracks, {len(self._classes)} classes, "
            f"{kind}, sr={self.sr}, multi_label={self.multi_label})"
        )

    def target(self, index: int) -> int | torch.Tensor | None:
        """Label index (single-label), multi-hot ``(n_classes,)`` float tensor, or None."""
        labels = self._tracks[index].labels
        if self.multi_label:  # no label at all is a valid all-zero target here
            hot = torch.zeros(len(self._classes), dtype=torch.float32)
            hot[[self._class_to_index[lab] for lab in labels]] = 1.0
            return hot
        if not labels:
            return None
        return self._class_to_index[labels[0]]

    def duration(self, index: int) -> float:
        """Length of track ``index`` in seconds (read from the file header, memoised)."""
        path = self._tracks[index].path
        if path not in self._durations:
            self._durations[path] = float(audio.info(path).duration)
        return self._durations[path]

    # -- subsets -----------------------------------------------------------------------
    def with_tracks(self, tracks: Iterable[Track]) -> TrackDataset:
        """A copy of this dataset over other ``tracks`` (same classes and settings)."""
        new = copy.copy(self)
        new._tracks = list(tracks)
        check_unique_ids(new._tracks, where=type(self).__name__)
        new._durations = dict(self._durations)
        return new

    def subset(self, track_ids: Iterable[str]) -> TrackDataset:
        """The tracks with these ids, in the given order; unknown ids are an error."""
        by_id = {t.track_id: t for t in self._tracks}
        ids = list(track_ids)
        unknown = [i for i in ids if i not in by_id]
        if unknown:
            raise DataError(f"track ids {_preview(unknown)} are not in this dataset")
        return self.with_tracks(by_id[i] for i in ids)

    def split(self, name: str) -> TrackDataset:
        """The tracks whose ``split`` is ``name`` (classes stay those of the full set)."""
        chosen = [t for t in self._tracks if t.split == name]
        if not chosen:
            names = sorted({str(t.split) for t in self._tracks})
            raise DataError(f"no track is in split {name!r}; splits present: {names}")
        return self.with_tracks(chosen)

    @property
    def splits(self) -> list[str]:
        """Names of the splits present, sorted (tracks without a split are not counted)."""
        return sorted({t.split for t in self._tracks if t.split is not None})

    # -- loading -----------------------------------------------------------------------
    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.get(index, offset=0.0, duration=self.clip)

    def get(
        self, index: int, *, offset: float = 0.0, duration: float | None = None
    ) -> dict[str, Any]:
        """Item ``index``, optionally an excerpt of it.

        Parameters
        ----------
        index : int
            Track index.
        offset : float
            Start of the excerpt in seconds.
        duration : float, optional
            Length in seconds; the result is exactly this long (zero-padded past the
            end of the track). ``None``: to the end of the track.

        Returns
        -------
        dict
            ``"waveform"`` (``(samples,)`` or ``(channels, samples)``) or
            ``"features"`` (``(n_bins, frames)``, ``(channels, n_bins, frames)`` when
            not mono); ``"label"`` (class index, or multi-hot ``(n_classes,)``; absent
            for unlabelled tracks); ``"track_id"``; ``"path"`` (str); ``"offset"``.
        """
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} tracks")
        if offset < 0:
            raise ParameterError(f"offset={offset!r} must be >= 0 seconds")
        if duration is not None and not duration > 0:
            raise ParameterError(f"duration={duration!r} must be > 0 seconds or None")
        track = self._tracks[index]
        if self.features is None:
            key, x = "waveform", self._load_waveform(index, offset, duration)
        elif self._cache is None:
            # No cache: compute on the excerpt only (exact features of the excerpt).
            y = self._load_waveform(index, offset, duration)
            key, x = "features", self.features.compute(y).float()
        else:
            key, x = "features", self._cached_features(track.path, offset, duration)
        if self.transform is not None:
            x = self.transform(x)
        item: dict[str, Any] = {key: x, "track_id": track.track_id, "path": str(track.path)}
        target = self.target(index)
        if target is not None:
            item["label"] = target
        item["offset"] = float(offset)
        return item

    def _load_waveform(self, index: int, offset: float, duration: float | None) -> torch.Tensor:
        path = self._tracks[index].path
        if offset > 0 and duration is not None and offset >= self.duration(index) - 1 / self.sr:
            # A window starting within a sample of the end (rounding at another
            # sample rate): load() rejects it, and the excerpt is all padding anyway.
            n_channels = 1 if self.mono else audio.info(path).channels
            y = torch.zeros(0) if self.mono else torch.zeros(n_channels, 0)
        else:
            # load(offset=, duration=) decodes only the excerpt, not the whole file.
            y, _ = audio.load(path, sr=self.sr, mono=self.mono, offset=offset, duration=duration)
            y = torch.as_tensor(y, dtype=torch.float32)
        if duration is not None:
            y = fit_length(y, round(duration * self.sr))
        return y

    def _cached_features(self, path: Path, offset: float, duration: float | None) -> torch.Tensor:
        assert self._cache is not None and self.features is not None
        full = self._cache.load(path, mmap=True)
        hop = self.features.hop_length
        start = round(offset * self.sr / hop)
        if duration is None:
            part = np.array(full[..., start:])
            return torch.from_numpy(part)
        length = n_frames(round(duration * self.sr), self.features)
        part = torch.from_numpy(np.array(full[..., start : start + length]))
        return fit_length(part, length, pad_value=feature_pad_value(full, self.features))


def feature_pad_value(full: np.ndarray, config: FeatureConfig) -> float:
    """Value that stands for silence when padding cached features of a short track.

    Log-scaled features (``logmel``) have no fixed silence level (it depends on the
    track's peak and ``top_db``), so the track's own minimum is used; for the
    others silence is 0.
    """
    if config.kind == "logmel" and full.size:
        return float(full.min())
    return 0.0
