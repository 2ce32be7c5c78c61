"""stream() blocks concatenate to load(); resampling is seamless across blocks."""

from __future__ import annotations

import pytest
import torch

from torchmusic.audio import load, stream
from torchmusic.errors import AudioFileError, ParameterError


@pytest.mark.parametrize(
    "kwargs",
    [
        {"sr": None},
        {"sr": 22050},
        {"sr": 16000, "mono": False},
        {"sr": 48000, "offset": 0.3, "duration": 2.2},
        {"sr": 8000, "mono": False, "offset": 1.7},
    ],
)
@pytest.mark.parametrize("ext", ["wav", "flac", "ogg"])
def test_stream_concatenates_to_load(write_tone, kwargs, ext):
    path, _ = write_tone(f"x.{ext}", sr=44100, seconds=3.0, channels=2)
    blocks = list(stream(path, block_duration=0.25, **kwargs))
    assert len(blocks) > 3
    assert all(b.shape[-1] > 0 for b in blocks)
    assert all(b.ndim == (1 if kwargs.get("mono", True) else 2) for b in blocks)
    whole, _ = load(path, **kwargs)
    torch.testing.assert_close(torch.cat(blocks, dim=-1), whole, rtol=0, atol=0)


def test_stream_one_block_and_float64(write_tone):
    path, _ = write_tone("x.wav", sr=22050, seconds=1.0)
    blocks = list(stream(path, block_duration=60.0, sr=11025, dtype=torch.float64))
    assert len(blocks) == 1 and blocks[0].dtype == torch.float64
    torch.testing.assert_close(blocks[0], load(path, sr=11025, dtype=torch.float64)[0])


def test_stream_validates_eagerly(write_tone, tmp_path):
    path, _ = write_tone("x.wav")
    # Raised by the call itself, before any iteration.
    with pytest.raises(ParameterError, match=r"x\.wav.*block_duration"):
        stream(path, block_duration=0)
    with pytest.raises(ParameterError, match=r"x\.wav.*beyond the end"):
        stream(path, offset=5.0)
    with pytest.raises(AudioFileError, match=r"nope\.wav"):
        stream(tmp_path / "nope.wav")
