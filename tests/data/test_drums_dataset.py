"""Hydrogen drum-kit dataset: instrument mapping, manifest, kit-disjoint folds."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from torchmusic.data import ManifestDataset
from torchmusic.data.drums import (
    DEFAULT_ROOT,
    DRUM_CLASSES,
    DrumSample,
    full_training_split,
    hydrogen_drum_samples,
    kit_disjoint_splits,
    map_instrument,
    write_drums_manifest,
    write_split_manifest,
)
from torchmusic.errors import DataError, ParameterError

SR = 8000


@pytest.mark.parametrize(
    ("name", "kit", "label"),
    [
        ('Kick (Tama Superstar 22")', None, "kick"),
        ("BassDrum", None, "kick"),
        ("c3 - bass drum 1", None, "kick"),
        ("Snare Roll", None, "snare"),
        ("Pearl Snare Rimshot", None, "snare"),
        ("Sabian Hat Semi-Open", None, "hihat"),
        ("Closed HH 2", None, "hihat"),
        ("Side OHH", None, "hihat"),
        ('Hi-Hat Pedal (Paiste Alpha Metal edge 14")', None, "hihat"),
        ("Floor Tom", None, "tom"),
        ("tomhi2", None, "tom"),
        ('Splash (Paiste Rude 10")', None, "crash"),
        ('Ride Bell (Custom, Zagrebin 22")', None, "ride"),
        ("ride-cup", None, "ride"),
        ("Hand Clap", None, "clap"),
        ("Djembe1 Slap", None, "other_percussion"),
        ("Sangban1 Bell Hit", None, "other_percussion"),
        ("Cowbell", None, "other_percussion"),
        ('Crash/Ride (Paiste Rude Crash/Ride 18")', None, None),
        ("Zap 1", None, None),
        ("FX", None, None),
        ("Stick", None, None),
        ("Finger Snaps", None, None),
        ("17", None, None),
        ("Sample: beats_08-37.flac", None, None),
        ("", None, None),
        ("redo super opaco", "ColomboAcousticDrumkit", "snare"),
        ("redo super opaco", None, None),
        ("Paiste Bell", "The Black Pearl 1.0", "ride"),
    ],
)
def test_map_instrument(name: str, kit: str | None, label: str | None) -> None:
    assert map_instrument(name, kit=kit) == label


def _write_kit(
    root: Path,
    kit: str,
    instruments: dict[str, list[str]],
    *,
    ns: bool = True,
    licence: str = "GPL",
) -> Path:
    """A tiny Hydrogen kit: drumkit.xml plus one short noise burst per named file."""
    folder = root / kit
    folder.mkdir(parents=True)
    rng = np.random.default_rng(len(kit))
    xml_instruments = []
    for name, files in instruments.items():
        layers = "".join(f"<layer><filename>{f}</filename></layer>" for f in files)
        xml_instruments.append(f"<instrument><name>{name}</name>{layers}</instrument>")
        for f in files:
            if not (folder / f).exists() and f != "missing.wav":
                y = np.zeros(SR // 2) if f == "empty.wav" else 0.3 * rng.standard_normal(SR // 2)
                sf.write(folder / f, y, SR)
    xmlns = ' xmlns="http://www.hydrogen-music.org/drumkit"' if ns else ""
    (folder / "drumkit.xml").write_text(
        f"<drumkit_info{xmlns}><name>{kit}</name><license>{licence}</license>"
        f"<instrumentList>{''.join(xml_instruments)}</instrumentList></drumkit_info>"
    )
    return folder


@pytest.fixture
def kits(tmp_path: Path) -> Path:
    root = tmp_path / "drumkits"
    _write_kit(
        root,
        "KitA",
        {
            "Kick": ["k1.wav", "k2.wav"],
            "Tom Hi": ["t.wav"],
            "Tom Mid": ["t.wav"],  # shared file, same class: kept once
            "Snare": ["s.wav", "missing.wav"],
            "Closed HH": ["x.wav"],
            "Crash": ["x.wav"],  # shared file, different class: dropped
            "FX": ["fx.wav"],
        },
    )
    _write_kit(
        root,
        "KitB",
        {"Kick": ["k.wav"], "Snare": ["s.wav"], "Pedal HH": ["empty.wav"]},
        ns=False,
        licence="CC0 please",
    )
    _write_kit(root, "KitC", {"BassDrum": ["b.wav"], "Snare": ["s.wav"]})
    return root


def test_samples_dedup_and_licence_fallback(kits: Path) -> None:
    samples = hydrogen_drum_samples(kits, copyright_file=None)
    got = {(s.kit, s.path.name): s.label for s in samples}
    assert got == {
        ("KitA", "k1.wav"): "kick",
        ("KitA", "k2.wav"): "kick",
        ("KitA", "t.wav"): "tom",
        ("KitA", "s.wav"): "snare",
        ("KitB", "k.wav"): "kick",
        ("KitB", "s.wav"): "snare",
        ("KitB", "empty.wav"): "hihat",
        ("KitC", "b.wav"): "kick",
        ("KitC", "s.wav"): "snare",
    }
    assert {s.license for s in samples if s.kit == "KitB"} == {"CC0 please"}
    assert all(s.path.is_absolute() for s in samples)


def test_debian_copyright_licence(kits: Path, tmp_path: Path) -> None:
    copyright_file = tmp_path / "copyright"
    copyright_file.write_text(
        "Format: x\n\nFiles:\n drumkits/KitA.h2drumkit\n drumkits/Kit?B.h2drumkit\n"
        "Copyright: someone\nLicense: GPL-2+\n\nFiles: drumkits/KitB.h2drumkit\nLicense: CC0\n"
    )
    samples = hydrogen_drum_samples(kits, copyright_file=copyright_file)
    assert {s.kit: s.license for s in samples} == {"KitA": "GPL-2+", "KitB": "CC0", "KitC": "GPL"}


def test_missing_root_names_package(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="hydrogen-drumkits") as err:
        hydrogen_drum_samples(tmp_path / "nope")
    assert "nope" in str(err.value)
    with pytest.raises(DataError, match=r"drumkit\.xml"):
        hydrogen_drum_samples(tmp_path)


def test_bad_xml(tmp_path: Path) -> None:
    (tmp_path / "K").mkdir()
    (tmp_path / "K" / "drumkit.xml").write_text("<drumkit_info><name>")
    with pytest.raises(DataError, match="not valid XML"):
        hydrogen_drum_samples(tmp_path)


def test_manifest_clips_and_dataset(kits: Path, tmp_path: Path) -> None:
    manifest = write_drums_manifest(tmp_path / "out", root=kits, seconds=1.0, sr=SR)
    ds = ManifestDataset(manifest, label_column="label", group_column="kit")
    # the silent sample (KitB's empty.wav) is skipped
    assert len(ds) == 8
    assert set(ds.classes) <= set(DRUM_CLASSES)
    assert {t.group for t in ds.tracks} == {"KitA", "KitB", "KitC"}
    for t in ds.tracks:
        y, sr = sf.read(t.path)
        assert sr == SR and y.shape == (SR,)  # 0.5 s files zero-padded to 1 s
        assert np.abs(y[: SR // 2]).max() > 0 and not np.any(y[SR // 2 + 10 :])


def test_manifest_bad_seconds(kits: Path, tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="seconds"):
        write_drums_manifest(tmp_path, root=kits, seconds=0)


def _samples(sizes: dict[str, int]) -> list[DrumSample]:
    labels = list(DRUM_CLASSES)
    return [
        DrumSample(Path(f"/{k}/{i}.wav"), labels[i % len(labels)], k, "x", "GPL")
        for k, n in sizes.items()
        for i in range(n)
    ]


def test_kit_disjoint_splits() -> None:
    sizes = {"a": 50, "b": 40, "c": 30, "d": 20, "e": 10, "f": 5, "g": 3}
    folds = kit_disjoint_splits(_samples(sizes), n_splits=3, seed=1)
    assert len(folds) == 3
    tested = Counter(k for f in folds for k in f.test_kits)
    assert tested == Counter(dict.fromkeys(sizes, 1))  # every kit tested exactly once
    for f in folds:
        parts = [set(f.train_kits), set(f.valid_kits), set(f.test_kits)]
        assert set().union(*parts) == set(sizes)
        assert sum(map(len, parts)) == len(sizes)  # pairwise disjoint
        assert len(f.valid_kits) == 1
        assert f.split_of(f.test_kits[0]) == "test"
    fold_sizes = sorted(sum(sizes[k] for k in f.test_kits) for f in folds)
    assert fold_sizes[-1] - fold_sizes[0] <= 20  # greedy balancing
    assert folds == kit_disjoint_splits(_samples(sizes), n_splits=3, seed=1)


def test_kit_disjoint_splits_errors() -> None:
    with pytest.raises(ParameterError, match="at least 3 kits"):
        kit_disjoint_splits(["a", "b"], n_splits=3)
    with pytest.raises(ParameterError, match="n_splits"):
        kit_disjoint_splits(["a", "b"], n_splits=1)
    with pytest.raises(ParameterError, match="none to train"):
        kit_disjoint_splits(["a", "b"], n_splits=2, n_valid_kits=1)


def test_split_manifest(kits: Path, tmp_path: Path) -> None:
    manifest = write_drums_manifest(tmp_path / "out", root=kits, sr=SR)
    fold = kit_disjoint_splits(["KitA", "KitB", "KitC"], n_splits=3, n_valid_kits=1)[0]
    path = write_split_manifest(manifest, fold)
    test = ManifestDataset(path, split="test", group_column="kit")
    train = ManifestDataset(path, split="train", group_column="kit")
    assert {t.group for t in test.tracks} == set(fold.test_kits)
    assert {t.group for t in train.tracks} == set(fold.train_kits)
    assert test.classes == train.classes  # shared vocabulary across splits


@pytest.mark.skipif(not DEFAULT_ROOT.is_dir(), reason="Debian package hydrogen-drumkits absent")
def test_real_hydrogen_kits() -> None:
    samples = hydrogen_drum_samples()
    kits = {s.kit for s in samples}
    assert len(kits) >= 10 and len(samples) > 400
    assert {s.label for s in samples} == set(DRUM_CLASSES)
    assert all(s.license != "unknown" for s in samples)
    assert len({s.path for s in samples}) == len(samples)
    folds = kit_disjoint_splits(samples, n_splits=3)
    assert Counter(k for f in folds for k in f.test_kits) == Counter(dict.fromkeys(kits, 1))


def test_split_manifest_balanced(kits: Path, tmp_path: Path) -> None:
    manifest = write_drums_manifest(tmp_path / "out", root=kits, sr=SR)
    fold = kit_disjoint_splits(["KitA", "KitB", "KitC"], n_splits=3, n_valid_kits=1)[0]
    plain = ManifestDataset(write_split_manifest(manifest, fold), group_column="kit")
    path = write_split_manifest(manifest, fold, balance_train=True, name="balanced.csv")
    train = ManifestDataset(path, split="train", group_column="kit")
    counts = Counter(t.label for t in train.tracks)
    assert len(train) > len(plain.split("train"))  # KitA's tom and snare were repeated
    assert len(set(counts.values())) == 1  # every class as large as the largest
    assert len({t.track_id for t in train.tracks}) == len(train)
    assert {t.path for t in train.tracks} == {t.path for t in plain.split("train").tracks}
    for other in ("valid", "test"):  # never repeated outside training
        assert len(ManifestDataset(path, split=other).tracks) == len(plain.split(other).tracks)


def test_full_training_split() -> None:
    samples = _samples({"big": 40, "small": 8, "tiny": 3})  # tiny covers only 3 classes
    split = full_training_split(samples)
    assert split.valid_kits == ("small",)  # all 8 classes, fewer samples than "big"
    assert split.train_kits == ("big", "tiny") and split.test_kits == ()
    with pytest.raises(ParameterError, match="n_valid_kits"):
        full_training_split(samples, n_valid_kits=3)


def test_cli_build_drums(kits: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import csv

    from torchmusic.cli.main import main

    out = tmp_path / "ds"
    assert main(["datasets", "build", "drums", "--out", str(out), "--kits", str(kits)]) == 0
    assert "from 3 kits" in capsys.readouterr().out
    for i in range(3):
        rows = list(csv.DictReader((out / "drums" / f"drums_fold{i}.csv").open()))
        test_kits = {r["kit"] for r in rows if r["split"] == "test"}
        train_kits = {r["kit"] for r in rows if r["split"] == "train"}
        assert len(test_kits) == 1 and not test_kits & train_kits
        assert all((out / "drums" / r["path"]).is_file() for r in rows)
    argv = ["datasets", "build", "drums", "--out", str(out), "--kits", str(kits), "--folds", "1"]
    assert main(argv) != 0
    assert "--folds 1: need at least 2" in capsys.readouterr().err
