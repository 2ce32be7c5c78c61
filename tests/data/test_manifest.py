"""ManifestDataset: CSV/TSV/JSONL, single- and multi-label, splits, and its error messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from torchmusic.data import ManifestDataset
from torchmusic.errors import DataError

SR = 8000  # the rate the conftest fixtures write at


@pytest.fixture
def audio_dir(tmp_path: Path, write_tone) -> Path:
    for i in range(4):
        write_tone(tmp_path / "audio" / f"t{i}.wav", seconds=0.5, freq=200.0 + 100 * i)
    return tmp_path


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text.strip() + "\n")
    return path


def test_csv_single_label_with_splits(audio_dir: Path) -> None:
    manifest = write_csv(
        audio_dir / "m.csv",
        """
path,genre,split
audio/t0.wav,rock,train
audio/t1.wav,jazz,train
audio/t2.wav,pop,test
audio/t3.wav,rock,test
""",
    )
    ds = ManifestDataset(manifest, label_column="genre", sr=SR)
    assert not ds.multi_label
    assert ds.classes == ["jazz", "pop", "rock"]
    assert [t.track_id for t in ds.tracks] == ["audio/t0", "audio/t1", "audio/t2", "audio/t3"]
    assert ds[1]["label"] == 0 and ds[0]["label"] == 2
    assert ds[0]["waveform"].shape == (SR // 2,)
    assert ds.splits == ["test", "train"]

    test = ds.split("test")
    assert [t.track_id for t in test.tracks] == ["audio/t2", "audio/t3"]
    # Label indices come from all rows, so they agree between splits.
    assert test.classes == ds.classes and test[0]["label"] == 1
    train = ManifestDataset(manifest, label_column="genre", split="train")
    assert len(train) == 2 and train.classes == ds.classes
    with pytest.raises(DataError, match="valid"):
        ds.split("valid")


def test_csv_multi_label_separator(audio_dir: Path) -> None:
    manifest = write_csv(
        audio_dir / "m.csv",
        """
path,tags
audio/t0.wav,rock;live
audio/t1.wav,jazz
audio/t2.wav, rock ; jazz ;
""",
    )
    ds = ManifestDataset(manifest, label_column="tags")
    assert ds.multi_label
    assert ds.classes == ["jazz", "live", "rock"]
    assert ds.tracks[2].labels == ("rock", "jazz")
    assert torch.equal(ds[0]["label"], torch.tensor([0.0, 1.0, 1.0]))
    assert torch.equal(ds[1]["label"], torch.tensor([1.0, 0.0, 0.0]))
    assert torch.equal(ds[2]["label"], torch.tensor([1.0, 0.0, 1.0]))


def test_jsonl_multi_label_lists_absolute_paths_and_groups(audio_dir: Path) -> None:
    rows = [
        {"path": "audio/t0.wav", "labels": ["piano", "voice"], "artist": "A"},
        {"path": str(audio_dir / "audio" / "t1.wav"), "labels": ["piano"], "artist": "B"},
        {"path": "audio/t2.wav", "labels": [], "artist": "A", "track_id": "custom"},
    ]
    manifest = audio_dir / "m.jsonl"
    manifest.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    ds = ManifestDataset(manifest, label_column="labels", group_column="artist")
    assert ds.multi_label and ds.classes == ["piano", "voice"]
    assert torch.equal(ds[0]["label"], torch.tensor([1.0, 1.0]))
    assert torch.equal(ds[2]["label"], torch.tensor([0.0, 0.0]))  # explicit empty list
    assert [t.group for t in ds.tracks] == ["A", "B", "A"]
    assert ds.tracks[2].track_id == "custom"
    assert ds[1]["path"] == str(audio_dir / "audio" / "t1.wav")


def test_jsonl_single_label_and_tsv(audio_dir: Path) -> None:
    manifest = audio_dir / "m.jsonl"
    manifest.write_text(
        '{"path": "audio/t0.wav", "label": "a"}\n{"path": "audio/t1.wav", "label": "b"}\n'
    )
    ds = ManifestDataset(manifest)
    assert not ds.multi_label and [ds[i]["label"] for i in range(2)] == [0, 1]
    tsv = audio_dir / "m.tsv"
    tsv.write_text("path\tlabel\naudio/t0.wav\tx\n")
    assert ManifestDataset(tsv).classes == ["x"]


def test_unlabelled_manifest(audio_dir: Path) -> None:
    manifest = write_csv(audio_dir / "m.csv", "path\naudio/t0.wav\n")
    ds = ManifestDataset(manifest, label_column=None)
    assert "label" not in ds[0] and ds.classes == []


def test_missing_columns(audio_dir: Path) -> None:
    manifest = write_csv(audio_dir / "m.csv", "file,label\naudio/t0.wav,a\n")
    with pytest.raises(DataError, match=r"lacks column\(s\) \['path'\]"):
        ManifestDataset(manifest)
    manifest = write_csv(audio_dir / "m.csv", "path,label\naudio/t0.wav,a\n")
    with pytest.raises(DataError, match="genre"):
        ManifestDataset(manifest, label_column="genre")
    with pytest.raises(DataError, match="'split' column"):
        ManifestDataset(manifest, split="train")


def test_missing_label_value_names_line_and_path(audio_dir: Path) -> None:
    manifest = write_csv(audio_dir / "m.csv", "path,label\naudio/t0.wav,a\naudio/t1.wav,\n")
    with pytest.raises(DataError, match=r"line 3 \(audio/t1\.wav\): missing value"):
        ManifestDataset(manifest)


def test_missing_files_are_all_listed(audio_dir: Path) -> None:
    manifest = write_csv(
        audio_dir / "m.csv", "path,label\naudio/t0.wav,a\naudio/gone1.wav,a\naudio/gone2.wav,b\n"
    )
    with pytest.raises(DataError, match="2 listed file") as info:
        ManifestDataset(manifest)
    assert "gone1.wav" in str(info.value) and "gone2.wav" in str(info.value)
    assert len(ManifestDataset(manifest, check_files=False)) == 3


def test_other_manifest_errors(audio_dir: Path) -> None:
    manifest = write_csv(audio_dir / "m.csv", "path,label\naudio/t0.wav,a;b\n")
    with pytest.raises(DataError, match="multi_label=False"):
        ManifestDataset(manifest, multi_label=False)
    bad = audio_dir / "m.jsonl"
    bad.write_text('{"path": "audio/t0.wav", "label": "a"}\n{not json}\n')
    with pytest.raises(DataError, match="line 2"):
        ManifestDataset(bad)
    dupes = write_csv(audio_dir / "d.csv", "path,label\naudio/t0.wav,a\naudio/t0.wav,b\n")
    with pytest.raises(DataError, match="duplicate track_id"):
        ManifestDataset(dupes)
    with pytest.raises(DataError, match="unknown format"):
        ManifestDataset(write_csv(audio_dir / "m.txt", "path\n"))
