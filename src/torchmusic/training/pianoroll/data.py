"""Data of piano-roll training: JSB pieces, length-grouped batches, random transposition."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

import lightning.pytorch as pl
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from torchmusic.errors import DataError


class _Pieces(Dataset):
    """Piano rolls; ``dataset[list_of_indices]`` is a padded batch ``(roll, lengths)``."""

    def __init__(self, pieces: Sequence[np.ndarray]) -> None:
        self.pieces = [np.asarray(p, dtype=bool) for p in pieces]

    def __len__(self) -> int:
        return len(self.pieces)

    def __getitem__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        from torchmusic.models.symbolic.pianoroll import to_roll_batch

        return to_roll_batch([self.pieces[i] for i in indices])


class LengthBatches(Sampler[list[int]]):
    """Batches of pieces of similar length (little padding), for one process of a job.

    Training order: each epoch a seeded permutation is cut into pools of
    ``pool`` batches, each pool sorted by length and cut into batches, and the
    batches shuffled. Evaluation order: sorted by length. Under DDP each rank takes
    every ``world``-th batch; training batches are repeated so every rank runs the
    same number of steps.
    """

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        *,
        shuffle: bool,
        seed: int = 0,
        rank: int = 0,
        world: int = 1,
        pool: int = 8,
    ) -> None:
        self.lengths = np.asarray(lengths)
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed
        self.rank, self.world, self.pool = rank, world, pool
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        # Lightning calls this at every epoch start, so a resumed run continues the
        # same sequence of orders.
        self.epoch = epoch

    def _batches(self) -> list[list[int]]:
        bs = self.batch_size
        if not self.shuffle:
            order = np.argsort(self.lengths, kind="stable").tolist()
            batches = [order[i : i + bs] for i in range(0, len(order), bs)]
            return batches[self.rank :: self.world]
        rng = np.random.default_rng((self.seed, self.epoch))
        perm = rng.permutation(len(self.lengths))
        batches = []
        for i in range(0, len(perm), bs * self.pool):
            chunk = perm[i : i + bs * self.pool]
            chunk = chunk[np.argsort(self.lengths[chunk], kind="stable")].tolist()
            batches += [chunk[j : j + bs] for j in range(0, len(chunk), bs)]
        order = rng.permutation(len(batches))
        batches = [batches[i] for i in order]
        short = -len(batches) % self.world
        batches += batches[:short]
        return batches[self.rank :: self.world]

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self._batches())

    def __len__(self) -> int:
        return len(self._batches())


class JSBData(pl.LightningDataModule):
    """Train/valid/test piano rolls as length-bucketed batches (whole pieces)."""

    def __init__(self, splits: dict[str, list[np.ndarray]], *, batch_size: int, seed: int) -> None:
        super().__init__()
        self.splits = {k: _Pieces(v) for k, v in splits.items()}
        self.batch_size, self.seed = batch_size, seed

    def _loader(self, split: str, *, shuffle: bool) -> DataLoader:
        data = self.splits[split]
        rank, world = 0, 1
        if self.trainer is not None:
            rank, world = self.trainer.global_rank, self.trainer.world_size
        sampler = LengthBatches(
            [len(p) for p in data.pieces],
            self.batch_size,
            shuffle=shuffle,
            seed=self.seed,
            rank=rank,
            world=world,
        )
        # batch_size=None: the sampler yields whole batches of indices.
        return DataLoader(data, sampler=sampler, batch_size=None, num_workers=0)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("valid", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)


def random_transpose(roll: torch.Tensor, lengths: torch.Tensor, max_shift: int) -> torch.Tensor:
    """Shift each piece by a random number of keys in ``-max_shift..max_shift``.

    The shift is clipped per piece so its lowest and highest notes stay on the
    keyboard (an empty piece is not moved). ``roll`` is ``(B, T, K)``; padding
    frames are zero and stay zero.

    Examples
    --------
    >>> roll = torch.zeros(1, 2, 88); roll[0, :, 40] = 1
    >>> int(random_transpose(roll, torch.tensor([2]), 3)[0, 0].argmax()) in range(37, 44)
    True
    """
    if max_shift <= 0:
        return roll
    k = roll.shape[-1]
    on = roll.amax(dim=1) > 0  # (B, K): keys used anywhere in the piece
    keys = torch.arange(k, device=roll.device)
    lowest = torch.where(on, keys, k).amin(dim=1)
    highest = torch.where(on, keys, -1).amax(dim=1)
    empty = highest < 0
    lo = torch.clamp(-lowest, min=-max_shift).masked_fill(empty, 0)
    hi = torch.clamp(k - 1 - highest, max=max_shift).masked_fill(empty, 0)
    shift = lo + (torch.rand(lo.shape, device=roll.device) * (hi - lo + 1)).long()
    # Gather along keys: key j of the result is key j - shift of the input.
    src = keys[None, :] - shift[:, None]  # (B, K)
    valid = (src >= 0) & (src < k)
    out = torch.gather(roll, 2, src.clamp(0, k - 1)[:, None, :].expand_as(roll))
    return out * valid[:, None, :].to(roll.dtype)


def load_pianoroll_data(path: str | os.PathLike[str]) -> dict[str, list[np.ndarray]]:
    """``split -> list of (T, 88) bool rolls`` of a JSB JSON file (DataError when unusable)."""
    from torchmusic.symbolic import load_jsb

    splits = load_jsb(path)
    for split in ("train", "valid"):
        if not splits[split]:
            raise DataError(f"JSB file {str(path)!r} has no {split} pieces")
    return splits
