"""Fixed-length clips of a track dataset: random crops (training), sliding windows (evaluation).

Both wrappers keep each item's ``track_id``, so clip predictions can be aggregated
per track (e.g. averaging the clip probabilities of a track). They ask the wrapped
:class:`~torchmusic.data.tracks.TrackDataset` for an excerpt, which decodes only that
excerpt of the file (``load(offset=, duration=)``), or slices the cached features of
the whole track when a feature cache is used.

Padding: a track shorter than one clip gives one clip, zero-padded at the end
(cached log-mel features are padded with the track's minimum, their silence level).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import torch

from torchmusic.data.tracks import TrackDataset
from torchmusic.errors import ParameterError


def _check_seconds(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ParameterError(f"{name}={value!r} must be a positive number of seconds")
    return float(value)


def window_starts(
    n_samples: int, *, clip: int, hop: int, last: Literal["pad", "drop"] = "pad"
) -> list[int]:
    """Start samples of sliding windows over a signal of ``n_samples`` samples.

    Windows start at ``0, hop, 2*hop, ...`` and are all ``clip`` long. The last,
    partial window is kept (to be zero-padded) with ``last="pad"``, or dropped
    with ``last="drop"``. A signal shorter than one clip always yields one window
    at 0 (to be padded), whatever ``last`` says, so no track is ever lost.

    Examples
    --------
    >>> window_starts(11, clip=4, hop=3)
    [0, 3, 6, 9]
    >>> window_starts(11, clip=4, hop=3, last="drop")
    [0, 3, 6]
    >>> window_starts(2, clip=4, hop=3, last="drop")
    [0]
    """
    if clip <= 0 or hop <= 0:
        raise ParameterError(f"clip={clip} and hop={hop} must be positive sample counts")
    if last not in ("pad", "drop"):
        raise ParameterError(f"last={last!r} must be 'pad' or 'drop'")
    if n_samples <= clip:
        return [0]
    n_full = 1 + (n_samples - clip) // hop
    starts = [i * hop for i in range(n_full)]
    # The padded tail window must still start inside the signal (hop > clip leaves
    # gaps between windows, and a tail that falls in a gap is not a window).
    if last == "pad" and starts[-1] + clip < n_samples and starts[-1] + hop < n_samples:
        starts.append(starts[-1] + hop)
    return starts


class RandomClips(torch.utils.data.Dataset):
    """One random ``duration``-second crop per track per access (training).

    Parameters
    ----------
    dataset : TrackDataset
        The tracks.
    duration : float
        Clip length in seconds; every item is exactly this long.
    seed : int, optional
        ``None``: offsets come from torch's global generator, which
        :class:`torch.utils.data.DataLoader` seeds differently in every worker.
        An int: the crop of item ``i`` depends only on ``(seed, epoch, i)``, so runs
        are reproducible whatever the number of workers; call :meth:`set_epoch`
        each epoch to get new crops.

    Examples
    --------
    >>> clips = RandomClips(ds, duration=3.0, seed=0)  # doctest: +SKIP
    >>> clips.set_epoch(1); clips[0]["waveform"].shape  # doctest: +SKIP
    torch.Size([66150])
    """

    def __init__(self, dataset: TrackDataset, *, duration: float, seed: int | None = None) -> None:
        if not isinstance(dataset, TrackDataset):
            raise ParameterError(f"dataset must be a TrackDataset, got {type(dataset).__name__}")
        self.dataset = dataset
        self.duration = _check_seconds("duration", duration)
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool) or seed < 0):
            raise ParameterError(f"seed={seed!r} must be a non-negative int or None")
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the crops of ``epoch`` (only matters with a ``seed``)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.dataset)

    def offset(self, index: int) -> float:
        """The crop start (seconds) item ``index`` gets now."""
        slack = self.dataset.duration(index) - self.duration
        if slack <= 0:
            return 0.0
        if self.seed is None:
            u = float(torch.rand(()))
        else:
            u = float(np.random.default_rng([self.seed, self.epoch, index]).random())
        # Snap to the sample grid so waveform and cached-feature crops line up.
        sr = self.dataset.sr
        return math.floor(u * slack * sr) / sr

    def __getitem__(self, index: int) -> dict[str, Any]:
        index = range(len(self))[index]  # normalises negative indices, raises IndexError
        return self.dataset.get(index, offset=self.offset(index), duration=self.duration)


class SlidingWindows(torch.utils.data.Dataset):
    """Every track cut into ``duration``-second windows every ``hop`` seconds (evaluation).

    Parameters
    ----------
    dataset : TrackDataset
        The tracks.
    duration : float
        Window length in seconds; every item is exactly this long.
    hop : float, optional
        Seconds between window starts (default: ``duration``, no overlap).
    last : {"pad", "drop"}
        The final partial window is zero-padded (``"pad"``, default: the whole
        track is covered) or dropped (``"drop"``: only full windows). Tracks
        shorter than one window always give one padded window.

    Notes
    -----
    Track lengths are read from file headers when the wrapper is built, to number
    the windows. Items carry ``"track_id"``, ``"track_index"`` and
    ``"clip_index"`` (window number within its track), plus ``"offset"``.

    Examples
    --------
    >>> windows = SlidingWindows(ds, duration=3.0, hop=1.5)  # doctest: +SKIP
    >>> windows[0]["track_id"], windows[0]["clip_index"]  # doctest: +SKIP
    ('blues/blues.00000', 0)
    """

    def __init__(
        self,
        dataset: TrackDataset,
        *,
        duration: float,
        hop: float | None = None,
        last: Literal["pad", "drop"] = "pad",
    ) -> None:
        if not isinstance(dataset, TrackDataset):
            raise ParameterError(f"dataset must be a TrackDataset, got {type(dataset).__name__}")
        self.dataset = dataset
        self.duration = _check_seconds("duration", duration)
        self.hop = self.duration if hop is None else _check_seconds("hop", hop)
        self.last = last
        sr = dataset.sr
        clip_n, hop_n = round(self.duration * sr), round(self.hop * sr)
        if hop_n == 0:
            raise ParameterError(f"hop={hop!r} s is shorter than one sample at sr={sr}")
        # (track index, window number, start sample) of every window.
        self.windows: list[tuple[int, int, int]] = []
        for t in range(len(dataset)):
            n = round(dataset.duration(t) * sr)
            for k, start in enumerate(window_starts(n, clip=clip_n, hop=hop_n, last=last)):
                self.windows.append((t, k, start))

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, index: int) -> dict[str, Any]:
        track, k, start = self.windows[index]
        item = self.dataset.get(track, offset=start / self.dataset.sr, duration=self.duration)
        item["track_index"] = track
        item["clip_index"] = k
        return item
