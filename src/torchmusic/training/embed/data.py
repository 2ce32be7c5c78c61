"""Data of embedding training: cached whole-track features and random / fixed crops."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from torchmusic.data.tracks import feature_pad_value
from torchmusic.errors import DataError
from torchmusic.training.embed.settings import (
    CONTRASTIVE_AUGMENT,
    EmbedTrainConfig,
    is_music_augment,
)


class TrackCrops(torch.utils.data.Dataset):
    """Random (training) or fixed (validation) crops of cached whole-track features.

    Item ``i`` is track ``i % n_tracks``: ``(views, track)`` where ``views`` is
    ``(n_views, n_bins, n_frames)``. Tracks shorter than a clip are padded with
    their silence level (as the classification datasets do).
    """

    def __init__(
        self,
        features: Sequence[np.ndarray],
        *,
        n_frames: int,
        views: int,
        clips_per_track: int,
        pad_values: Sequence[float],
        seed: int | None = None,
    ) -> None:
        self.features, self.n_frames, self.views = list(features), n_frames, views
        self.crops, self.pad_values, self.seed = clips_per_track, list(pad_values), seed

    def __len__(self) -> int:
        return len(self.features) * self.crops

    def _crop(self, track: int, rng: np.random.Generator | None) -> torch.Tensor:
        full = self.features[track]
        slack = full.shape[-1] - self.n_frames
        start = 0
        if slack > 0:
            start = int(rng.integers(0, slack + 1)) if rng else int(torch.randint(slack + 1, ()))
        part = torch.from_numpy(np.array(full[:, start : start + self.n_frames], np.float32))
        if part.shape[-1] < self.n_frames:
            part = F.pad(part, (0, self.n_frames - part.shape[-1]), value=self.pad_values[track])
        return part

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        track = index % len(self.features)
        rng = None if self.seed is None else np.random.default_rng([self.seed, index])
        return torch.stack([self._crop(track, rng) for _ in range(self.views)]), track


def _load_features(cfg: EmbedTrainConfig, *, progress: bool):
    """Cached whole-track features of the data's audio files, and the failures."""
    from torchmusic.data.cache import default_cache_dir
    from torchmusic.data.extract import extract_features

    cache_dir = Path(cfg.cache_dir).expanduser() if cfg.cache_dir else default_cache_dir()
    report = extract_features(
        cfg.data_paths(),
        cfg.feature_config(),
        cache_dir=cache_dir,
        workers=cfg.extract_workers,
        progress=progress,
    )
    if not report.ok:
        raise DataError(f"no readable audio in {cfg.data_paths()}: {report.summary()}")
    return report


def split_tracks(n: int, *, val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Seeded ``(train, valid)`` track indices; valid has >= 1 track when the fraction > 0.

    Examples
    --------
    >>> train, valid = split_tracks(10, val_fraction=0.2, seed=0)
    >>> len(train), len(valid), sorted(train + valid) == list(range(10))
    (8, 2, True)
    """
    order = np.random.default_rng(seed).permutation(n).tolist()
    n_val = 0 if val_fraction == 0 or n < 3 else max(1, round(n * val_fraction))
    return sorted(order[n_val:]), sorted(order[:n_val])


class EmbedData:
    """Cached features of ``cfg.data``, a seeded track split, and the crop loaders.

    ``views`` is 2 for the contrastive model (two crops of one track), else 1;
    ``augment`` is the contrastive views' augmentation (None for the autoencoder).
    """

    def __init__(self, cfg: EmbedTrainConfig, *, progress: bool) -> None:
        self.cfg = cfg
        self.feature = cfg.feature_config()
        self.n_frames = self.feature.clip_frames(cfg.clip_seconds)
        self.report = _load_features(cfg, progress=progress)
        self.arrays = [f.load(mmap=True) for f in self.report.ok]
        self.pads = [feature_pad_value(np.asarray(a), self.feature) for a in self.arrays]
        train, valid = split_tracks(len(self.arrays), val_fraction=cfg.val_fraction, seed=cfg.seed)
        self.views = 2 if cfg.model == "contrastive" else 1
        if self.views == 2 and len(valid) == 1:
            # One held-out track has no negatives to be told apart from: train on it instead.
            train, valid = sorted(train + valid), []
        self.train_ids, self.val_ids = train, valid
        contrastive = CONTRASTIVE_AUGMENT if cfg.augment is None else cfg.augment
        self.augment = contrastive if self.views == 2 else None
        # The music views are time-stretched: their crops hold enough frames for the
        # slowest tempo factor, and the augmentation resamples them to n_frames.
        self.music = self.augment is not None and is_music_augment(self.augment)
        stretch = float(self.augment.get("time_stretch", 0.0)) if self.music else 0.0
        self.crop_frames = math.ceil(self.n_frames * (1 + stretch))

    def _crops(
        self, ids: list[int], *, n: int, seed: int | None, frames: int | None = None
    ) -> TrackCrops:
        return TrackCrops(
            [self.arrays[i] for i in ids],
            n_frames=frames or self.n_frames,
            views=self.views,
            clips_per_track=n,
            pad_values=[self.pads[i] for i in ids],
            seed=seed,
        )

    def sample_weights(self, ids: list[int]) -> list[float] | None:
        """Draw weight of each track under ``cfg.sampling`` (None: every track equally).

        ``sqrt_duration`` draws a 4-minute track ~15x as often as a 1 s drum hit,
        instead of 240x (``duration``) or 1x (``uniform``): long tracks hold more
        distinct music, yet short items are not drowned out.
        """
        if self.cfg.sampling == "uniform":
            return None
        seconds = [
            max(1, self.arrays[i].shape[-1]) * self.feature.hop_length / self.feature.sr
            for i in ids
        ]
        power = 0.5 if self.cfg.sampling == "sqrt_duration" else 1.0
        return [s**power for s in seconds]

    def train_loader(self) -> torch.utils.data.DataLoader:
        cfg = self.cfg
        crops = self._crops(
            self.train_ids, n=cfg.clips_per_track, seed=None, frames=self.crop_frames
        )
        weights = self.sample_weights(self.train_ids)
        sampler = None
        if weights is not None:
            # Items are tracks (index % n_tracks): weight every item of a track alike.
            per_item = [weights[i % len(weights)] for i in range(len(crops))]
            sampler = torch.utils.data.WeightedRandomSampler(per_item, num_samples=len(crops))
        return torch.utils.data.DataLoader(
            crops,
            batch_size=cfg.batch_size,
            shuffle=sampler is None,
            sampler=sampler,
            # Contrastive batches need negatives: no 1-item last batch.
            drop_last=self.views == 2
            and len(self.train_ids) * cfg.clips_per_track > cfg.batch_size,
            num_workers=cfg.num_workers or 0,
        )

    def val_loader(self) -> torch.utils.data.DataLoader | None:
        if not self.val_ids:
            return None
        # Several fixed crops per held-out track: with few tracks, one crop each would
        # make the validation loss (and the checkpoint it picks) mostly noise.
        n = min(self.cfg.clips_per_track, 4)
        crops = self._crops(self.val_ids, n=n, seed=self.cfg.seed)
        return torch.utils.data.DataLoader(crops, batch_size=self.cfg.batch_size)
