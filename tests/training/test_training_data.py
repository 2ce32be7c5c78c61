"""Datasets and splits of a run: bad input, split rules, undecodable and short files."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from torchmusic.errors import DataError, ParameterError
from torchmusic.training.classify.data import (
    RepeatedClips,
    collate_clips,
    load_tracks,
    prepare_splits,
    split_tracks,
)


def _copy_tree(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest)
    return dest


def test_empty_folder_is_a_clear_error(tmp_path, make_config):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no class sub-folders"):
        load_tracks(make_config(tmp_path / "empty", tmp_path / "run"))


def test_missing_data_path(tmp_path, make_config):
    with pytest.raises(DataError, match="does not exist"):
        load_tracks(make_config(tmp_path / "nowhere", tmp_path / "run"))


def test_single_class_needs_two(tmp_path, make_config, speech_music):
    root = tmp_path / "one"
    shutil.copytree(speech_music / "speech", root / "speech")
    with pytest.raises(
        DataError, match=r"1 class\(es\) \['speech'\]; a classifier needs at least 2"
    ):
        load_tracks(make_config(root, tmp_path / "run"))


def test_labels_missing_from_the_manifest(tmp_path, make_config, demo_manifest):
    rows = list(csv.DictReader(demo_manifest.open()))
    rows[2]["tune_type"] = ""
    bad = demo_manifest.parent / "bad_labels.csv"
    with bad.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with pytest.raises(DataError, match=r"line 4 .*missing value in label column 'tune_type'"):
        load_tracks(make_config(bad, tmp_path / "run"))
    with pytest.raises(DataError, match=r"lacks column\(s\) \['genre'\]"):
        load_tracks(make_config(demo_manifest, tmp_path / "run", label_column="genre"))


def test_manifest_only_settings_on_a_folder(tmp_path, make_config, speech_music):
    with pytest.raises(ParameterError, match="group_column='kit' needs a manifest"):
        load_tracks(make_config(speech_music, tmp_path / "run", group_column="kit"))


def test_split_column_is_used(tmp_path, make_config, demo_manifest):
    cfg = make_config(demo_manifest, tmp_path / "run")
    parts = split_tracks(load_tracks(cfg), cfg)
    assert {k: len(v) for k, v in parts.items()} == {"train": 4, "valid": 2, "test": 2}


def test_random_split_keeps_groups_whole(tmp_path, make_config, demo_manifest):
    # Group column: the instrument family (several tracks share one).
    cfg = make_config(
        demo_manifest,
        tmp_path / "run",
        split_column="none",  # the manifest's own split column is the default
        group_column="instrument_family",
        split_fractions={"train": 0.5, "valid": 0.5},
    )
    parts = split_tracks(load_tracks(cfg), cfg)
    groups = {name: {t.group for t in part.tracks} for name, part in parts.items()}
    assert groups["train"] and groups["valid"]
    assert not groups["train"] & groups["valid"]


def test_split_lists_and_missing_entries(tmp_path, make_config, speech_music):
    ids = sorted(p.relative_to(speech_music).as_posix() for p in speech_music.rglob("*.wav"))
    (tmp_path / "train.txt").write_text("\n".join(ids[:-2]) + "\n")
    (tmp_path / "valid.txt").write_text("\n".join([*ids[-2:], "music/not-there.wav"]) + "\n")
    lists = {"train": str(tmp_path / "train.txt"), "valid": str(tmp_path / "valid.txt")}
    cfg = make_config(speech_music, tmp_path / "run", split_lists=lists)
    with pytest.raises(DataError, match="not-there"):
        split_tracks(load_tracks(cfg), cfg)
    cfg.split_lists_allow_missing = True
    parts = split_tracks(load_tracks(cfg), cfg)
    assert (len(parts["train"]), len(parts["valid"])) == (len(ids) - 2, 2)


def test_no_validation_split_is_a_clear_error(tmp_path, make_config, speech_music):
    ids = [p.relative_to(speech_music).as_posix() for p in speech_music.rglob("*.wav")]
    (tmp_path / "train.txt").write_text("\n".join(ids) + "\n")
    cfg = make_config(
        speech_music, tmp_path / "run", split_lists={"train": str(tmp_path / "train.txt")}
    )
    with pytest.raises(DataError, match="no 'valid' tracks"):
        split_tracks(load_tracks(cfg), cfg)


def test_corrupt_files_are_skipped_and_reported(tmp_path, make_config, speech_music):
    root = _copy_tree(speech_music, tmp_path / "root")
    (root / "music" / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEgarbage")
    (root / "speech" / "empty.flac").write_bytes(b"")
    cfg = make_config(root, tmp_path / "run", split_fractions={"train": 0.6, "valid": 0.4})
    prepared = prepare_splits(cfg, workers=1)
    failed = sorted(Path(f.path).name for f in prepared.failed)
    assert failed == ["broken.wav", "empty.flac"]
    assert all(f.error for f in prepared.failed)
    kept = {t.path.name for part in prepared.parts.values() for t in part.tracks}
    assert len(kept) == 12 and not kept & set(failed)


def test_every_file_corrupt_is_an_error(tmp_path, make_config):
    for label in ("a", "b"):
        for i in range(3):
            (tmp_path / "root" / label).mkdir(parents=True, exist_ok=True)
            (tmp_path / "root" / label / f"{i}.wav").write_bytes(b"not audio at all")
    cfg = make_config(
        tmp_path / "root", tmp_path / "run", split_fractions={"train": 0.5, "valid": 0.5}
    )
    with pytest.raises(DataError, match="every file of the 'train' split failed"):
        prepare_splits(cfg, workers=1)


def test_a_file_shorter_than_a_clip_is_padded(tmp_path, make_config, speech_music):
    root = _copy_tree(speech_music, tmp_path / "root")
    y, sr = sf.read(root / "music" / sorted(p.name for p in (root / "music").iterdir())[0])
    sf.write(root / "music" / "short.wav", y[: sr // 4], sr)  # 0.25 s, clip is 1 s
    cfg = make_config(root, tmp_path / "run", split_fractions={"train": 0.6, "valid": 0.4})
    prepared = prepare_splits(cfg, workers=1)
    part = next(p for p in prepared.parts.values() if "short" in {t.path.stem for t in p.tracks})
    index = [t.path.stem for t in part.tracks].index("short")
    clips = RepeatedClips(part, duration=1.0)
    x = clips[index]["features"]
    full = RepeatedClips(part, duration=1.0)[(index + 1) % len(part)]["features"]
    assert x.shape == full.shape == (32, 1 + int(1.0 * 22050) // 256)
    # Padding is the clip's own minimum (log-mel silence), not arbitrary values.
    tail = x[:, -10:]
    assert np.allclose(tail.numpy(), float(x.min()))


def test_collate_gives_features_and_targets(tmp_path, make_config, demo_manifest):
    cfg = make_config(demo_manifest, tmp_path / "run")
    part = split_tracks(load_tracks(cfg), cfg)["train"]
    clips = RepeatedClips(part, duration=1.0, repeats=3)
    assert len(clips) == 3 * len(part)
    x, y = collate_clips([clips[i] for i in range(5)])
    assert x.shape == (5, 32, 87) and y.dtype.is_floating_point is False and y.shape == (5,)
