"""resample(): shapes, dtypes, devices and argument checks (librosa parity is in
test_audio_librosa_parity.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from torchmusic.audio import resample
from torchmusic.errors import ParameterError


def _sine(sr: int, seconds: float = 0.5, freq: float = 1000.0) -> torch.Tensor:
    t = torch.arange(int(sr * seconds), dtype=torch.float64) / sr
    return torch.sin(2 * math.pi * freq * t)


@pytest.mark.parametrize(("orig", "target"), [(44100, 22050), (22050, 16000), (8000, 48000)])
def test_resample_length_and_content(orig, target):
    y = _sine(orig).float()
    out = resample(y, orig_sr=orig, target_sr=target)
    assert out.shape == (math.ceil(y.shape[0] * target / orig),)
    # A 1 kHz sine stays a 1 kHz sine (away from the edges).
    ref = _sine(target).float()[: out.shape[0]]
    mid = slice(out.shape[0] // 4, 3 * out.shape[0] // 4)
    torch.testing.assert_close(out[mid], ref[mid], rtol=0, atol=1e-3)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_resample_keeps_dtype(dtype):
    y = _sine(16000).to(dtype).reshape(2, -1)
    out = resample(y, orig_sr=16000, target_sr=8000)
    assert out.dtype == dtype and out.device == y.device
    assert out.shape == (2, y.shape[1] // 2)


def test_resample_same_rate_returns_input():
    y = torch.randn(100)
    assert resample(y, orig_sr=22050, target_sr=22050) is y


def test_resample_quality_names_and_empty():
    y = torch.randn(1000)
    hq = resample(y, orig_sr=2, target_sr=1)
    torch.testing.assert_close(resample(y, orig_sr=2, target_sr=1, quality="soxr_hq"), hq)
    vhq = resample(y, orig_sr=2, target_sr=1, quality="vhq")
    assert vhq.shape == hq.shape and not torch.equal(vhq, hq)
    assert resample(torch.zeros(3, 0), orig_sr=2, target_sr=1).shape == (3, 0)


def test_resample_non_integer_rates():
    y = torch.randn(1000)
    assert resample(y, orig_sr=1000.5, target_sr=500.25).shape == (500,)


@pytest.mark.parametrize(
    ("y", "kwargs", "match"),
    [
        (np.zeros(10, np.float32), {}, "torch.Tensor"),
        (torch.zeros(10, dtype=torch.int16), {}, "real floating"),
        (torch.tensor(1.0), {}, "real floating"),
        (torch.tensor([0.0, float("nan")]), {}, "NaN"),
        (torch.zeros(10), {"orig_sr": 0}, "orig_sr must be a positive"),
        (torch.zeros(10), {"target_sr": -1}, "target_sr must be a positive"),
        (torch.zeros(10), {"target_sr": float("inf")}, "target_sr"),
        (torch.zeros(10), {"quality": "best"}, "quality must be one of"),
    ],
)
def test_resample_rejects_bad_input(y, kwargs, match):
    args = {"orig_sr": 22050, "target_sr": 16000, **kwargs}
    with pytest.raises(ParameterError, match=match):
        resample(y, **args)


@pytest.mark.gpu
def test_resample_cuda_roundtrip():
    y = _sine(16000).float().cuda()
    out = resample(y, orig_sr=16000, target_sr=8000)
    assert out.device == y.device and out.dtype == y.dtype
    torch.testing.assert_close(out.cpu(), resample(y.cpu(), orig_sr=16000, target_sr=8000))
