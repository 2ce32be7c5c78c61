"""Datasets, clips, splits and the feature cache.

- :class:`ClassFolderDataset` (``root/<label>/**/*.wav``) and :class:`ManifestDataset`
  (CSV/TSV/JSONL, single- or multi-label) give waveforms or features per track.
- :class:`RandomClips` / :class:`SlidingWindows` cut tracks into fixed-length clips
  that keep their ``track_id``.
- :func:`split_dataset` (seeded, stratified, by track or group) and
  :func:`apply_split_lists` (split-list files such as GTZAN's) split without leakage.
- :class:`FeatureCache` and :func:`extract_features` compute features once per file
  content and configuration, in parallel, resumably.
"""

from __future__ import annotations

from torchmusic.data.cache import FeatureCache, content_hash, default_cache_dir
from torchmusic.data.clips import RandomClips, SlidingWindows, window_starts
from torchmusic.data.discover import AUDIO_EXTENSIONS, find_audio_files
from torchmusic.data.extract import ExtractedFile, ExtractionReport, FailedFile, extract_features
from torchmusic.data.folder import ClassFolderDataset
from torchmusic.data.manifest import ManifestDataset, read_manifest
from torchmusic.data.splits import (
    apply_split_lists,
    assign_splits,
    read_split_list,
    split_dataset,
)
from torchmusic.data.tracks import Track, TrackDataset

__all__ = [
    "AUDIO_EXTENSIONS",
    "ClassFolderDataset",
    "ExtractedFile",
    "ExtractionReport",
    "FailedFile",
    "FeatureCache",
    "ManifestDataset",
    "RandomClips",
    "SlidingWindows",
    "Track",
    "TrackDataset",
    "apply_split_lists",
    "assign_splits",
    "content_hash",
    "default_cache_dir",
    "extract_features",
    "find_audio_files",
    "read_manifest",
    "read_split_list",
    "split_dataset",
    "window_starts",
]
