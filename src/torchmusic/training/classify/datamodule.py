"""The Lightning data module of classifier training.

``prepare_data`` (one process per machine) computes every file's features into the
cache with a progress bar and prints which files could not be decoded; ``setup``
(every process) builds the splits, drops those files (a cache lookup, no decoding)
and wraps the splits in random crops (train) and sliding windows (valid, test).
"""

from __future__ import annotations

import sys

import lightning.pytorch as pl
import torch

from torchmusic.data import FailedFile, SlidingWindows, TrackDataset
from torchmusic.errors import ParameterError
from torchmusic.training.classify.data import (
    TEST,
    TRAIN,
    VALID,
    RepeatedClips,
    SplitPlan,
    collate_clips,
    default_workers,
    prepare_splits,
    split_table,
)
from torchmusic.training.classify.settings import TrainConfig


class ClassificationData(pl.LightningDataModule):
    """Train / valid / test loaders of fixed-length feature clips.

    Parameters
    ----------
    cfg : TrainConfig
        Data, split, feature, clip and loader settings.
    on_gpu : bool
        Pin memory and default to several loader workers.
    progress : bool
        Show the feature-extraction progress bar and print the data summary.
    report : bool
        Print the list of undecodable files before training (one process of a
        multi-process job should, the others should not).

    Attributes
    ----------
    parts : dict of str to TrackDataset
        The splits after :meth:`setup` (undecodable files removed).
    failed : list of FailedFile
        Files left out, with the reason.
    plan : SplitPlan or None
        Where the splits came from (split lists, a manifest column, a random split;
        a carved validation split), after :meth:`setup`.

    Examples
    --------
    >>> dm = ClassificationData(TrainConfig(data="genres/"))  # doctest: +SKIP
    >>> dm.prepare_data(); dm.setup("fit")  # doctest: +SKIP
    >>> x, y = next(iter(dm.train_dataloader()))  # doctest: +SKIP
    >>> x.shape  # (batch, n_mels, frames)  # doctest: +SKIP
    torch.Size([32, 128, 130])
    """

    def __init__(
        self,
        cfg: TrainConfig,
        *,
        on_gpu: bool = False,
        progress: bool = True,
        report: bool = True,
    ) -> None:
        super().__init__()
        if not isinstance(cfg, TrainConfig):
            raise ParameterError(f"cfg must be a TrainConfig, got {type(cfg).__name__}")
        self.cfg = cfg
        self.on_gpu = on_gpu
        self.progress = progress
        self.report = report
        self.parts: dict[str, TrackDataset] = {}
        self.failed: list[FailedFile] = []
        self.classes: list[str] = []
        self.multi_label = False
        self.plan: SplitPlan | None = None
        self._prepared = False

    def prepare_data(self) -> None:
        # Lightning calls this in one process per machine before setup(): the slow,
        # parallel feature extraction happens once, and the report is printed once
        # (not again for the validate/test passes that follow fit).
        if self._prepared:
            return
        self._prepared = True
        prepared = prepare_splits(
            self.cfg, workers=self.cfg.extract_workers, progress=self.progress
        )
        if self.progress:
            head = prepared.plan.summary() + "\n" if prepared.plan is not None else ""
            print("\n" + head + split_table(prepared.parts), file=sys.stderr)
        if prepared.failed and self.report:
            print(_failure_summary(prepared.failed), file=sys.stderr)

    def setup(self, stage: str | None = None) -> None:
        if self.parts:
            return
        # Everything is cached by prepare_data now, so this is a stat lookup per
        # file; failures are re-detected here (fast: they fail at the header) so
        # that every process agrees on the files without sharing state.
        prepared = prepare_splits(self.cfg, workers=1, progress=False)
        self.parts = prepared.parts
        self.failed = prepared.failed
        self.classes = prepared.classes
        self.multi_label = prepared.multi_label
        self.plan = prepared.plan

    # -- datasets ----------------------------------------------------------------------
    def train_dataset(self) -> RepeatedClips:
        return RepeatedClips(
            self.parts[TRAIN], duration=self.cfg.clip_seconds, repeats=self.cfg.clips_per_track
        )

    def eval_dataset(self, split: str) -> SlidingWindows:
        return SlidingWindows(
            self.parts[split],
            duration=self.cfg.clip_seconds,
            hop=self.cfg.val_hop_seconds or self.cfg.clip_seconds,
        )

    # -- loaders -----------------------------------------------------------------------
    def _loader(
        self, dataset: torch.utils.data.Dataset, *, shuffle: bool, drop_last: bool = False
    ) -> torch.utils.data.DataLoader:
        workers = default_workers(self.cfg, on_gpu=self.on_gpu)
        return torch.utils.data.DataLoader(
            dataset,
            batch_size=self.cfg.batch_size,
            shuffle=shuffle,
            num_workers=workers,
            collate_fn=collate_clips,
            pin_memory=self.on_gpu,
            persistent_workers=workers > 0,
            prefetch_factor=4 if workers > 0 else None,
            drop_last=drop_last,
        )

    def train_dataloader(self) -> torch.utils.data.DataLoader:
        dataset = self.train_dataset()
        # A final batch of one clip breaks BatchNorm layers on flat features (one
        # value per channel has no variance), so that single clip is dropped; its
        # track is drawn again, shuffled, in the next epoch.
        world = self.trainer.world_size if self.trainer is not None else 1
        per_process = -(-len(dataset) // world)
        drop_last = per_process > 1 and per_process % self.cfg.batch_size == 1
        return self._loader(dataset, shuffle=True, drop_last=drop_last)

    def val_dataloader(self) -> torch.utils.data.DataLoader:
        return self._loader(self.eval_dataset(VALID), shuffle=False)

    def test_dataloader(self) -> torch.utils.data.DataLoader:
        return self._loader(self.eval_dataset(TEST), shuffle=False)

    @property
    def has_test(self) -> bool:
        """Whether a non-empty test split exists (after :meth:`setup`)."""
        return TEST in self.parts and len(self.parts[TEST]) > 0


def _failure_summary(failed: list[FailedFile], *, limit: int = 20) -> str:
    lines = [f"skipped {len(failed)} file(s) that could not be decoded (training goes on):"]
    lines += [f"  SKIPPED {f.path}: {f.error}" for f in failed[:limit]]
    if len(failed) > limit:
        lines.append(f"  ... and {len(failed) - limit} more")
    return "\n".join(lines)
