"""Tests of the demo corpus builder (tiny builds: 2 clips per class, 3 s each)."""

from __future__ import annotations

import collections
import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from torchmusic.audio import fluidsynth as render_module
from torchmusic.data.demo import (
    GM_PROGRAM_NAMES,
    INSTRUMENT_FAMILIES,
    MANIFEST_COLUMNS,
    build_demo_corpus,
    find_soundfont,
    program_family,
)
from torchmusic.data.demo import build as build_module
from torchmusic.data.demo.instruments import octave_shift
from torchmusic.data.demo.midi import write_midi
from torchmusic.data.demo.plan import plan_slots
from torchmusic.data.demo.tunes import TUNE_TYPES, Tune, classify, scan_tunes, tune_notes
from torchmusic.errors import DataError, DependencyError, ParameterError

FOUR = ("reel", "jig", "hornpipe", "strathspey")
SMALL = {"per_class": 2, "tune_types": FOUR, "clip_seconds": 3.0, "workers": 2, "progress": False}


def _have_renderer() -> bool:
    try:
        render_module.find_fluidsynth()
        find_soundfont()
    except DependencyError:
        return False
    return True


needs_renderer = pytest.mark.skipif(
    not _have_renderer(),
    reason="needs `fluidsynth` and a GM soundfont (apt-get install fluidsynth timgm6mb-soundfont)",
)


def _rows(manifest: Path) -> list[dict[str, str]]:
    with open(manifest, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not _have_renderer():
        pytest.skip("needs fluidsynth and a GM soundfont")
    return build_demo_corpus(tmp_path_factory.mktemp("demo") / "corpus", seed=0, **SMALL)


# -- the build -------------------------------------------------------------------------


@needs_renderer
def test_manifest_has_columns_counts_and_labels(small: Path) -> None:
    rows = _rows(small)
    assert small.name == "manifest.csv"
    assert set(MANIFEST_COLUMNS) <= set(rows[0])
    assert collections.Counter(r["tune_type"] for r in rows) == dict.fromkeys(FOUR, 2)
    for row in rows:
        program = int(row["program"])
        assert row["instrument"] == GM_PROGRAM_NAMES[program]
        assert row["instrument_family"] == program_family(program)
        assert row["split"] in {"train", "valid", "test"}
        assert not Path(row["path"]).is_absolute()
        assert (small.parent / row["path"]).is_file()
        assert row["meter"] in TUNE_TYPES[row["tune_type"]].meters
        assert float(row["duration_s"]) == pytest.approx(3.0)
    assert len({r["source"] for r in rows}) == len(rows)  # no tune twice

    info = json.loads((small.parent / "corpus.json").read_text())
    assert info["tracks"] == 8
    assert info["counts"]["tune_type"] == dict.fromkeys(sorted(FOUR), 2)
    assert info["settings"]["seed"] == 0
    assert info["skipped_tunes"]["count"] == len(info["skipped_tunes"]["tunes"])
    assert "licence" in info["soundfont"]
    assert "Licences" in (small.parent / "README.md").read_text()


@needs_renderer
def test_clips_are_22050_hz_mono_pcm16_and_not_silent(small: Path) -> None:
    for row in _rows(small):
        path = small.parent / row["path"]
        info = sf.info(path)
        assert (info.samplerate, info.channels, info.subtype) == (22050, 1, "PCM_16")
        audio, _ = sf.read(path, dtype="float32")
        assert len(audio) == 3 * 22050
        assert np.sqrt(np.mean(audio**2)) > 0.01, row["path"]
        assert np.abs(audio).max() == pytest.approx(10 ** (-1 / 20), abs=1e-3)


# ~30 s on 2 CPU cores (two more corpus builds); the plan's determinism is tested fast below.
@pytest.mark.slow
@needs_renderer
def test_same_seed_same_corpus_other_seed_differs(small: Path, tmp_path: Path) -> None:
    again = build_demo_corpus(tmp_path / "again", seed=0, **SMALL)
    assert again.read_bytes() == small.read_bytes()
    for row in _rows(small):
        clip = row["path"]
        assert (again.parent / clip).read_bytes() == (small.parent / clip).read_bytes()

    other = build_demo_corpus(tmp_path / "other", seed=1, **SMALL)
    assert other.read_bytes() != small.read_bytes()
    assert {r["source"] for r in _rows(other)} != {r["source"] for r in _rows(small)}


@needs_renderer
def test_rebuild_renders_only_missing_clips(small: Path, tmp_path: Path) -> None:
    corpus = tmp_path / "copy"
    shutil.copytree(small.parent, corpus)
    paths = [corpus / r["path"] for r in _rows(small)]
    original = paths[3].read_bytes()
    paths[3].unlink()
    before = {p: p.stat().st_mtime_ns for p in paths if p.exists()}

    manifest = build_demo_corpus(corpus, seed=0, **SMALL)
    assert manifest.read_bytes() == small.read_bytes()
    assert paths[3].read_bytes() == original
    assert {p: p.stat().st_mtime_ns for p in before} == before

    # A finished corpus is not touched at all.
    before = {p: p.stat().st_mtime_ns for p in paths}
    build_demo_corpus(corpus, seed=0, **SMALL)
    assert {p: p.stat().st_mtime_ns for p in paths} == before

    # Other settings replace the corpus, clips of the old one included.
    smaller = build_demo_corpus(corpus, seed=0, **{**SMALL, "per_class": 1})
    kept = {r["path"] for r in _rows(smaller)}
    assert len(kept) == 4
    assert {p.relative_to(corpus).as_posix() for p in corpus.glob("audio/*/*")} == kept


def _tune(title: str, body: str) -> Tune:
    abc = f"X:1\nT:{title}\nM:C|\nL:1/8\nR:reel\nK:D\n{body}\n"
    return Tune("test", f"test/{title}.abc#1", title, "reel", "C|", abc)


@needs_renderer
def test_unparseable_tunes_are_skipped_and_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = _tune("Broken", "")  # no notes at all
    good = [_tune(f"Good {i}", "|:DFAF dFAF|GBdB AFED:|") for i in range(2)]
    monkeypatch.setattr(build_module, "scan_tunes", lambda: [broken, *good])
    monkeypatch.setattr(build_module, "tune_order", lambda n, **_: list(range(n)))
    options = {"tune_types": ["reel"], "clip_seconds": 2.0, "workers": 1, "progress": False}

    manifest = build_demo_corpus(tmp_path / "c", per_class=2, **options)
    assert sorted(r["title"] for r in _rows(manifest)) == ["Good 0", "Good 1"]
    skipped = json.loads((tmp_path / "c" / "corpus.json").read_text())["skipped_tunes"]
    assert skipped["count"] == 1
    assert skipped["tunes"][0]["source"] == "test/Broken.abc#1"

    monkeypatch.setattr(build_module, "scan_tunes", lambda: [broken, broken, good[0]])
    with pytest.raises(DataError, match="could be parsed"):
        build_demo_corpus(tmp_path / "d", per_class=2, **options)


# -- errors ----------------------------------------------------------------------------


def test_missing_fluidsynth_names_the_apt_packages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no fluidsynth
    with pytest.raises(DependencyError, match=r"apt-get install fluidsynth") as err:
        build_demo_corpus(tmp_path / "out", per_class=2, progress=False)
    assert "timgm6mb-soundfont" in str(err.value) and "fluid-soundfont-gm" in str(err.value)
    assert not (tmp_path / "out").exists()


def test_missing_soundfont_names_the_apt_packages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(render_module.SOUNDFONT_ENV, raising=False)
    monkeypatch.setattr(render_module, "SOUNDFONT_DIR", tmp_path)
    with pytest.raises(DependencyError, match=r"apt-get install fluidsynth timgm6mb-soundfont"):
        find_soundfont()
    monkeypatch.setenv(render_module.SOUNDFONT_ENV, str(tmp_path / "nope.sf2"))
    with pytest.raises(DependencyError, match=r"nope\.sf2"):
        find_soundfont()
    with pytest.raises(ParameterError, match=r"missing\.sf2"):
        find_soundfont(tmp_path / "missing.sf2")
    fake = tmp_path / "mine.sf2"
    fake.write_bytes(b"RIFF")  # not a SoundFont: refused, not silently replaced
    monkeypatch.setenv(render_module.SOUNDFONT_ENV, str(fake))
    with pytest.raises(ParameterError, match=r"mine\.sf2.*not a SoundFont"):
        find_soundfont()
    fake.write_bytes(b"RIFF" + (4).to_bytes(4, "little") + b"sfbk")
    assert find_soundfont() == fake.resolve()


@pytest.mark.parametrize(
    "bad",
    [
        {"per_class": 0},
        {"per_class": 2.5},
        {"tune_types": ["polka"]},
        {"tune_types": ["reel", "reel"]},
        {"sample_rate": 1000},
        {"clip_seconds": 0},
        {"workers": 0},
    ],
)
def test_invalid_arguments_raise_parameter_error(tmp_path: Path, bad: dict) -> None:
    with pytest.raises(ParameterError):
        build_demo_corpus(tmp_path, progress=False, **bad)


@needs_renderer
def test_per_class_above_available_tunes_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="strathspey tunes are available"):
        build_demo_corpus(tmp_path, per_class=10_000, tune_types=["strathspey"], progress=False)


# -- parts -----------------------------------------------------------------------------


def test_scan_finds_enough_tunes_of_every_type() -> None:
    counts = collections.Counter(t.tune_type for t in scan_tunes())
    assert set(counts) == set(TUNE_TYPES)
    assert min(counts.values()) >= 60


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"R": "double jig", "M": "6/8"}, "jig"),
        ({"R": "jig", "M": "9/8"}, "slip_jig"),  # Ryan's calls slip jigs "jig"
        ({"R": "slipjig", "M": "9/8"}, "slip_jig"),
        ({"R": "reel", "M": "6/8"}, None),  # metre disagrees
        ({"R": "reel", "M": "2/4", "L": "1/8"}, None),  # 2/4 bar = half a reel bar
        ({"R": "reel", "M": "2/4", "L": "1/16"}, "reel"),
        ({"R": "clog", "M": "C|", "T": "A Reel"}, None),  # R: wins over the title
        ({"T": "Miss Gordon's Strathspey", "M": "C"}, "strathspey"),
        ({"T": "The Reel Hornpipe", "M": "C"}, None),  # ambiguous title
    ],
)
def test_classify(fields: dict[str, str], expected: str | None) -> None:
    assert classify(fields) == expected


def test_tune_notes_expands_repeats_and_marks_downbeats() -> None:
    parsed = tune_notes("X:1\nT:t\nM:2/4\nL:1/8\nK:C\n|:CDEF|GABc:|\n|:cdef|gabc:|\n")
    assert parsed.bar_length == 2.0
    assert parsed.length == 16.0  # 8 bars of 2/4 with the repeats played
    assert len(parsed.notes) == 32
    assert [n[3] for n in parsed.notes[:4]] == [2, 0, 1, 0]
    assert parsed.notes[8][:3] == (4.0, 0.5, (60,))  # the repeat starts again on C4
    assert parsed.notes[16][2] == (72,)
    two_bars = tune_notes("X:1\nT:t\nM:2/4\nL:1/8\nK:C\nCDEF|GABc|]\n")
    assert two_bars.length == 4.0 and len(two_bars.notes) == 8
    with pytest.raises(ValueError, match="no notes"):
        tune_notes("X:1\nT:t\nM:2/4\nL:1/8\nK:C\n")


def test_plan_balances_families_and_splits() -> None:
    slots = plan_slots(list(TUNE_TYPES), per_class=50, seed=0)
    assert slots == plan_slots(list(TUNE_TYPES), per_class=50, seed=0)
    assert slots != plan_slots(list(TUNE_TYPES), per_class=50, seed=1)
    totals = collections.Counter(s.family for s in slots)
    assert set(totals) == set(INSTRUMENT_FAMILIES)
    assert max(totals.values()) - min(totals.values()) <= 1
    for tune_type in TUNE_TYPES:
        mine = [s for s in slots if s.tune_type == tune_type]
        per_family = collections.Counter(s.family for s in mine).values()
        assert max(per_family) - min(per_family) <= 1
        assert collections.Counter(s.split for s in mine) == {"train": 34, "valid": 8, "test": 8}
        assert all(0.92 <= s.tempo_scale <= 1.08 for s in mine)
        assert all(s.program in INSTRUMENT_FAMILIES[s.family] for s in mine)


def test_octave_shift_keeps_tunes_under_the_instrument_top() -> None:
    assert octave_shift(86, 42) == -12  # cello
    assert octave_shift(80, 42) == 0
    assert octave_shift(99, 70) == -24  # bassoon
    assert octave_shift(99, 40) == 0  # violin: no limit


def test_write_midi_round_trips_through_music21(tmp_path: Path) -> None:
    from music21 import converter

    notes = [(0.0, 1.0, (60,), 90), (1.0, 0.5, (64, 67), 80), (1.5, 0.5, (72,), 70)]
    path = write_midi(tmp_path / "a.mid", notes, quarter_bpm=150, program=40)
    score = converter.parse(path)
    pitches = [tuple(p.midi for p in n.pitches) for n in score.flatten().notes]
    assert pitches == [(60,), (64, 67), (72,)]
    assert score.flatten().getElementsByClass("MetronomeMark")[0].number == 150
    instrument = score.flatten().getElementsByClass("Instrument")[0]
    assert instrument.midiProgram == 40
    with pytest.raises(ParameterError):
        write_midi(tmp_path / "b.mid", notes, quarter_bpm=0, program=0)
