"""Every kind of bad file or argument gives one clear torchmusic error naming the file."""

from __future__ import annotations

import errno
import os

import numpy as np
import pytest
import soundfile as sf
import torch

from torchmusic.audio import info, load
from torchmusic.errors import AudioFileError, ParameterError, TorchMusicError


def _assert_load_fails(path, cls, match=None, **kwargs):
    with pytest.raises(cls, match=match) as exc:
        load(path, **kwargs)
    assert isinstance(exc.value, TorchMusicError)
    assert path.name in str(exc.value)
    return exc.value


def test_missing_path(tmp_path):
    err = _assert_load_fails(tmp_path / "missing.wav", AudioFileError, "No such audio file")
    # An OSError with errno ENOENT and .filename, though not a FileNotFoundError.
    assert isinstance(err, OSError) and err.errno == errno.ENOENT
    assert err.filename == str(tmp_path / "missing.wav")
    with pytest.raises(AudioFileError, match=r"missing\.wav"):
        info(tmp_path / "missing.wav")


def test_directory(tmp_path):
    folder = tmp_path / "folder.wav"
    folder.mkdir()
    err = _assert_load_fails(folder, AudioFileError, "directory")
    assert err.errno == errno.EISDIR


def test_zero_length_file(tmp_path):
    path = tmp_path / "empty.wav"
    path.touch()
    _assert_load_fails(path, AudioFileError, r"empty \(0 bytes\)")
    with pytest.raises(AudioFileError, match=r"empty\.wav"):
        info(path)


@pytest.mark.parametrize("keep", [44, 1000, 0.5])
def test_truncated_wav(write_tone, keep):
    """A WAV whose data chunk is cut (header-only, or part of the data)."""
    path, _ = write_tone("cut.wav", sr=22050, seconds=2.0, subtype="PCM_16")
    data = path.read_bytes()
    path.write_bytes(data[: keep if isinstance(keep, int) else int(len(data) * keep)])
    _assert_load_fails(path, AudioFileError, "truncated")
    with pytest.raises(AudioFileError, match=r"cut\.wav.*truncated"):
        info(path)


def test_truncated_aiff(write_tone):
    path, _ = write_tone("cut.aiff", seconds=2.0)
    path.write_bytes(path.read_bytes()[:30000])
    _assert_load_fails(path, AudioFileError, "truncated")


@pytest.mark.parametrize("ext", ["flac", "mp3", "ogg"])
def test_truncated_compressed(write_tone, ext):
    path, _ = write_tone(f"cut.{ext}", seconds=2.0)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    _assert_load_fails(path, AudioFileError, "truncated|corrupt")


@pytest.mark.parametrize("name", ["noise.wav", "noise.flac", "noise.bin"])
def test_corrupt_random_bytes(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    _assert_load_fails(path, AudioFileError, "not a recognised audio file")


def test_text_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not audio at all\n" * 50)
    _assert_load_fails(path, AudioFileError, "not a recognised audio file.*expected a WAV")


def test_png_file(tmp_path):
    path = tmp_path / "cover.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200))
    _assert_load_fails(path, AudioFileError, "not a recognised audio file")


def test_unsupported_format(tmp_path):
    """An AAC/M4A file: audio, but nothing libsndfile can decode."""
    path = tmp_path / "song.m4a"
    path.write_bytes(b"\x00\x00\x00\x20ftypM4A \x00\x00\x02\x00M4A mp42isom" + bytes(2000))
    _assert_load_fails(path, AudioFileError, "format '.m4a' is not supported")


def test_unsupported_encoding(write_tone):
    """A WAV header with an unknown codec tag."""
    path, _ = write_tone("odd.wav")
    data = bytearray(path.read_bytes())
    data[20:22] = (0x1234).to_bytes(2, "little")  # fmt chunk's audio format field
    path.write_bytes(bytes(data))
    _assert_load_fails(path, AudioFileError, "odd.wav")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_samples(tmp_path, bad):
    path = tmp_path / "nan.wav"
    y = np.zeros((22050, 2), np.float32)
    y[11025, 1] = bad  # 0.5 s into the file, right channel
    sf.write(path, y, 22050, subtype="FLOAT")
    _assert_load_fails(path, AudioFileError, r"NaN or Inf\) at 0\.500000 s", sr=None)
    _assert_load_fails(path, AudioFileError, r"at 0\.500000 s", sr=None, offset=0.25)
    # The excerpt before the bad sample is fine.
    y_ok, _ = load(path, sr=None, duration=0.4)
    assert y_ok.shape == (int(0.4 * 22050),)


def test_more_than_two_channels_are_mixed_down(tmp_path):
    # Issue 10: 5.1 files are mixed down by a documented rule, not refused.
    from torchmusic.audio import stream

    rng = np.random.default_rng(0)
    for n in (3, 6):
        y = (rng.uniform(-0.5, 0.5, (n, 800))).astype(np.float32)
        path = tmp_path / f"ch{n}.wav"
        sf.write(path, y.T, 8000, subtype="FLOAT")
        mono, _ = load(path, sr=None)
        np.testing.assert_allclose(mono.numpy(), y.mean(axis=0), atol=1e-6)  # librosa's mean
        stereo, _ = load(path, sr=None, mono=False)
        g = np.float32(np.sqrt(0.5))
        if n == 6:  # ITU-R BS.775: L + g C + g Ls, R + g C + g Rs; LFE dropped
            left = (y[0] + g * y[2] + g * y[4]) / (1 + 2 * g)
            right = (y[1] + g * y[2] + g * y[5]) / (1 + 2 * g)
        else:
            left, right = (y[0] + g * y[2]) / (1 + g), (y[1] + g * y[2]) / (1 + g)
        np.testing.assert_allclose(stereo.numpy(), np.stack([left, right]), atol=1e-6)
        blocks = list(stream(path, sr=None, mono=False, block_duration=0.05))
        np.testing.assert_allclose(torch.cat(blocks, dim=-1).numpy(), stereo.numpy(), atol=1e-6)


def test_negative_offset(write_tone):
    path, _ = write_tone("a.wav")
    _assert_load_fails(path, ParameterError, "offset must be .* >= 0", offset=-0.1)


@pytest.mark.parametrize("duration", [0, 0.0, -1.0, float("nan")])
def test_non_positive_duration(write_tone, duration):
    path, _ = write_tone("a.wav")
    _assert_load_fails(path, ParameterError, "duration must be", duration=duration)


def test_duration_below_one_sample(write_tone):
    path, _ = write_tone("a.wav")
    _assert_load_fails(path, ParameterError, "shorter than one sample", duration=1e-6)


@pytest.mark.parametrize("offset", [1.0, 1.5, 3600.0])
def test_offset_beyond_end(write_tone, offset):
    path, _ = write_tone("a.wav", seconds=1.0)
    _assert_load_fails(path, ParameterError, "beyond the end of the file", offset=offset)


@pytest.mark.parametrize("sr", [0, -22050, 22050.5, 22050.0, "22050", True])
def test_invalid_sr(write_tone, sr):
    path, _ = write_tone("a.wav")
    _assert_load_fails(path, ParameterError, "sr must be a positive int", sr=sr)


def test_invalid_dtype(write_tone):
    import torch

    path, _ = write_tone("a.wav")
    _assert_load_fails(path, ParameterError, "dtype", dtype=torch.int16)


def test_invalid_path_type():
    with pytest.raises(ParameterError, match=r"path must be a str or os\.PathLike"):
        load(123)  # type: ignore[arg-type]


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read unreadable files")
def test_unreadable_file(write_tone):
    path, _ = write_tone("locked.wav")
    path.chmod(0)
    try:
        err = _assert_load_fails(path, AudioFileError, "Permission denied")
        assert err.errno == errno.EACCES
    finally:
        path.chmod(0o644)


class _ShortStream:
    """A stand-in for soundfile.SoundFile whose decoder stops ``short`` frames early."""

    samplerate = 44100

    def __init__(self, fmt: str, frames: int, short: int) -> None:
        self.format, self.frames, self._short = fmt, frames, short

    def read(self, frames, dtype, always_2d):
        return np.zeros(frames - self._short, dtype=dtype)


def test_lossy_stream_slightly_shorter_than_announced_warns_and_returns_it(tmp_path):
    # Real Ogg files (e.g. Wesnoth's northerners.ogg) decode ~0.1 s short of their header.
    from torchmusic.audio._reader import read_frames

    with pytest.warns(UserWarning, match="x.ogg.*5806 frames"):
        y = read_frames(
            _ShortStream("OGG", 9_135_516, 5806),
            tmp_path / "x.ogg",
            start=0,
            n=9_135_516,
            dtype=np.float32,
        )
    assert y.shape == (9_135_516 - 5806,)


@pytest.mark.parametrize("fmt,short", [("OGG", 200_000), ("WAV", 10)])
def test_large_or_lossless_shortfall_is_an_error(tmp_path, fmt, short):
    from torchmusic.audio._reader import read_frames

    with pytest.raises(AudioFileError, match="truncated"):
        read_frames(
            _ShortStream(fmt, 1_000_000, short),
            tmp_path / "x.bin",
            start=0,
            n=1_000_000,
            dtype=np.float32,
        )
