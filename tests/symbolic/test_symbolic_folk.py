"""The folk corpus: labels from ABC headers, the build, resume, bad tunes, metadata."""

from __future__ import annotations

import csv
import json

import pytest

from torchmusic.errors import DataError, ParameterError
from torchmusic.symbolic import METADATA_COLUMNS, build_folk_corpus, load_folk_metadata, read_midi
from torchmusic.symbolic.folk import STATE_FILE, _build_one
from torchmusic.symbolic.folk_meta import (
    TuneRef,
    clean_title,
    dance_type,
    essen_genre,
    essen_region,
    header,
    normalise_meter,
    oneills_section,
    scan_collection,
    subset,
)

DANCE_TYPES = {"reel", "jig", "slip_jig", "hornpipe", "strathspey", "fling", "march", "waltz",
               "polka", "slide", "set_dance", "minuet", "gavotte", "air", "other"}  # fmt: skip
SONG_TYPES = {"song", "ballad", "love_song", "religious", "children", "dance", "lullaby",
              "work_song"}  # fmt: skip


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("reel", "reel"),
        ("Acacia -- Reel", "reel"),
        ("slipjig", "slip_jig"),
        ("Slip Jig", "slip_jig"),
        ("double jig", "jig"),
        ("The Shaskeen Clog", "hornpipe"),
        ("Quick Step. 25th Regt.", "march"),
        ("Highland Fling", "fling"),
        ("Miss Gordon's Strathspey", "strathspey"),
        ("The Reel of Tulloch -- a strathspey", "reel"),  # the first named wins
        ("Jackson's Cravat", None),
        ("Reeling Home", None),  # a word boundary, not a substring
    ],
)
def test_dance_type(text, want):
    assert dance_type(text) == want


def test_other_labels():
    assert essen_genre("Romanze, Ballade, Lied") == "ballad"
    assert essen_genre("Ballade, Adelige als Dienstmagd, Tod; Kinder - Spiel, Tanz") == "ballad"
    assert essen_genre("Liebes - Lied") == "love_song" and essen_genre("???") == "song"
    assert essen_region("Europa, Mitteleuropa, Deutschland") == "germany"
    assert essen_region("Mitteleuropa, Deutschland / Frankreich, Lothringen") == "germany"
    assert (
        essen_region("Lothringen") == "lorraine"
        and essen_region("Europa, Mitteleuropa, Tirol") == "austria"
    )
    assert essen_region("Atlantis") == "other"
    assert [normalise_meter(m) for m in ("C|", "C", "none", "", "FREI4/4", "9/8 % x", "2/2]")] == [
        "2/2", "4/4", "free", "free", "4/4", "9/8", "2/2",
    ]  # fmt: skip
    assert [oneills_section(n) for n in (1, 731, 1120, 1300, 1600, 1790, 1850, 2000)] == [
        "air", "jig", "slip_jig", "reel", "hornpipe", "set_dance", "march", None,
    ]  # fmt: skip
    assert clean_title("FIRST OF JUNE, THE.") == "The First Of June"
    assert header("X:3\nT:A\nT:B\nM:6/8 % c\nK:G\nT:not header\n") == {
        "X": ["3"], "T": ["A", "B"], "M": ["6/8"], "K": ["G"],
    }  # fmt: skip


def test_scan_dedupes_oneills_second_transcriptions_and_subsets_evenly():
    tunes = scan_collection("oneills")
    numbers = [int(t.number) for t in tunes if t.number.isdigit()]
    assert 1800 < len(tunes) <= 1850
    assert numbers.count(732) == 1 and numbers.count(1116) == 1  # _bs/_mh, _mh/_ml copies
    assert len({t.name for t in tunes}) == len(tunes)
    picked = subset(tunes, 5)
    assert len(picked) == 5 and picked[0] is tunes[0] and int(picked[-1].number) > 1400
    with pytest.raises(ParameterError, match="unknown folk collection 'nope'"):
        scan_collection("nope")


def test_built_corpus_files_and_metadata(folk_dir):
    rows = load_folk_metadata(folk_dir)
    with open(folk_dir / "metadata.csv", newline="") as f:
        assert tuple(csv.DictReader(f).fieldnames) == METADATA_COLUMNS
    assert len(rows) == 12
    assert {r["collection"] for r in rows} == {"essen", "oneills", "ryans", "aird"}
    for row in rows:
        score = read_midi(folk_dir / row["path"])
        assert score.note_num() == row["n_notes"] > 0
        assert row["path"] == f"midi/{row['collection']}/" + row["path"].split("/")[-1]
        types = SONG_TYPES if row["collection"] == "essen" else DANCE_TYPES
        assert row["tune_type"] in types
        assert row["region"] and row["meter"] and row["key"] and row["title"]
    # Stratified: every collection of three tunes has one tune in each split.
    for collection in ("essen", "oneills", "ryans", "aird"):
        splits = sorted(r["split"] for r in rows if r["collection"] == collection)
        assert splits == ["test", "train", "valid"], collection
    assert {r["region"] for r in rows if r["collection"] == "oneills"} == {"ireland"}
    readme = (folk_dir / "README.md").read_text()
    assert "12 tunes" in readme and "non-commercial" in readme
    assert sorted(p.relative_to(folk_dir).as_posix() for p in (folk_dir / "midi").rglob("*")
                  if p.is_file()) == sorted(r["path"] for r in rows)  # fmt: skip


def test_resume_reparses_only_missing_files(tmp_path):
    out = tmp_path / "folk"
    first = build_folk_corpus(out, collections="essen,aird", limit=2, workers=1, progress=False)
    assert (first.parsed, first.resumed, first.written) == (4, 0, 4)
    rows = load_folk_metadata(out)
    (out / rows[0]["path"]).unlink()
    again = build_folk_corpus(
        out, collections=["essen", "aird"], limit=2, workers=1, progress=False
    )
    assert (again.parsed, again.resumed, again.written) == (1, 3, 4)
    assert load_folk_metadata(out) == rows  # same files, labels and splits
    assert "4 tunes written" in again.summary()


def test_parallel_build_matches_serial(tmp_path):
    serial = build_folk_corpus(
        tmp_path / "a", collections="ryans", limit=4, workers=1, progress=False
    )
    parallel = build_folk_corpus(
        tmp_path / "b", collections="ryans", limit=4, workers=2, progress=False
    )
    assert serial.counts == parallel.counts
    assert load_folk_metadata(tmp_path / "a") == load_folk_metadata(tmp_path / "b")


def test_unparsable_tune_is_skipped_with_a_reason(tmp_path):
    tune = TuneRef("aird", "airdsAirs/x.abc#1", "x_0001", "1", "Broken", "reel", "scotland", "2/2",
                   "X:1\nT:Broken\nK:G\n% no notes at all\n")  # fmt: skip
    record = _build_one((tune, str(tmp_path)))
    assert record["ok"] is False and record["reason"].startswith("unparsable:")
    assert "no notes" in record["reason"]
    assert not (tmp_path / "midi").exists() or not list((tmp_path / "midi").rglob("*.mid"))
    json.dumps(record)  # goes into the resume file


def test_duplicates_and_failures_from_the_state_file_are_reported(tmp_path):
    out = tmp_path / "folk"
    build_folk_corpus(out, collections="essen", limit=3, workers=1, progress=False)
    lines = [json.loads(s) for s in (out / STATE_FILE).read_text().splitlines()]
    # Pretend the second tune failed last time and the third has the first's notes.
    lines[1] = {**lines[1], "ok": False, "reason": "unparsable: ABCTokenException: bad"}
    lines[2] = {**lines[2], "notes": lines[0]["notes"]}
    (out / STATE_FILE).write_text("".join(json.dumps(r) + "\n" for r in lines) + '{"torn li')
    report = build_folk_corpus(out, collections="essen", limit=3, workers=1, progress=False)
    assert report.parsed == 0 and report.written == 1
    reasons = dict(report.skipped)
    assert reasons[lines[1]["source"]].startswith("unparsable")
    assert reasons[lines[2]["source"]] == f"duplicate of {lines[0]['source']}"
    assert len(list((out / "midi").rglob("*.mid"))) == 1  # the skipped tunes' files are gone
    assert "skipped: unparsable 1, duplicate 1" in report.summary()


def test_bad_arguments_and_missing_metadata(tmp_path):
    with pytest.raises(ParameterError, match="expected a subset of essen, oneills, ryans, aird"):
        build_folk_corpus(tmp_path, collections="essen,bach")
    with pytest.raises(ParameterError, match="limit"):
        build_folk_corpus(tmp_path, limit=0)
    with pytest.raises(DataError, match="datasets build folk"):
        load_folk_metadata(tmp_path)
    (tmp_path / "metadata.csv").write_text("path,title\nx.mid,X\n")
    with pytest.raises(DataError, match="lacks column"):
        load_folk_metadata(tmp_path)
