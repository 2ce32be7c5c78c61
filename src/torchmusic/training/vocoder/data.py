"""Data of vocoder training: the tracks, their split by track, and the segment loaders.

Every item is a segment of real audio; the log-mel the generator inverts is
computed from it on the training device (``torchmusic.features``), so the
vocoder learns exactly the features ``torchmusic`` computes. A track is in one
split only: segments of one recording never appear on both sides.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from torchmusic.data.discover import collect_inputs
from torchmusic.errors import DataError
from torchmusic.training.vocoder.settings import VocoderTrainConfig

TRAIN, VALID, TEST = "train", "valid", "test"
_VALID_NAMES = ("valid", "val", "validation", "dev")


def _unit(path: str, seed: int) -> float:
    """A number in [0, 1) fixed by the file name and the seed (not by the file order)."""
    digest = hashlib.sha256(f"{seed}:{Path(path).name}".encode()).hexdigest()
    return int(digest[:12], 16) / float(16**12)


def split_tracks(cfg: VocoderTrainConfig) -> dict[str, list[str]]:
    """``{"train": [...], "valid": [...], "test": [...]}`` of audio files, split by track.

    A manifest's ``split`` column decides where it has one; other files go to
    ``valid`` with probability ``val_fraction`` (by a hash of the file name and
    the seed, so adding files does not move the others), and at least one track
    is held out when there are two or more and ``val_fraction > 0``.

    Raises
    ------
    DataError
        No audio file found, or inputs that do not exist.
    """
    parts: dict[str, list[str]] = {TRAIN: [], VALID: [], TEST: []}
    unsplit: list[str] = []
    for path, split in cfg.data_items():
        if split is not None:
            name = VALID if split.lower() in _VALID_NAMES else split.lower()
            parts.setdefault(name, []).append(path)
            continue
        files, missing = collect_inputs([path])
        if missing:
            raise DataError(f"data {str(missing[0])!r} does not exist (expected audio or a folder)")
        unsplit += [str(f) for f, _ in files]
    if unsplit:
        ranked = sorted(unsplit, key=lambda p: _unit(p, cfg.seed))
        n_valid = round(len(unsplit) * cfg.val_fraction)
        if cfg.val_fraction > 0 and len(unsplit) >= 2:
            n_valid = max(1, n_valid)
        held = set(ranked[:n_valid])
        for p in unsplit:
            parts[VALID if p in held else TRAIN].append(p)
    if not parts[TRAIN]:
        raise DataError(
            f"no training audio in {cfg.data!r} (expected audio files, folders of them, or a "
            "manifest with a 'path' column)"
        )
    return parts


def collate_segments(items: list[Any]) -> torch.Tensor:
    """``(batch, samples)`` float32 from segment items (``{"waveform": ...}``) or arrays."""
    return torch.stack(
        [
            torch.as_tensor(x["waveform"] if isinstance(x, dict) else x, dtype=torch.float32)
            for x in items
        ]
    )


def evenly_per_track(segments: list[tuple[int, int]], k: int) -> list[int]:
    """Indices of at most ``k`` segments per track, spread evenly over each track."""
    by_track: dict[int, list[int]] = {}
    for i, (track, _) in enumerate(segments):
        by_track.setdefault(track, []).append(i)
    chosen: list[int] = []
    for items in by_track.values():
        if len(items) <= k:
            chosen += items
        else:
            step = len(items) / k
            chosen += [items[int(step * j + step / 2)] for j in range(k)]
    return chosen


class VocoderData:
    """The split tracks and the loaders of a run (built once, used by every rank)."""

    def __init__(self, cfg: VocoderTrainConfig, *, on_gpu: bool = False) -> None:
        from torchmusic.data.segments import AudioSegments, FixedSegments

        self.cfg = cfg
        self.parts = split_tracks(cfg)
        feature = cfg.feature_config()
        self.sr = feature.sr
        cache = cfg.audio_cache_dir()
        # Decoded once into the cache (.npy, memory-mapped): later epochs, runs and
        # resumes never decode the compressed files again.
        self.train = AudioSegments(
            self.parts[TRAIN],
            segment_samples=cfg.segment_samples(),
            sr=self.sr,
            segments_per_track=cfg.segments_per_track,
            seed=cfg.seed,
            cache_dir=cache,
        )
        self.valid: Any = None
        if self.parts[VALID]:
            hop = feature.hop_length
            # Whole frames, so that the mel of a segment and the audio line up.
            seg = max(1, round(cfg.val_segment_seconds * self.sr / hop)) * hop
            fixed = FixedSegments(
                self.parts[VALID], segment_samples=seg, hop_samples=seg, sr=self.sr, cache_dir=cache
            )
            self.valid_failed = fixed.failed
            self.valid = torch.utils.data.Subset(
                fixed, evenly_per_track(fixed.segments, cfg.val_segments_per_track)
            )
        self.workers = cfg.num_workers if cfg.num_workers is not None else (2 if on_gpu else 0)

    @property
    def failed(self) -> list[tuple[str, str]]:
        """``(path, error)`` of every file that could not be decoded."""
        failed = [*self.train.failed, *getattr(self, "valid_failed", [])]
        return [(str(f.path), f.error) for f in failed]

    def failed_summary(self) -> str:
        """One line per undecodable file (or "none")."""
        return "; ".join(f"{p}: {e}" for p, e in self.failed) or "none"

    def train_loader(self) -> DataLoader:
        return DataLoader(
            self.train,
            batch_size=self.cfg.batch_size,
            shuffle=True,
            drop_last=len(self.train) >= self.cfg.batch_size,
            collate_fn=collate_segments,
            num_workers=self.workers,
            # Not persistent: workers get the dataset again each epoch, with its
            # new epoch number (AudioSegments.set_epoch draws new segments).
            persistent_workers=False,
        )

    def val_loader(self) -> DataLoader | None:
        if self.valid is None or len(self.valid) == 0:
            return None
        return DataLoader(
            self.valid,
            batch_size=max(1, min(self.cfg.batch_size, 8)),
            shuffle=False,
            collate_fn=collate_segments,
            num_workers=0,
        )
