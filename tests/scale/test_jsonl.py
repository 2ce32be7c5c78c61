"""JsonlResults: records flushed one per line, a torn last line dropped, --restart."""

from __future__ import annotations

import json

import pytest

from torchmusic.errors import DataError, ParameterError
from torchmusic.scale.jsonl import JsonlResults, read_records


def test_reopen_skips_recorded_paths_and_drops_a_torn_last_line(tmp_path):
    out = tmp_path / "deep" / "r.jsonl"
    with JsonlResults(out) as results:
        results.write({"path": "a.ogg", "labels": [["kick", 0.9]]})
        results.write({"path": "b.ogg", "error": "not audio"})
        # Flushed at once: readable while the writer still holds the file.
        assert [r["path"] for r in read_records(out)] == ["a.ogg", "b.ogg"]
    with open(out, "ab") as f:
        f.write(b'{"path": "c.ogg", "lab')  # what kill -9 leaves mid-write

    assert [r["path"] for r in read_records(out)] == ["a.ogg", "b.ogg"]
    with JsonlResults(out) as results:
        assert results.done == {"a.ogg", "b.ogg"}
        assert results.errors == {"b.ogg": "not audio"}
        results.write({"path": "c.ogg", "labels": []})
    lines = out.read_text().splitlines()
    assert [json.loads(line)["path"] for line in lines] == ["a.ogg", "b.ogg", "c.ogg"]


def test_restart_empties_the_file(tmp_path):
    out = tmp_path / "r.jsonl"
    with JsonlResults(out) as results:
        results.write({"path": "a.ogg"})
    with JsonlResults(out, restart=True) as results:
        assert results.done == set() and results.records == 0
    assert out.read_bytes() == b""


def test_refuses_what_is_not_a_result_file(tmp_path):
    with pytest.raises(ParameterError, match=r"r\.json"):
        JsonlResults(tmp_path / "r.json")
    other = tmp_path / "other.jsonl"
    other.write_text('{"path": "a"}\nnot json\n{"path": "b"}\n')
    with pytest.raises(DataError, match="line 2"):
        JsonlResults(other)
    other.write_text('{"no_path": 1}\n')
    with pytest.raises(DataError, match="no 'path'"):
        JsonlResults(other)
    with JsonlResults(tmp_path / "ok.jsonl") as results, pytest.raises(ParameterError):
        results.write({"labels": []})
