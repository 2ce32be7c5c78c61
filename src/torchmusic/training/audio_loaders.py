"""DataLoaders of the waveform trainers (vocoder, denoiser): one definition for both."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch.utils.data import DataLoader, Dataset


def train_loader(
    dataset: Dataset, *, batch_size: int, collate: Callable[[list[Any]], Any], workers: int
) -> DataLoader:
    """Shuffled batches of a dataset that draws new items per epoch (``set_epoch``).

    Workers are not persistent: they receive the dataset again each epoch, with its
    new epoch number, so their draws change too.
    """
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=True,
        drop_last=len(dataset) >= batch_size,
        collate_fn=collate,
        num_workers=workers,
        persistent_workers=False,
    )


def val_loader(
    dataset: Dataset | None, *, batch_size: int, collate: Callable[[list[Any]], Any]
) -> DataLoader | None:
    """Fixed validation items in order (at most 8 per batch), or None without any."""
    if dataset is None or len(dataset) == 0:
        return None
    return DataLoader(
        dataset,
        batch_size=max(1, min(batch_size, 8)),
        shuffle=False,
        collate_fn=collate,
        num_workers=0,
    )
