"""Tests of the music21-corpus render builder (two short Bach chorales, 4 s windows)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from torchmusic.audio import fluidsynth as render_module
from torchmusic.data import renders
from torchmusic.errors import DependencyError, ParameterError

PIECES = ("bach/bwv66.6.mxl", "bach/bwv7.7.mxl")


def _soundfont() -> str | None:
    try:
        render_module.find_fluidsynth()
        return str(render_module.find_soundfont())
    except DependencyError:
        return None


needs_renderer = pytest.mark.skipif(
    _soundfont() is None,
    reason="needs `fluidsynth` and a GM soundfont (apt-get install fluidsynth timgm6mb-soundfont)",
)


def _rows(manifest: Path) -> list[dict[str, str]]:
    with open(manifest, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture()
def two_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    """Restrict the corpus to two short chorales and one broken file."""
    real = renders.corpus_pieces

    def few(collections=None):
        keep = [p for p in real(["bach"]) if p[1] in PIECES]
        assert len(keep) == 2, keep
        return [*keep, ("bach", "bach/broken.mxl", "/nonexistent/broken.mxl")]

    monkeypatch.setattr(renders, "corpus_pieces", few)


def test_corpus_pieces_leave_out_the_demo_collections() -> None:
    pieces = renders.corpus_pieces()
    collections = {c for c, _, _ in pieces}
    assert not collections & set(renders.EXCLUDED_COLLECTIONS)
    assert {"bach", "trecento", "monteverdi"} <= collections
    assert "palestrina" not in collections  # every file carries the Humdrum rights notice
    assert all(Path(path).is_file() for _, _, path in pieces[:20])
    assert not [p for _, p, _ in pieces if p.endswith(".rntxt")]  # analyses restate scores


def test_files_reserving_derivative_formats_are_never_rendered(tmp_path: Path) -> None:
    restricted = tmp_path / "a.krn"
    restricted.write_text(
        "**kern\n4c\n*-\n!!!YEM: Rights to all derivative electronic formats reserved.\n"
    )
    free = tmp_path / "b.krn"
    free.write_text("**kern\n4c\n*-\n")
    assert renders._restricted(restricted) and not renders._restricted(free)
    assert not renders._restricted(tmp_path / "c.mxl")  # only Humdrum files carry it
    pieces = {p for _, p, _ in renders.corpus_pieces(["bach"])}
    assert "bach/bwv66.6.mxl" in pieces
    assert not [p for p in pieces if p.endswith(".krn")]  # the CCARH chorales


@pytest.mark.parametrize("name", ["ryansMammoth", "oneills1850"])
def test_naming_a_demo_collection_is_refused(name: str) -> None:
    with pytest.raises(ParameterError, match=f"{name}.*leak"):
        renders.corpus_pieces([name])


def test_unknown_collection_is_named() -> None:
    with pytest.raises(ParameterError, match="'nosuchcomposer'"):
        renders.corpus_pieces(["nosuchcomposer"])


def test_split_is_a_stable_hash_with_the_asked_proportions() -> None:
    pieces = [f"x/piece{i}.mxl" for i in range(4000)]
    splits = [renders.piece_split(p) for p in pieces]
    assert splits == [renders.piece_split(p) for p in pieces]
    share = {s: splits.count(s) / len(splits) for s in ("train", "valid", "test")}
    assert share["train"] == pytest.approx(0.90, abs=0.02)
    assert share["valid"] == pytest.approx(0.05, abs=0.015)
    assert share["test"] == pytest.approx(0.05, abs=0.015)


def test_interleave_takes_collections_in_turn() -> None:
    pieces = [("big", f"big/{i}", "") for i in range(6)] + [("small", "small/0", "")]
    order = renders._interleave(pieces, seed=0)
    assert [c for c, _, _ in order[:2]] == ["big", "small"]
    assert sorted(order) == sorted(pieces)
    assert order == renders._interleave(pieces, seed=0)
    assert order != renders._interleave(pieces, seed=1) or len(pieces) < 3


def test_bad_count_and_length_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="count=0"):
        renders.build_renders(tmp_path, count=0)
    with pytest.raises(ParameterError, match="seconds=-1"):
        renders.build_renders(tmp_path, count=1, seconds=-1)


@needs_renderer
def test_build_renders_plays_skips_and_resumes(tmp_path: Path, two_pieces: None) -> None:
    font = _soundfont()
    kwargs = {"count": 3, "seconds": 4.0, "soundfonts": [font], "workers": 2, "progress": False}
    manifest = renders.build_renders(tmp_path / "r", **kwargs)
    rows = _rows(manifest)
    assert tuple(rows[0]) == renders.MANIFEST_COLUMNS
    assert sorted(r["piece"] for r in rows) == sorted(PIECES)
    skipped = (tmp_path / "r" / "skipped.txt").read_text()
    assert "bach/broken.mxl" in skipped  # listed, and the others kept
    for row in rows:
        audio, sr = sf.read(row["path"], dtype="float32")
        assert sr == 22050 and audio.ndim == 1
        assert len(audio) == pytest.approx(4.0 * sr, abs=1)
        assert float(np.abs(audio).max()) == pytest.approx(10 ** (-1 / 20), abs=1e-3)
        programs = [int(p) for p in row["programs"].split()]
        assert len(programs) == 4 and all(p in renders.PROGRAMS for p in programs)
        assert (row["ensemble"] == "solo") == (len(set(programs)) == 1)
        assert row["split"] == renders.piece_split(row["piece"])
        assert row["path"].endswith(row["piece"] + ".flac")  # two encodings never collide
        assert json.loads(Path(row["path"] + ".json").read_text())["programs"] == row["programs"]
    # Resume: nothing is rendered again, the manifest is the same.
    stamps = {r["path"]: Path(r["path"]).stat().st_mtime_ns for r in rows}
    again = renders.build_renders(tmp_path / "r", **kwargs)
    assert _rows(again) == rows
    assert {p: Path(p).stat().st_mtime_ns for p in stamps} == stamps
    # Another seed draws other instruments or windows for the same pieces.
    other = _rows(renders.build_renders(tmp_path / "s", **kwargs, seed=1))
    assert sorted(r["piece"] for r in other) == sorted(PIECES)
    draws = {r["piece"]: (r["programs"], r["start_s"]) for r in rows}
    assert {r["piece"]: (r["programs"], r["start_s"]) for r in other} != draws
