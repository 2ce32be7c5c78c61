"""Splits: split-list files (GTZAN's fault-filtered lists) and seeded leak-free random splits."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from torchmusic.data import (
    ClassFolderDataset,
    Track,
    TrackDataset,
    apply_split_lists,
    read_split_list,
    split_dataset,
)
from torchmusic.errors import DataError, ParameterError

SPLITS = ("train", "valid", "test")


def gtzan_lists(shared_data: Path) -> dict[str, Path]:
    return {s: shared_data / "gtzan_splits" / f"{s}_filtered.txt" for s in SPLITS}


def test_gtzan_filtered_lists_are_read_correctly(shared_data: Path) -> None:
    entries = {s: read_split_list(p) for s, p in gtzan_lists(shared_data).items()}
    assert {s: len(e) for s, e in entries.items()} == {"train": 443, "valid": 197, "test": 290}
    assert entries["train"][0] == "blues/blues.00029.wav"
    for split_entries in entries.values():
        assert len({e.split("/")[0] for e in split_entries}) == 10
    sets = [set(e) for e in entries.values()]
    assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])


def test_gtzan_lists_applied_to_the_real_clip(shared_data: Path) -> None:
    ds = ClassFolderDataset(shared_data / "mir_clips/gtzan_genre/genres")
    lists = gtzan_lists(shared_data)
    # Only one of the 930 listed tracks is present: the rest must be reported, not dropped.
    with pytest.raises(DataError, match="929 split-list entries match no file"):
        apply_split_lists(ds, lists)
    ds, unmatched = apply_split_lists(ds, lists, allow_missing=True)
    expected = next(
        s for s, p in lists.items() if "country/country.00000.wav" in read_split_list(p)
    )
    assert ds.tracks[0].split == expected
    assert len(ds.split(expected)) == 1
    assert sum(len(v) for v in unmatched.values()) == 929
    assert "country/country.00000.wav" not in unmatched[expected]


def test_apply_split_lists_on_folder(class_folder: Path, tmp_path: Path) -> None:
    ds = ClassFolderDataset(class_folder)
    train = tmp_path / "train.txt"
    train.write_text("# comment\njazz/j0.wav\njazz/j1.wav\n\nrock/sub/r0.wav\n")
    ds2, unmatched = apply_split_lists(ds, {"train": train, "test": ["jazz/j2.wav", "rock/r1.au"]})
    assert unmatched == {"train": [], "test": []}
    assert [t.track_id for t in ds2.split("train").tracks] == ["jazz/j0", "jazz/j1", "rock/sub/r0"]
    # The extension is ignored: a list naming .au matches the .flac file.
    assert [t.track_id for t in ds2.split("test").tracks] == ["jazz/j2", "rock/r1"]
    assert ds.tracks[0].split is None  # the original dataset is unchanged

    with pytest.raises(DataError, match=r"jazz/j9\.wav"):
        apply_split_lists(ds, {"train": ["jazz/j0.wav", "jazz/j9.wav"]})
    with pytest.raises(DataError, match="one split only"):
        apply_split_lists(ds, {"train": ["jazz/j0.wav"], "test": ["jazz/j0.wav"]})
    dupes = tmp_path / "dupes.txt"
    dupes.write_text("jazz/j0.wav\njazz/j0.wav\n")
    with pytest.raises(DataError, match="more than once"):
        read_split_list(dupes)


def make_tracks(n_per_label: dict[str, int], artists_per_label: int = 0) -> list[Track]:
    tracks = []
    for label, n in n_per_label.items():
        for i in range(n):
            group = f"{label}-artist{i % artists_per_label}" if artists_per_label else None
            tracks.append(Track(Path(f"/x/{label}/{i}.wav"), (label,), f"{label}/{i}", group=group))
    return tracks


@pytest.mark.parametrize("seed", range(8))
def test_random_split_has_no_leakage(seed: int) -> None:
    tracks = make_tracks({"a": 40, "b": 30, "c": 17}, artists_per_label=7)
    ds = TrackDataset(tracks)
    parts = split_dataset(ds, {"train": 0.7, "valid": 0.15, "test": 0.15}, seed=seed)
    ids = [t.track_id for part in parts.values() for t in part.tracks]
    assert sorted(ids) == sorted(t.track_id for t in tracks)  # every track exactly once
    group_splits: dict[str, set[str]] = {}
    for name, part in parts.items():
        assert part.classes == ["a", "b", "c"]
        for t in part.tracks:
            assert t.split == name
            group_splits.setdefault(t.group, set()).add(name)
    assert all(len(s) == 1 for s in group_splits.values())  # no artist in two splits


@pytest.mark.parametrize("seed", range(5))
def test_random_split_by_track_is_stratified_and_seeded(seed: int) -> None:
    ds = TrackDataset(make_tracks({"a": 50, "b": 30, "c": 20}))
    parts = split_dataset(ds, (0.8, 0.1, 0.1), seed=seed)
    for name, frac in zip(SPLITS, (0.8, 0.1, 0.1), strict=True):
        counts = Counter(t.label for t in parts[name].tracks)
        assert counts == {"a": 50 * frac, "b": 30 * frac, "c": 20 * frac}
    again = split_dataset(ds, (0.8, 0.1, 0.1), seed=seed)
    assert [t.track_id for t in again["test"].tracks] == [t.track_id for t in parts["test"].tracks]


def test_different_seeds_give_different_splits() -> None:
    ds = TrackDataset(make_tracks({"a": 50, "b": 30}))
    tests = {tuple(t.track_id for t in split_dataset(ds, seed=s)["test"].tracks) for s in range(4)}
    assert len(tests) > 1


def test_custom_group_key_and_validation() -> None:
    tracks = make_tracks({"a": 30})
    parts = split_dataset(TrackDataset(tracks), (0.5, 0.5), group=lambda t: t.track_id[-1])
    by_digit = {}
    for name, part in parts.items():
        for t in part.tracks:
            assert by_digit.setdefault(t.track_id[-1], name) == name
    with pytest.raises(ParameterError, match="sum to 1"):
        split_dataset(TrackDataset(tracks), (0.5, 0.6))
    with pytest.raises(ParameterError, match="> 0"):
        split_dataset(TrackDataset(tracks), {"train": 1.0, "test": 0.0})
