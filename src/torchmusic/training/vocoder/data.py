"""Data of vocoder training: the tracks, their split by track, and the segment loaders.

Every item is a segment of real audio; the log-mel the generator inverts is
computed from it on the training device (``torchmusic.features``), so the
vocoder learns exactly the features ``torchmusic`` computes. A track is in one
split only: segments of one recording never appear on both sides.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import DataLoader

import torchmusic.training.audio_loaders as audio_loaders
from torchmusic.data.audio_splits import TEST, TRAIN, VALID, split_by_track  # noqa: F401
from torchmusic.training.vocoder.settings import VocoderTrainConfig


def split_tracks(cfg: VocoderTrainConfig) -> dict[str, list[str]]:
    """``{"train": [...], "valid": [...], "test": [...]}`` of ``cfg.data``, split by track
    (:func:`torchmusic.data.audio_splits.split_by_track`)."""
    return split_by_track(
        cfg.data_items(), val_fraction=cfg.val_fraction, seed=cfg.seed, name="data"
    )


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
        return audio_loaders.train_loader(
            self.train,
            batch_size=self.cfg.batch_size,
            collate=collate_segments,
            workers=self.workers,
        )

    def val_loader(self) -> DataLoader | None:
        return audio_loaders.val_loader(
            self.valid, batch_size=self.cfg.batch_size, collate=collate_segments
        )
