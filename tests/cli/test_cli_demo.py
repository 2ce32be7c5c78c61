"""``torchmusic demo`` (corpus -> features -> train -> evaluate -> predict) and ``torchmusic datasets build demo`` end to end (tiny size)."""

from __future__ import annotations

import csv
import re

from torchmusic.cli.main import main


def test_demo_main_job_builds_corpus_and_features(tmp_path, capsys):
    out = tmp_path / "demo"
    args = ["demo", "--out", str(out), "--per-class", "4", "--workers", "1", "--no-progress"]
    args += ["--epochs", "1"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "Tracks per tune type and split" in text and "Instrument families" in text
    # Trained, evaluated on the test split, and predicted held-out tracks.
    assert (out / "run" / "model.safetensors").is_file()
    assert (out / "eval" / "report.json").is_file()
    assert "[5/10] predictions" in text and "true tune type" in text
    # New drum hits from the shipped drum-gan, labelled by the shipped drums classifier.
    assert "[10/10] new drum hits" in text and "drums classifier says" in text
    hits = sorted(p.name for p in (out / "drum_hits").glob("*.wav"))
    assert hits == [f"{k}-{i}.wav" for k in ("hihat", "kick", "snare") for i in (0, 1)]
    # A catalog of the corpus with neighbours of a few tracks, and generated tunes.
    assert (out / "catalog").is_dir() and "same label as the query" in text
    assert text.count("\nquery #") == 3
    # The shipped encoder's neighbours next to the MFCC baseline's, counted over every track.
    assert (out / "catalog-mfcc").is_dir() and "sharing the query's label" in text
    rows = re.findall(r"^(music-embed|mfcc)\s+(\d\.\d\d) / 5\s+(\d\.\d\d) / 5", text, re.M)
    assert [r[0] for r in rows] == ["music-embed", "mfcc"]
    assert all(0 <= float(v) <= 5 for r in rows for v in r[1:])
    mids = sorted((out / "generated").rglob("*.mid"))
    assert [m.parent.name for m in mids] == ["hornpipe", "jig", "reel"]
    with open(out / "corpus" / "manifest.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4 * len({r["tune_type"] for r in rows}) >= 16
    files, computed, reused, failed = _feature_row(text)
    assert (files, computed, reused, failed) == (len(rows), len(rows), 0, 0)
    # A second run resumes: every feature comes from the cache.
    assert main(args) == 0
    second = capsys.readouterr().out
    assert _feature_row(second) == (len(rows), 0, len(rows), 0)
    assert "reusing the trained model" in second


def _feature_row(text: str) -> tuple[int, int, int, int]:
    """(files, computed, reused, failed) from the summary's Features table."""
    match = re.search(r"logmel\s+\(96, 1292\) x\d+\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", text)
    assert match, text
    return tuple(int(g) for g in match.groups())  # type: ignore[return-value]


def test_datasets_build_demo_without_fluidsynth_names_apt_packages(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))  # no fluidsynth on PATH
    code = main(["datasets", "build", "demo", "--out", str(tmp_path / "c"), "--no-progress"])
    assert code == 1
    err = capsys.readouterr().err
    assert "apt-get install" in err and "fluidsynth" in err
