"""extract_features: reuse, invalidation, bad files, output folders, and surviving a SIGKILL."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from torchmusic.data import FeatureCache, extract_features
from torchmusic.data.cache import compute_file_features
from torchmusic.errors import DataError


def run(paths, config, cache_dir: Path, **kwargs):
    return extract_features(paths, config, cache_dir=cache_dir, progress=False, workers=1, **kwargs)


def test_second_run_reuses_everything(class_folder: Path, small_config, tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    first = run(class_folder, small_config, cache_dir)
    assert (first.computed, first.reused, first.failed) == (5, 0, [])
    assert [f.path.name for f in first.ok] == ["j0.wav", "j1.wav", "j2.wav", "r1.flac", "r0.wav"]
    np.testing.assert_array_equal(
        first.ok[3].load(), compute_file_features(class_folder / "rock/r1.flac", small_config)
    )
    second = run(class_folder, small_config, cache_dir)
    assert (second.computed, second.reused) == (0, 5)
    assert [f.entry for f in second.ok] == [f.entry for f in first.ok]
    assert "5 file(s) ok (0 computed, 5 reused" in second.summary()


def test_touched_changed_file_and_changed_config(
    class_folder: Path, small_config, tmp_path: Path, write_tone
) -> None:
    cache_dir = tmp_path / "cache"
    run(class_folder, small_config, cache_dir)
    os.utime(class_folder / "jazz/j0.wav")  # touched, identical bytes: not recomputed
    assert run(class_folder, small_config, cache_dir).computed == 0
    write_tone(class_folder / "jazz/j1.wav", freq=999.0)  # same size, new content
    report = run(class_folder, small_config, cache_dir)
    assert (report.computed, report.reused) == (1, 4)
    assert not report.ok[1].reused and report.ok[1].path.name == "j1.wav"
    other = dataclasses.replace(small_config, n_mels=8)
    report = run(class_folder, other, cache_dir)
    assert report.computed == 5 and report.ok[0].load().shape[0] == 8
    sr_changed = dataclasses.replace(small_config, sr=4000)
    assert run(class_folder, sr_changed, cache_dir).computed == 5


def test_bad_and_missing_files_are_reported_not_fatal(
    class_folder: Path, small_config, tmp_path: Path
) -> None:
    (class_folder / "jazz" / "broken.wav").write_bytes(b"RIFF\x00\x00garbage, not a wav file")
    (class_folder / "jazz" / "empty.flac").write_bytes(b"")
    report = run([class_folder, tmp_path / "nowhere.wav"], small_config, tmp_path / "cache")
    assert len(report.ok) == 5 and report.computed == 5
    failed = {f.path.name: f.error for f in report.failed}
    assert set(failed) == {"broken.wav", "empty.flac", "nowhere.wav"}
    assert "AudioFileError" in failed["broken.wav"]
    assert failed["nowhere.wav"] == "no such file or folder"
    assert "FAILED" in report.summary() and "broken.wav" in report.summary()


def test_worker_pool_with_a_corrupt_file(class_folder: Path, small_config, tmp_path: Path) -> None:
    (class_folder / "rock" / "corrupt.wav").write_bytes(os.urandom(2000))
    report = extract_features(
        class_folder, small_config, cache_dir=tmp_path / "cache", workers=2, progress=False
    )
    assert [f.path.name for f in report.failed] == ["corrupt.wav"]
    assert sorted(f.path.name for f in report.ok) == [
        "j0.wav",
        "j1.wav",
        "j2.wav",
        "r0.wav",
        "r1.flac",
    ]
    assert report.computed == 5
    serial = run(class_folder, small_config, tmp_path / "cache")
    assert serial.reused == 5 and len(serial.failed) == 1


def test_out_dir_mirrors_folders_and_keeps_clashing_names_apart(
    class_folder: Path, small_config, tmp_path: Path, write_tone
) -> None:
    write_tone(class_folder / "jazz" / "j0.flac")  # same stem as j0.wav
    out = tmp_path / "out"
    report = run(class_folder, small_config, tmp_path / "cache", out_dir=out)
    names = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.npy"))
    assert names == [
        "jazz/j0.flac.npy",
        "jazz/j0.wav.npy",
        "jazz/j1.npy",
        "jazz/j2.npy",
        "rock/r1.npy",
        "rock/sub/r0.npy",
    ]
    for f in report.ok:
        np.testing.assert_array_equal(np.load(f.out_path, allow_pickle=False), f.load())
    # A single file is written under its own name; reused entries are written too.
    again = run(
        class_folder / "jazz" / "j1.wav", small_config, tmp_path / "cache", out_dir=out / "x"
    )
    assert again.reused == 1 and again.ok[0].out_path == out / "x" / "j1.npy"


def test_no_audio_found(tmp_path: Path, small_config) -> None:
    (tmp_path / "docs").mkdir()
    with pytest.raises(DataError, match="no audio files"):
        run(tmp_path / "docs", small_config, tmp_path / "cache")


SLOW_EXTRACTION = """
import sys, time
from torchmusic.data import extract_features
from torchmusic.features.config import FeatureConfig


class SlowConfig(FeatureConfig):
    # Same fingerprint as the plain config: only slower, so the run can be killed midway.
    def compute(self, y):
        time.sleep(0.3)
        return super().compute(y)


if __name__ == "__main__":
    folder, cache_dir = sys.argv[1], sys.argv[2]
    cfg = SlowConfig(kind="logmel", sr=8000, n_fft=256, hop_length=64, n_mels=16)
    extract_features(folder, cfg, cache_dir=cache_dir, workers=2, progress=False)
"""


def test_interrupted_run_leaves_clean_entries_and_resumes(
    tmp_path: Path, small_config, write_tone
) -> None:
    folder, cache_dir = tmp_path / "audio", tmp_path / "cache"
    for i in range(20):
        write_tone(folder / f"f{i:02d}.wav", seconds=0.5, freq=100.0 + 37 * i)
    script = tmp_path / "slow_extract.py"
    script.write_text(textwrap.dedent(SLOW_EXTRACTION))
    entries_dir = FeatureCache(cache_dir, small_config).dir

    def entries() -> list[Path]:
        return sorted(entries_dir.glob("??/??/*.npy"))

    # Own session, so the kill takes the worker processes down too (like a Ctrl-\ or OOM).
    proc = subprocess.Popen(
        [sys.executable, str(script), str(folder), str(cache_dir)], start_new_session=True
    )
    try:
        deadline = time.monotonic() + 120
        while len(entries()) < 3:
            assert proc.poll() is None, "the extraction ended before it could be killed"
            assert time.monotonic() < deadline, "no cache entry appeared in time"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    before = {p: p.stat().st_mtime_ns for p in entries()}
    assert 3 <= len(before) < 20
    for p in before:  # every entry that exists is whole
        assert FeatureCache.read(p).shape == (16, 1 + 4000 // 64)

    report = run(folder, small_config, cache_dir)
    assert report.failed == [] and len(report.ok) == 20
    assert report.reused >= len(before) and report.computed == 20 - report.reused
    assert all(p.stat().st_mtime_ns == m for p, m in before.items())  # not rewritten
    assert len(entries()) == 20
    assert run(folder, small_config, cache_dir).computed == 0
