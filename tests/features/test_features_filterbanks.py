"""Mel and chroma filterbanks and frequency conversions against librosa; the filterbank cache."""

from __future__ import annotations

import itertools
import math
import warnings

import librosa
import numpy as np
import pytest
import torch

import torchmusic.features as F
from torchmusic.features import filters


def _rel_err(ours: torch.Tensor, ref: np.ndarray) -> float:
    assert tuple(ours.shape) == ref.shape
    return float(np.abs(ours.numpy().astype(np.float64) - ref).max() / np.abs(ref).max())


MEL_GRID = list(
    itertools.product(
        [8000, 44100],  # sr
        [512, 2048],  # n_fft
        [40, 128],  # n_mels
        [False, True],  # htk
        ["slaney", None, 1, 2.0, math.inf],  # norm
        [(0.0, None), (30.0, 3500.0)],  # (fmin, fmax)
    )
)


@pytest.mark.parametrize("htk", [False, True])
def test_mel_filterbank_matches_librosa(htk):
    for sr, n_fft, n_mels, htk_, norm, (fmin, fmax) in MEL_GRID:
        if htk_ != htk:
            continue
        kw = dict(sr=sr, n_fft=n_fft, n_mels=n_mels, htk=htk, norm=norm, fmin=fmin, fmax=fmax)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # both libraries warn about empty bands alike
            for np_dtype, dtype in [(np.float32, torch.float32), (np.float64, torch.float64)]:
                ref = librosa.filters.mel(**kw, dtype=np_dtype)
                ours = F.mel_filterbank(**kw, dtype=dtype)
                assert ours.dtype == dtype
                assert _rel_err(ours, ref) <= 1e-6, kw


def test_mel_filterbank_warns_about_empty_bands_like_librosa():
    kw = dict(sr=22050, n_fft=256, n_mels=100)
    with pytest.warns(UserWarning, match="Empty filters"):
        librosa.filters.mel(**kw)
    with pytest.warns(UserWarning, match="Empty filters"):
        F.mel_filterbank(**kw)


@pytest.mark.parametrize("n_chroma", [12, 24, 7])
def test_chroma_filterbank_matches_librosa(n_chroma):
    grid = itertools.product(
        [(22050, 1024), (44100, 4095)],  # (sr, n_fft), odd n_fft too
        [0.0, -0.3, 0.27],  # tuning
        [(5.0, 2), (4.0, None)],  # (ctroct, octwidth)
        [2, 1, None, math.inf],  # norm
        [True, False],  # base_c
    )
    for (sr, n_fft), tuning, (ctroct, octwidth), norm, base_c in grid:
        kw = dict(
            sr=sr,
            n_fft=n_fft,
            n_chroma=n_chroma,
            tuning=tuning,
            ctroct=ctroct,
            octwidth=octwidth,
            norm=norm,
            base_c=base_c,
        )
        ours = F.chroma_filterbank(**kw)
        assert ours.dtype == torch.float32
        assert _rel_err(ours, librosa.filters.chroma(**kw)) <= 1e-6, kw


def test_frequency_conversions_match_librosa():
    hz = np.array([0.0, 1.0, 440.0, 999.999, 1000.0, 1000.001, 8000.0, 22050.0])
    for htk in (False, True):
        np.testing.assert_allclose(
            F.hz_to_mel(torch.from_numpy(hz), htk=htk).numpy(),
            librosa.hz_to_mel(hz, htk=htk),
            rtol=1e-13,
        )
        mels = librosa.hz_to_mel(hz, htk=htk)
        np.testing.assert_allclose(
            F.mel_to_hz(torch.from_numpy(mels), htk=htk).numpy(),
            librosa.mel_to_hz(mels, htk=htk),
            rtol=1e-13,
            atol=1e-12,
        )
        assert float(F.hz_to_mel(440.0, htk=htk)) == pytest.approx(
            librosa.hz_to_mel(440.0, htk=htk)
        )
        np.testing.assert_allclose(
            F.mel_frequencies(40, fmin=30.0, fmax=8000.0, htk=htk).numpy(),
            librosa.mel_frequencies(40, fmin=30.0, fmax=8000.0, htk=htk),
            rtol=1e-13,
        )
    np.testing.assert_array_equal(
        F.fft_frequencies(sr=44100, n_fft=1023).numpy(),
        librosa.fft_frequencies(sr=44100, n_fft=1023),
    )
    np.testing.assert_allclose(
        F.hz_to_octs(torch.from_numpy(hz[1:]), tuning=0.2, bins_per_octave=24).numpy(),
        librosa.hz_to_octs(hz[1:], tuning=0.2, bins_per_octave=24),
        rtol=1e-13,
    )


def test_conversions_keep_dtype_device_and_gradients_finite():
    # Both sides of Slaney's 1 kHz break and 0 Hz: no NaN from the unused log branch.
    hz = torch.tensor([0.0, 500.0, 1000.0, 4000.0], requires_grad=True)
    mel = F.hz_to_mel(hz)
    assert mel.dtype == torch.float32
    mel.sum().backward()
    assert torch.isfinite(hz.grad).all()
    m = torch.tensor([0.0, 10.0, 15.0, 40.0], dtype=torch.float64, requires_grad=True)
    F.mel_to_hz(m).sum().backward()
    assert torch.isfinite(m.grad).all()


# -- cache ---------------------------------------------------------------------------------
def test_mel_filterbank_is_cached_per_parameters_device_and_dtype():
    filters.cache_clear()
    F.mel_filterbank(sr=16000, n_fft=512, n_mels=40)
    F.mel_filterbank(sr=16000, n_fft=512, n_mels=40)
    info = filters.cache_info()["mel"]
    assert (info.hits, info.misses) == (1, 1)
    F.mel_filterbank(sr=16000, n_fft=512, n_mels=40, dtype=torch.float64)  # another dtype
    F.mel_filterbank(sr=16000, n_fft=512, n_mels=41)  # other parameters
    info = filters.cache_info()["mel"]
    assert (info.hits, info.misses) == (1, 3)
    # the feature functions use the same cache
    y = torch.randn(4000)
    F.melspectrogram(y, sr=16000, n_fft=512, n_mels=40)
    F.melspectrogram(y, sr=16000, n_fft=512, n_mels=40)
    assert filters.cache_info()["mel"].hits == 3


def test_mutating_a_returned_filterbank_cannot_corrupt_the_cache():
    filters.cache_clear()
    kw = dict(sr=22050, n_fft=1024, n_mels=64)
    first = F.mel_filterbank(**kw)
    expected = first.clone()
    first.fill_(-1.0)  # a careless caller
    again = F.mel_filterbank(**kw)
    assert filters.cache_info()["mel"].hits == 1  # served from the cache...
    torch.testing.assert_close(again, expected, rtol=0, atol=0)  # ...unchanged
    y = torch.randn(8000)
    S = F.spectrogram(y, n_fft=1024, power=2.0)
    torch.testing.assert_close(F.melspectrogram(y, sr=22050, n_fft=1024, n_mels=64), expected @ S)

    chroma = F.chroma_filterbank(sr=22050, n_fft=1024, tuning=0.1)
    chroma_expected = chroma.clone()
    chroma.zero_()
    torch.testing.assert_close(
        F.chroma_filterbank(sr=22050, n_fft=1024, tuning=0.1), chroma_expected
    )
    assert filters.cache_info()["chroma"].hits >= 1
