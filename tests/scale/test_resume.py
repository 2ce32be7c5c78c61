"""A folder job killed with SIGKILL and rerun ends as an uninterrupted run (real audio).

Each test runs the CLI in a subprocess of its own session, kills the whole process
group (the job and its decoding workers) with SIGKILL once some results are on disk,
reruns the same command, and compares with a run that was never interrupted.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from torchmusic.cli.main import main
from torchmusic.recommend.catalog import Catalog, store

SRC = Path(__file__).resolve().parents[2] / "src"
#: Short files first, so records appear early and the long ones are still to come.
FILES = [
    "456440__inspectorj__bird-whistling-robin-single-13.ogg",
    "sorohanro_-_solo-trumpet-06.ogg",
    "LICENSE",  # not audio: recorded as an error, and not redone
    "198-209-0000.ogg",
    "5703-47212-0000.ogg",
    "3436-172162-0000.ogg",
    "admiralbob77_-_Choice_-_Drum-bass.ogg",
    "Hungarian_Dance_number_5_string_orchestra.ogg",
]


@pytest.fixture(scope="module")
def files(shared_data):
    return [str(shared_data / "recordings" / name) for name in FILES]


def _kill_when(argv: list[str], ready, *, timeout: float = 120.0) -> None:
    """Run ``torchmusic argv`` and SIGKILL its process group as soon as ``ready()``."""
    env = dict(os.environ, PYTHONPATH=str(SRC))
    proc = subprocess.Popen(
        [sys.executable, "-m", "torchmusic", *argv],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group: the workers die with it
    )
    deadline = time.monotonic() + timeout
    try:
        while not ready():
            assert proc.poll() is None, f"finished before the kill: {proc.stderr.read()!r}"
            assert time.monotonic() < deadline, "no results in time"
            time.sleep(0.02)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL


def _lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def test_killed_predict_jsonl_resumes_to_the_uninterrupted_records(files, tmp_path):
    reference, out = tmp_path / "reference.jsonl", tmp_path / "out.jsonl"
    args = ["predict", "--model", "drums", *files, "--no-progress", "--allow-failures"]
    assert main([*args, "--workers", "0", "--out", str(reference)]) == 0
    want = [json.loads(line) for line in reference.read_text().splitlines()]

    _kill_when(
        [*args, "--workers", "1", "--batch-size", "8", "--out", str(out)], lambda: _lines(out) >= 2
    )
    done = _lines(out)
    assert 2 <= done < len(files)
    with open(out, "ab") as f:  # and a line torn mid-write, as a kill can leave one
        f.write(b'{"path": "' + files[done].encode() + b'", "name": "')

    assert main([*args, "--workers", "1", "--batch-size", "8", "--out", str(out)]) == 0
    got = [json.loads(line) for line in out.read_text().splitlines()]

    assert [g["path"] for g in got] == files == [w["path"] for w in want]
    assert "error" in got[2] and got[2]["error"] == want[2]["error"]
    for g, w in zip(got, want, strict=True):
        assert g.keys() == w.keys()
        if "error" not in w:
            assert (g["name"], g["duration"]) == (w["name"], w["duration"])
            assert [x["label"] for x in g["labels"]] == [x["label"] for x in w["labels"]]
            np.testing.assert_allclose(
                [x["probability"] for x in g["labels"]],
                [x["probability"] for x in w["labels"]],
                atol=1e-5,
            )
    # --restart starts over from an empty file.
    restart = ["predict", "--model", "drums", *files[:2], "--no-progress", "--restart"]
    assert main([*restart, "--workers", "0", "--out", str(out)]) == 0
    assert [json.loads(line)["path"] for line in out.read_text().splitlines()] == files[:2]


def _catalog_vectors(root: Path) -> dict[str, np.ndarray]:
    with Catalog(root) as cat:
        ids, vectors = store.all_vectors(cat._connection(), cat.model.dim)
        paths = {t.id: t.path for t in cat.tracks()}
    return {paths[int(i)]: v for i, v in zip(ids, vectors, strict=True)}


def _tracks_in(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.1) as conn:
            return conn.execute("SELECT COUNT(*) FROM tracks").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet, or locked for a moment
        return 0


def test_killed_catalog_add_resumes_to_the_uninterrupted_catalog(files, tmp_path):
    audio = [f for f in files if f.endswith(".ogg")]
    args = ["--model", "mfcc", "--no-progress", "--commit-every", "1"]
    reference, resumed = tmp_path / "reference", tmp_path / "resumed"
    assert main(["catalog", "add", *audio, "-c", str(reference), *args, "--workers", "0"]) == 0
    want = _catalog_vectors(reference)

    cmd = ["catalog", "add", *audio, "-c", str(resumed), *args, "--workers", "1"]
    _kill_when(cmd, lambda: _tracks_in(resumed / store.DB_NAME) >= 2)
    assert 2 <= _tracks_in(resumed / store.DB_NAME) < len(audio)

    assert main(cmd) == 0
    got = _catalog_vectors(resumed)

    assert sorted(got) == sorted(want) == sorted(audio)
    for path, vector in want.items():
        np.testing.assert_allclose(got[path], vector, atol=1e-5)
    # The index (stale after the kill) was repaired from SQLite: searches agree.
    with Catalog(reference) as ref, Catalog(resumed) as cat:
        for query in audio[:3]:
            assert [n.path for n in cat.similar(query, k=3)] == [
                n.path for n in ref.similar(query, k=3)
            ]


def test_restart_without_a_jsonl_out_is_a_usage_error(files, capsys):
    rc = main(["predict", "--model", "drums", files[0], "--restart", "--out", "x.json"])
    assert rc != 0
    assert "--restart needs --out FILE.jsonl" in capsys.readouterr().err
