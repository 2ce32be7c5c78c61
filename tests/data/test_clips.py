"""Fixed-length clips: window arithmetic, sliding windows, seeded random crops, cached features."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from torchmusic.data import ClassFolderDataset, RandomClips, SlidingWindows, window_starts
from torchmusic.data.tracks import n_frames
from torchmusic.errors import ParameterError

SR = 8000  # the rate the conftest fixtures write at


@pytest.mark.parametrize(
    ("n", "clip", "hop", "last", "expected"),
    [
        (11, 4, 3, "pad", [0, 3, 6, 9]),
        (11, 4, 3, "drop", [0, 3, 6]),
        (10, 4, 3, "pad", [0, 3, 6]),  # the last window ends exactly at the end
        (3, 4, 2, "drop", [0]),  # shorter than one clip: one padded window
        (4, 4, 2, "pad", [0]),
        (11, 4, 6, "pad", [0, 6]),  # hop > clip: the tail at 12 would start past the end
        (13, 4, 6, "pad", [0, 6, 12]),
    ],
)
def test_window_starts(n: int, clip: int, hop: int, last: str, expected: list[int]) -> None:
    assert window_starts(n, clip=clip, hop=hop, last=last) == expected


def test_window_starts_validation() -> None:
    with pytest.raises(ParameterError):
        window_starts(10, clip=0, hop=1)
    with pytest.raises(ParameterError, match="last"):
        window_starts(10, clip=2, hop=1, last="keep")


@pytest.fixture
def rock(class_folder: Path) -> ClassFolderDataset:
    """The two 1.1 s rock tracks of the synthesised folder."""
    return ClassFolderDataset(class_folder, sr=SR, classes=["rock"])


def test_sliding_windows_cover_track_and_keep_ids(rock: ClassFolderDataset) -> None:
    full = rock[0]["waveform"]
    assert full.shape == (8800,)
    windows = SlidingWindows(rock, duration=0.4, hop=0.2)
    # 8800 samples, clip 3200, hop 1600: starts 0..4800 are full, 6400 is padded.
    assert len(windows) == 2 * 5
    items = [windows[i] for i in range(5)]
    assert [it["clip_index"] for it in items] == [0, 1, 2, 3, 4]
    assert {it["track_id"] for it in items} == {"rock/r1"}
    assert all(it["waveform"].shape == (3200,) for it in items)
    torch.testing.assert_close(items[1]["waveform"], full[1600:4800])
    torch.testing.assert_close(items[4]["waveform"][:2400], full[6400:])
    assert torch.all(items[4]["waveform"][2400:] == 0)
    assert windows[5]["track_id"] == "rock/sub/r0" and windows[5]["track_index"] == 1

    dropped = SlidingWindows(rock, duration=0.4, hop=0.2, last="drop")
    assert len(dropped) == 2 * 4


def test_track_shorter_than_clip_is_zero_padded(rock: ClassFolderDataset) -> None:
    windows = SlidingWindows(rock, duration=2.0, last="drop")
    assert len(windows) == 2
    y = windows[0]["waveform"]
    assert y.shape == (16000,) and torch.all(y[8800:] == 0) and y[:8800].abs().max() > 0.1
    crop = RandomClips(rock, duration=2.0, seed=0)[1]["waveform"]
    assert crop.shape == (16000,) and torch.all(crop[8800:] == 0)


def test_random_clips_seeded_and_exact(rock: ClassFolderDataset) -> None:
    clips = RandomClips(rock, duration=0.25, seed=3)
    full = rock[0]["waveform"]
    offsets = [clips.offset(0) for _ in range(3)]
    assert len(set(offsets)) == 1  # same (seed, epoch, index): same crop
    item = clips[0]
    start = round(item["offset"] * SR)
    assert item["waveform"].shape == (2000,) and item["track_id"] == "rock/r1"
    torch.testing.assert_close(item["waveform"], full[start : start + 2000])
    assert RandomClips(rock, duration=0.25, seed=3).offset(0) == offsets[0]

    per_epoch = []
    for epoch in range(5):
        clips.set_epoch(epoch)
        per_epoch.append(clips.offset(0))
    assert len(set(per_epoch)) > 1
    assert all(0 <= o <= 1.1 - 0.25 for o in per_epoch)

    torch.manual_seed(0)
    unseeded = RandomClips(rock, duration=0.25)
    assert len({unseeded.offset(0) for _ in range(5)}) > 1


def test_clips_of_cached_features_are_slices(
    rock: ClassFolderDataset, class_folder: Path, small_config, tmp_path: Path
) -> None:
    ds = ClassFolderDataset(
        class_folder, classes=["rock"], features=small_config, cache_dir=tmp_path / "cache"
    )
    windows = SlidingWindows(ds, duration=0.4, hop=0.2)
    length = n_frames(3200, small_config)
    assert length == 51
    second = windows[1]["features"]  # computes and caches the whole track
    full = np.load(ds.cache.lookup(ds.tracks[0].path), allow_pickle=False)
    assert full.shape == (16, n_frames(8800, small_config))
    assert second.shape == (16, length)
    np.testing.assert_array_equal(second.numpy(), full[:, 25 : 25 + length])
    last = windows[4]["features"]  # padded past the end with the track's minimum
    tail = full.shape[1] - 100
    np.testing.assert_array_equal(last[:, :tail].numpy(), full[:, 100:])
    assert torch.all(last[:, tail:] == float(full.min()))


def test_clip_wrappers_validate(rock: ClassFolderDataset) -> None:
    with pytest.raises(ParameterError, match="duration"):
        RandomClips(rock, duration=0)
    with pytest.raises(ParameterError, match="TrackDataset"):
        SlidingWindows([1, 2], duration=1.0)
    with pytest.raises(ParameterError, match="seed"):
        RandomClips(rock, duration=1.0, seed=-1)
