"""``torchmusic embed / catalog / similar`` and the one-call demo API."""

from __future__ import annotations

import csv
import io
import json
import shutil

import pytest

from torchmusic.cli.main import main
from torchmusic.errors import DataError
from torchmusic.recommend.catalog import Catalog, build_catalog, build_demo_catalog


def test_cli_round_trip(tmp_path, audio_dir, capsys):
    folder = tmp_path / "audio"
    shutil.copytree(audio_dir, folder)
    (folder / "bad.wav").write_bytes(b"RIFF not really")
    cat = str(tmp_path / "cat")
    assert main(["embed", str(folder), "--model", "mfcc", "-c", cat, "--no-progress"]) == 1
    out, err = capsys.readouterr()
    assert "8 track(s) added" in out and "bad.wav" in err
    # Adding again: nothing new, the bad file still reported, tolerated on request.
    assert (
        main(["catalog", "add", str(folder), "-c", cat, "--allow-failures", "--no-progress"]) == 0
    )
    assert "0 track(s) added, 8 already" in capsys.readouterr().out

    assert main(["similar", "1", "-c", cat, "-k", "3", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert len(doc["neighbours"]) == 3 and doc["neighbours"][0]["id"] != 1
    assert main(["similar", str(folder / "t00.wav"), "-c", cat, "-k", "3", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [int(r["id"]) for r in rows] == [n["id"] for n in doc["neighbours"]]
    assert main(["similar", "2", "-c", cat, "-k", "2"]) == 0
    assert "nearest tracks to 2" in capsys.readouterr().out

    assert main(["catalog", "remove", "1", "42", "-c", cat]) == 1
    out, err = capsys.readouterr()
    assert "removed 1 track(s); 7 left" in out and "42" in err
    (tmp_path / "cat" / "index.safetensors").write_bytes(b"junk")
    assert main(["similar", "2", "-c", cat, "-k", "1"]) == 0
    assert "corrupt" in capsys.readouterr().err
    assert main(["catalog", "info", "-c", cat]) == 0
    out = capsys.readouterr().out
    assert "tracks      7" in out and "flat, up to date" in out
    assert main(["catalog", "reindex", "-c", cat]) == 0
    assert "flat index of 7 tracks" in capsys.readouterr().out


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["similar", "1", "-c", str(tmp_path / "none")]) == 1
    assert "no catalog at" in capsys.readouterr().err
    assert main(["catalog", "add", str(tmp_path), "-c", str(tmp_path / "c")]) == 1
    assert "pass a model" in capsys.readouterr().err


def test_build_catalog_and_demo_table(tmp_path, audio_dir):
    corpus = tmp_path / "corpus"
    shutil.copytree(audio_dir, corpus / "tones")
    with open(corpus / "manifest.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "tune_type", "instrument_family"])
        for i, p in enumerate(sorted((corpus / "tones").glob("*.wav"))):
            writer.writerow([f"tones/{p.name}", "low" if i < 4 else "high", "synth"])
    result = build_demo_catalog(corpus, tmp_path / "cat", n_queries=2, k=3)
    assert len(result.catalog) == 8 and len(result.neighbours) == 2
    query, found = result.neighbours[0]
    assert query.metadata["tune_type"] == "low" and len(found) == 3
    table = result.table()
    assert "same label as the query: tune_type" in table and "instrument_family 3/3" in table
    # Re-running reuses the catalog.
    again = build_demo_catalog(corpus, tmp_path / "cat", n_queries=2, k=3)
    assert again.report.added == [] and len(again.report.duplicates) == 8
    cat, report = build_catalog([audio_dir], tmp_path / "cat2")
    assert isinstance(cat, Catalog) and len(report.added) == 8
    with pytest.raises(DataError, match="does not exist"):
        build_demo_catalog(tmp_path / "nope", tmp_path / "cat3")
