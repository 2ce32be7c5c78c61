"""load(offset=..., duration=...) returns the excerpt and decodes only the excerpt."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from torchmusic.audio import load

SR = 22050


@pytest.fixture(scope="module")
def long_files(tmp_path_factory) -> dict[str, Path]:
    """A 10-minute mono PCM16 WAV and a 3-minute stereo FLAC (noise: incompressible)."""
    folder = tmp_path_factory.mktemp("long")
    rng = np.random.default_rng(0)
    wav = folder / "long.wav"
    sf.write(wav, (rng.integers(-3000, 3000, SR * 600)).astype(np.int16), SR, subtype="PCM_16")
    flac = folder / "long.flac"
    sf.write(flac, rng.integers(-3000, 3000, (SR * 180, 2)).astype(np.int16), SR)
    return {"wav": wav, "flac": flac}


@pytest.mark.parametrize("kind", ["wav", "flac"])
@pytest.mark.parametrize(("offset", "duration"), [(0.0, 2.5), (123.456, 30.0), (170.0, 9.9999)])
def test_excerpt_equals_slice_of_full_load(long_files, kind, offset, duration):
    path = long_files[kind]
    full, _ = load(path, sr=None, mono=False)
    part, sr = load(path, sr=None, mono=False, offset=offset, duration=duration)
    start = int(offset * sr)  # librosa's conversion
    n = int(duration * sr)
    assert part.shape == (full.shape[0], n)
    torch.testing.assert_close(part, full[:, start : start + n], rtol=0, atol=0)


def test_excerpt_requests_only_its_frames(long_files, monkeypatch):
    """Spy on SoundFile.seek/read: seek straight to the offset, read exactly n frames."""
    reads: list[int] = []
    absolute_seeks: list[int] = []
    real_read, real_seek = sf.SoundFile.read, sf.SoundFile.seek

    def spy_read(self, frames=-1, *args, **kwargs):
        reads.append(frames)
        return real_read(self, frames, *args, **kwargs)

    def spy_seek(self, frames, whence=sf.SEEK_SET):
        if whence == sf.SEEK_SET:  # soundfile itself calls tell() = seek(0, SEEK_CUR)
            absolute_seeks.append(frames)
        return real_seek(self, frames, whence)

    monkeypatch.setattr(sf.SoundFile, "read", spy_read)
    monkeypatch.setattr(sf.SoundFile, "seek", spy_seek)
    y, _ = load(long_files["wav"], sr=None, offset=300.0, duration=30.0)
    assert y.shape == (30 * SR,)
    assert reads == [30 * SR]
    assert absolute_seeks[0] == 300 * SR


def test_excerpt_memory_is_excerpt_sized(long_files):
    """Peak traced memory for a 30 s excerpt of a 10-minute file stays near 30 s of audio."""
    full_bytes = 600 * SR * 4  # float32, the whole file
    excerpt_bytes = 30 * SR * 4
    tracemalloc.start()
    try:
        y, _ = load(long_files["wav"], sr=None, offset=300.0, duration=30.0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert y.numel() * 4 == excerpt_bytes
    assert peak < 3 * excerpt_bytes < full_bytes / 5


def test_excerpt_with_resampling_equals_resampled_excerpt(long_files):
    from torchmusic.audio import resample

    native, _ = load(long_files["flac"], sr=None, offset=12.0, duration=4.0)
    y, sr = load(long_files["flac"], sr=16000, offset=12.0, duration=4.0)
    assert sr == 16000
    torch.testing.assert_close(y, resample(native, orig_sr=SR, target_sr=16000), rtol=0, atol=0)


def test_offset_near_end_returns_what_is_there(long_files):
    """Like librosa, an excerpt running past the end is cut at the end, not padded."""
    path = long_files["flac"]
    y, _ = load(path, sr=None, offset=179.5, duration=10.0)
    assert y.shape == (SR * 180 - int(179.5 * SR),)
    y_all, _ = load(path, sr=None, offset=179.5)
    torch.testing.assert_close(y, y_all, rtol=0, atol=0)
