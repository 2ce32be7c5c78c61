"""info() values; save() writes atomically and validates its input."""

from __future__ import annotations

import dataclasses
import os
import stat

import numpy as np
import pytest
import soundfile as sf
import torch

from torchmusic.audio import AudioInfo, info, load, save
from torchmusic.errors import AudioFileError, ParameterError


def test_info_values(write_tone):
    path, x = write_tone("s.flac", sr=44100, seconds=2.0, channels=2, subtype="PCM_24")
    meta = info(path)
    assert meta == AudioInfo(
        path=path,
        sample_rate=44100,
        channels=2,
        frames=x.shape[0],
        duration=x.shape[0] / 44100,
        format="FLAC",
        subtype="PCM_24",
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        meta.frames = 1  # type: ignore[misc]


def test_info_real_mp3(shared_data):
    meta = info(shared_data / "mir_clips" / "giantsteps_tempo" / "28952.LOFI.mp3")
    assert (meta.format, meta.sample_rate, meta.channels) == ("MP3", 22050, 2)
    assert meta.frames == 44100 and meta.duration == pytest.approx(2.0)


def test_info_reports_many_channels(write_tone):
    path, _ = write_tone("six.wav", channels=6)
    assert info(path).channels == 6


def test_save_replaces_existing_file_and_keeps_mode(tmp_path):
    path = tmp_path / "a.wav"
    save(path, np.zeros(100, np.float32), 8000)
    os.chmod(path, 0o640)
    save(path, torch.full((2, 50), 0.5), 8000, subtype="FLOAT")
    y, sr = load(path, sr=None, mono=False)
    assert (sr, tuple(y.shape)) == (8000, (2, 50))
    assert torch.all(y == 0.5)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.wav"]  # no temp file left


def _failing_write(file, data, samplerate, *args, **kwargs):
    """Stand-in for soundfile.write that dies half way through writing."""
    with open(file, "wb") as f:
        f.write(b"RIFF\x00\x10\x00\x00WAVEfmt ")
    raise RuntimeError("disk on fire")


def test_save_failure_leaves_no_file(tmp_path, monkeypatch):
    monkeypatch.setattr(sf, "write", _failing_write)
    path = tmp_path / "new.wav"
    with pytest.raises(AudioFileError, match=r"new\.wav.*disk on fire"):
        save(path, np.zeros(100, np.float32), 8000)
    assert list(tmp_path.iterdir()) == []


def test_save_failure_leaves_existing_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "old.wav"
    save(path, np.full(100, 0.25, np.float32), 8000)
    before = path.read_bytes()
    monkeypatch.setattr(sf, "write", _failing_write)
    with pytest.raises(AudioFileError, match=r"old\.wav"):
        save(path, np.zeros(100, np.float32), 8000)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["old.wav"]


def test_save_interrupt_cleans_up(tmp_path, monkeypatch):
    def interrupted(file, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(sf, "write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save(tmp_path / "x.flac", np.zeros(100, np.float32), 8000)
    assert list(tmp_path.iterdir()) == []


def test_save_opus_extension(tmp_path):
    save(tmp_path / "x.opus", np.zeros(4800, np.float32), 48000)
    meta = info(tmp_path / "x.opus")
    assert (meta.format, meta.subtype) == ("OGG", "OPUS")


@pytest.mark.parametrize(
    ("y", "name", "kwargs", "match"),
    [
        (np.zeros((1000, 2), np.float32), "t.wav", {}, r"\(samples, channels\)"),
        (np.zeros((3, 100), np.float32), "t.wav", {}, "1 or 2 channels"),
        (np.array([0.0, np.nan], np.float32), "t.wav", {}, "NaN"),
        (np.zeros(10, np.complex64), "t.wav", {}, "dtype"),
        (np.zeros(0, np.float32), "t.wav", {}, "samples > 0"),
        (np.zeros(10, np.float32), "t.xyz", {}, "extension '.xyz'"),
        (np.zeros(10, np.float32), "t.wav", {"subtype": "VORBIS"}, "not writable"),
        (np.zeros(10, np.float32), "t.wav", {"sr": 0}, "positive int"),
        ([0.0, 0.1], "t.wav", {}, "torch.Tensor or numpy.ndarray"),
    ],
)
def test_save_rejects_bad_input(tmp_path, y, name, kwargs, match):
    sr = kwargs.pop("sr", 8000)
    with pytest.raises(ParameterError, match=match) as exc:
        save(tmp_path / name, y, sr, **kwargs)
    assert name in str(exc.value)
    assert list(tmp_path.iterdir()) == []


def test_save_bad_destination(tmp_path):
    with pytest.raises(AudioFileError, match="does not exist"):
        save(tmp_path / "missing" / "a.wav", np.zeros(10, np.float32), 8000)
    (tmp_path / "d.wav").mkdir()
    with pytest.raises(AudioFileError, match=r"d\.wav.*directory"):
        save(tmp_path / "d.wav", np.zeros(10, np.float32), 8000)


def test_save_libsndfile_refusal_is_audio_file_error(tmp_path):
    with pytest.raises(AudioFileError, match=r"x\.opus.*44100 Hz"):
        save(tmp_path / "x.opus", np.zeros(100, np.float32), 44100)  # Opus: 8-48 kHz only
    assert list(tmp_path.iterdir()) == []
