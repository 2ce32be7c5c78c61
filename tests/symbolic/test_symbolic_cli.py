"""``torchmusic datasets build folk`` end to end (tiny)."""

from __future__ import annotations

from torchmusic.cli.main import main
from torchmusic.symbolic import load_folk_metadata


def test_build_folk_command(tmp_path, capsys):
    out = tmp_path / "folk"
    args = ["datasets", "build", "folk", "--out", str(out), "--collections", "essen,oneills"]
    args += ["--limit", "2", "--workers", "1", "--no-progress", "--seed", "1"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "4 tunes written" in text and "collections: " in text
    rows = load_folk_metadata(out)
    assert sorted({r["collection"] for r in rows}) == ["essen", "oneills"]


def test_build_folk_unknown_collection_is_a_clean_error(tmp_path, capsys):
    code = main(["datasets", "build", "folk", "--out", str(tmp_path), "--collections", "bach"])
    assert code == 1
    assert "torchmusic: error: unknown folk collection(s) bach" in capsys.readouterr().err
