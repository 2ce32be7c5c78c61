"""Data of denoiser training: clean tracks split by track, noise split by file, the loaders.

Training items are new :class:`~torchmusic.data.mixtures.MixtureDataset` draws every
epoch (``set_epoch``); validation items are drawn once (epoch 0 of their own
dataset) and are the same every epoch, so validation figures are comparable.
A track or a noise file is in one split only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

import torchmusic.training.audio_loaders as audio_loaders
from torchmusic.data.audio_splits import TEST, TRAIN, VALID, split_by_track  # noqa: F401
from torchmusic.errors import DataError
from torchmusic.training.denoise.settings import DenoiseTrainConfig


def split_tracks(cfg: DenoiseTrainConfig) -> dict[str, list[str]]:
    """``{"train": [...], "valid": [...], "test": [...]}`` of clean files, split by track
    (:func:`torchmusic.data.audio_splits.split_by_track`)."""
    return split_by_track(
        cfg.clean_items(),
        val_fraction=cfg.val_fraction,
        seed=cfg.seed,
        name="clean",
        what="clean training music",
    )


def split_noise(cfg: DenoiseTrainConfig) -> dict[str, list[Any]]:
    """``{"train", "valid", "unseen"}`` noise recordings (:class:`NoiseFile`), by file.

    Without recordings (``noise`` None) all three are empty. The ``unseen_noise``
    kinds that the folder does not hold are ignored (a folder of other noises).
    """
    from torchmusic.data.noise import noise_files, split_noise_files

    if not cfg.noise:
        return {TRAIN: [], VALID: [], "unseen": []}
    if not Path(cfg.noise).is_dir():
        raise DataError(
            f"noise {cfg.noise!r} is not a folder (expected a folder of noise recordings)"
        )
    files = noise_files(cfg.noise)
    kinds = {f.kind for f in files}
    unseen = [k for k in cfg.unseen_noise if k in kinds]
    return split_noise_files(
        files, unseen=unseen, valid_fraction=cfg.noise_valid_fraction, seed=cfg.seed
    )


def _sources(files: list[Any], cfg: DenoiseTrainConfig) -> tuple[list[Any], list[float] | None]:
    sources = [*files, *cfg.synthetic_noise]
    weights = [1.0] * len(files) + [cfg.synthetic_weight] * len(cfg.synthetic_noise)
    return sources, weights


def collate_pairs(items: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
    """``{"noisy", "clean"}`` ``(batch, samples)`` float32 from mixture items."""
    return {
        "noisy": torch.stack([it["noisy"] for it in items]),
        "clean": torch.stack([it["clean"] for it in items]),
    }


class DenoiseData:
    """The split tracks and noises, and the loaders of a run (built once)."""

    def __init__(self, cfg: DenoiseTrainConfig, *, on_gpu: bool = False) -> None:
        from torchmusic.data.mixtures import MixtureDataset

        self.cfg = cfg
        self.parts = split_tracks(cfg)
        self.noise = split_noise(cfg)
        sr, seg = cfg.sr, cfg.segment_samples()
        cache = cfg.audio_cache_dir()
        common = dict(
            sr=sr, segment_samples=seg, snr_range=tuple(cfg.snr_range),
            gain_db_range=tuple(cfg.gain_db_range), cache_dir=cache,
        )  # fmt: skip
        sources, weights = _sources(self.noise[TRAIN], cfg)
        if sum(weights) == 0:
            raise DataError(
                f"no training noise: the folder {cfg.noise!r} has no recording outside the "
                "unseen and valid kinds, and synthetic_weight is 0"
            )
        self.train = MixtureDataset(
            self.parts[TRAIN], sources, noise_weights=weights, seed=cfg.seed,
            items_per_track=cfg.items_per_track, **common,
        )  # fmt: skip
        self.valid: Any = None
        if self.parts[VALID]:
            # Validation noise: the held-out recordings (kinds training never hears) and
            # the generators; never the unseen kinds.
            sources, weights = _sources(self.noise[VALID] or self.noise[TRAIN], cfg)
            self.valid = MixtureDataset(
                self.parts[VALID], sources, noise_weights=weights, seed=cfg.seed + 1,
                items_per_track=cfg.val_items_per_track, **common,
            )  # fmt: skip
        self.workers = cfg.num_workers if cfg.num_workers is not None else (2 if on_gpu else 0)

    @property
    def failed(self) -> list[tuple[str, str]]:
        """``(path, error)`` of every music file that could not be decoded."""
        failed = list(self.train.clean.failed)
        if self.valid is not None:
            failed += list(self.valid.clean.failed)
        return [(str(f.path), f.error) for f in failed]

    def summary(self) -> dict[str, Any]:
        """What ``data.json`` records: tracks, noise files and kinds of each split."""
        return {
            **{name: paths for name, paths in self.parts.items()},
            "noise": {
                name: [{"path": str(f.path), "kind": f.kind} for f in files]
                for name, files in self.noise.items()
            },
            "synthetic_noise": list(self.cfg.synthetic_noise),
            "skipped": [{"path": p, "error": e} for p, e in self.failed],
        }

    def train_loader(self) -> DataLoader:
        return audio_loaders.train_loader(
            self.train, batch_size=self.cfg.batch_size, collate=collate_pairs, workers=self.workers
        )

    def val_loader(self) -> DataLoader | None:
        return audio_loaders.val_loader(
            self.valid, batch_size=self.cfg.batch_size, collate=collate_pairs
        )
