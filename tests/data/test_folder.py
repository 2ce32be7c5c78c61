"""ClassFolderDataset and file discovery, on a synthesised folder and the real GTZAN clip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from torchmusic.data import ClassFolderDataset, find_audio_files
from torchmusic.data.discover import collect_inputs
from torchmusic.errors import DataError, ParameterError

SR = 8000  # the rate the conftest fixtures write at


def test_find_audio_files_by_extension_sorted_skipping_hidden(class_folder: Path) -> None:
    files = find_audio_files(class_folder)
    rel = [f.relative_to(class_folder).as_posix() for f in files]
    assert rel == ["jazz/j0.wav", "jazz/j1.wav", "jazz/j2.wav", "rock/r1.flac", "rock/sub/r0.wav"]
    assert find_audio_files(class_folder, extensions=["FLAC"]) == [class_folder / "rock/r1.flac"]
    assert find_audio_files(class_folder / "rock", recursive=False) == [
        class_folder / "rock/r1.flac"
    ]


def test_find_audio_files_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="nope"):
        find_audio_files(tmp_path / "nope")


def test_collect_inputs_names_relative_to_common_folder(class_folder: Path) -> None:
    files, missing = collect_inputs(
        [class_folder / "jazz", class_folder / "rock" / "r1.flac", class_folder / "gone.wav"]
    )
    names = [rel for _, rel in files]
    assert names == ["jazz/j0.wav", "jazz/j1.wav", "jazz/j2.wav", "rock/r1.flac"]
    assert missing == [class_folder / "gone.wav"]


def test_collect_inputs_folder_of_symlinks(class_folder: Path, tmp_path: Path) -> None:
    links = tmp_path / "links"
    links.mkdir()
    (links / "a.wav").symlink_to(class_folder / "jazz" / "j0.wav")
    (links / "b.wav").symlink_to(class_folder / "jazz" / "j1.wav")
    (links / "again.wav").symlink_to(class_folder / "jazz" / "j0.wav")  # same target
    files, missing = collect_inputs([links])
    assert [rel for _, rel in files] == ["a.wav", "b.wav"] and missing == []
    assert all(f.parent == links for f, _ in files)


def test_dataset_classes_tracks_and_items(class_folder: Path) -> None:
    ds = ClassFolderDataset(class_folder, sr=SR)
    assert ds.classes == ["jazz", "rock"]
    assert ds.class_to_index == {"jazz": 0, "rock": 1}
    assert len(ds) == 5
    assert [t.track_id for t in ds.tracks] == [
        "jazz/j0",
        "jazz/j1",
        "jazz/j2",
        "rock/r1",
        "rock/sub/r0",
    ]
    assert [t.label for t in ds.tracks] == ["jazz"] * 3 + ["rock"] * 2
    item = ds[4]
    assert item["label"] == 1
    assert item["track_id"] == "rock/sub/r0"
    assert item["path"] == str(class_folder.resolve() / "rock/sub/r0.wav")
    assert item["waveform"].shape == (round(1.1 * SR),)
    assert item["waveform"].dtype == torch.float32
    assert item["waveform"].abs().max() == pytest.approx(0.5, abs=1e-3)


def test_clip_gives_fixed_length_and_zero_pads(class_folder: Path) -> None:
    ds = ClassFolderDataset(class_folder, sr=SR, clip=1.5)
    y = ds[0]["waveform"]
    assert y.shape == (round(1.5 * SR),)
    assert torch.all(y[SR:] == 0) and y[: SR // 2].abs().max() > 0.1
    batch = torch.utils.data.default_collate([ds[i] for i in range(len(ds))])
    assert batch["waveform"].shape == (5, round(1.5 * SR))
    assert batch["label"].tolist() == [0, 0, 0, 1, 1]


def test_stereo_transform_and_resampling(tmp_path: Path, write_tone) -> None:
    write_tone(tmp_path / "a" / "st.wav", channels=2)
    ds = ClassFolderDataset(tmp_path, sr=SR, mono=False, transform=lambda x: x * 2)
    assert ds[0]["waveform"].shape == (2, SR)
    assert ds[0]["waveform"].abs().max() == pytest.approx(1.0, abs=2e-3)
    assert ClassFolderDataset(tmp_path, sr=SR // 2)[0]["waveform"].shape == (SR // 2,)


def test_features_without_cache(class_folder: Path, small_config) -> None:
    ds = ClassFolderDataset(class_folder, features=small_config, clip=0.5)
    x = ds[1]["features"]
    assert x.shape == (16, 1 + round(0.5 * SR) // 64)
    assert ds.sr == small_config.sr
    with pytest.raises(ParameterError, match=r"features\.sr"):
        ClassFolderDataset(class_folder, sr=22050, features=small_config)
    with pytest.raises(ParameterError, match="cache_dir"):
        ClassFolderDataset(class_folder, cache_dir=class_folder.parent / "c")


def test_features_with_cache_match_whole_file_features(
    class_folder: Path, small_config, tmp_path: Path
) -> None:
    ds = ClassFolderDataset(class_folder, features=small_config, cache_dir=tmp_path / "cache")
    x = ds[0]["features"]
    assert ds.cache is not None
    entry = ds.cache.lookup(ds.tracks[0].path)
    assert entry is not None
    np.testing.assert_array_equal(x.numpy(), np.load(entry, allow_pickle=False))


def test_errors_name_the_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        ClassFolderDataset(tmp_path / "missing")
    with pytest.raises(DataError, match="no class sub-folders"):
        ClassFolderDataset(tmp_path)
    (tmp_path / "empty_class").mkdir()
    (tmp_path / "empty_class" / "readme.txt").write_text("x")
    with pytest.raises(DataError, match="empty_class"):
        ClassFolderDataset(tmp_path)


def test_classes_argument_selects_and_orders(class_folder: Path) -> None:
    ds = ClassFolderDataset(class_folder, classes=["rock", "jazz"])
    assert ds.classes == ["rock", "jazz"]
    assert ds.tracks[0].label == "rock" and ds[0]["label"] == 0 and ds[2]["label"] == 1
    with pytest.raises(DataError, match="blues"):
        ClassFolderDataset(class_folder, classes=["blues"])


def test_real_gtzan_clip(shared_data: Path) -> None:
    ds = ClassFolderDataset(shared_data / "mir_clips/gtzan_genre/genres", clip=3.0)
    assert len(ds) == 1
    assert ds.classes == ["country"]
    assert ds.tracks[0].label == "country"
    assert ds.tracks[0].track_id == "country/country.00000"
    item = ds[0]
    assert item["label"] == 0
    assert item["waveform"].shape == (3 * 22050,)
    assert 0.01 < item["waveform"].abs().max() <= 1.0
