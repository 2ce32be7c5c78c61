"""Write a tone with soundfile (or torchmusic.audio.save), read it back with load."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from torchmusic.audio import info, load, save

# (file name, sr, format, subtype, max abs error of the samples read back or None
# for lossy codecs, which are checked by correlation instead)
CASES = [
    ("pcm16.wav", 22050, "WAV", "PCM_16", 1 / 32768),
    ("float.wav", 44100, "WAV", "FLOAT", 0.0),
    ("pcm24.flac", 44100, "FLAC", "PCM_24", 1 / 2**23),
    ("pcm16.aiff", 16000, "AIFF", "PCM_16", 1 / 32768),
    ("vorbis.ogg", 22050, "OGG", "VORBIS", None),
    ("opus.opus", 48000, "OGG", "OPUS", None),
    ("mpeg.mp3", 44100, "MP3", "MPEG_LAYER_III", None),
]


@pytest.mark.parametrize(("name", "sr", "fmt", "subtype", "tol"), CASES)
def test_roundtrip_soundfile_written(write_tone, name, sr, fmt, subtype, tol):
    path, x = write_tone(name, sr=sr, seconds=1.5, format=fmt, subtype=subtype)
    y, sr_out = load(path, sr=None)
    assert sr_out == sr
    assert y.dtype == torch.float32 and y.ndim == 1
    # libsndfile 1.2 trims codec delay/padding, so even lossy files keep their length.
    assert y.shape[0] == x.shape[0]
    if tol is not None:
        np.testing.assert_allclose(y.numpy(), x, rtol=0, atol=tol)
    else:
        assert np.corrcoef(y.numpy(), x)[0, 1] > 0.99
    meta = info(path)
    assert (meta.format, meta.subtype, meta.sample_rate) == (fmt, subtype, sr)


@pytest.mark.parametrize("name", ["stereo.wav", "stereo.flac", "stereo.ogg"])
def test_roundtrip_save_stereo(tmp_path, synth, name):
    x = torch.from_numpy(synth(22050, 1.0, channels=2).T.copy())  # (channels, samples)
    path = tmp_path / name
    save(path, x, 22050)
    y, sr = load(path, sr=None, mono=False)
    assert sr == 22050 and y.shape == x.shape
    if name.endswith(".ogg"):
        for c in range(2):
            assert np.corrcoef(y[c].numpy(), x[c].numpy())[0, 1] > 0.99
    else:
        torch.testing.assert_close(y, x, rtol=0, atol=1 / 32768)
    mono, _ = load(path, sr=None)
    torch.testing.assert_close(mono, y.mean(dim=0), rtol=0, atol=1e-7)


def test_save_float_wav_exact_and_float64(tmp_path):
    x = torch.linspace(-1, 1, 1000, dtype=torch.float64)
    path = tmp_path / "x.wav"
    save(path, x, 8000, subtype="DOUBLE")
    y, sr = load(path, sr=None, dtype=torch.float64)
    assert sr == 8000 and y.dtype == torch.float64
    torch.testing.assert_close(y, x, rtol=0, atol=0)


def test_mono_false_on_mono_file_is_2d(write_tone):
    path, x = write_tone("m.wav", subtype="FLOAT")
    y, _ = load(path, sr=None, mono=False)
    assert y.shape == (1, x.shape[0])
    np.testing.assert_array_equal(y[0].numpy(), x)
