"""Datasets, clips, splits and the feature cache.

- :class:`ClassFolderDataset` (``root/<label>/**/*.wav``) and :class:`ManifestDataset`
  (CSV/TSV/JSONL, single- or multi-label) give waveforms or features per track.
- :class:`RandomClips` / :class:`SlidingWindows` cut tracks into fixed-length clips
  that keep their ``track_id``.
- :func:`split_dataset` (seeded, stratified, by track or group) and
  :func:`apply_split_lists` (split-list files such as GTZAN's) split without leakage.
- :class:`FeatureCache` and :func:`extract_features` compute features once per file
  content and configuration, in parallel, resumably.

Names are imported on first use, so that ``torchmusic.data.discover`` (a file
finder) and other light modules load without torch, scipy or the datasets.
"""

from __future__ import annotations

from torchmusic._lazy import lazy_package

_LAZY = {
    "AUDIO_EXTENSIONS": "torchmusic.data.discover",
    "find_audio_files": "torchmusic.data.discover",
    "content_hash": "torchmusic.data.discover",
    "FailedFile": "torchmusic.data.discover",
    "FeatureCache": "torchmusic.data.cache",
    "default_cache_dir": "torchmusic.data.cache",
    "RandomClips": "torchmusic.data.clips",
    "SlidingWindows": "torchmusic.data.clips",
    "window_starts": "torchmusic.data.clips",
    "ExtractedFile": "torchmusic.data.extract",
    "ExtractionReport": "torchmusic.data.extract",
    "extract_features": "torchmusic.data.extract",
    "ClassFolderDataset": "torchmusic.data.folder",
    "ManifestDataset": "torchmusic.data.manifest",
    "read_manifest": "torchmusic.data.manifest",
    "apply_split_lists": "torchmusic.data.splits",
    "assign_splits": "torchmusic.data.splits",
    "read_split_list": "torchmusic.data.splits",
    "split_dataset": "torchmusic.data.splits",
    "Track": "torchmusic.data.tracks",
    "TrackDataset": "torchmusic.data.tracks",
    "feature_windows": "torchmusic.data.windows",
}

__all__ = sorted(_LAZY)


__getattr__, __dir__ = lazy_package(__name__, _LAZY, submodules=True)
