"""Onset strength and tempogram: parity with librosa 0.11 on every real recording,
batches, a hand-checkable pulse, and clear errors."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import torch
from feature_helpers import assert_rel_close

from torchmusic.errors import ParameterError
from torchmusic.features import rhythm
from torchmusic.features.rhythm import onset_strength, tempogram

ONSET_SETTINGS = {
    "default": {},
    "hop256_lag2": {"hop_length": 256, "lag": 2},
    "mels64_nfft1024": {"n_mels": 64, "n_fft": 1024},
    "center_false": {"center": False},
}


@pytest.mark.parametrize("setting", list(ONSET_SETTINGS))
def test_onset_strength_equals_librosa(clip, setting):
    y, sr = clip
    kw = ONSET_SETTINGS[setting]
    want = librosa.onset.onset_strength(y=y, sr=sr, **kw)
    assert_rel_close(onset_strength(torch.from_numpy(y.copy()), sr=sr, **kw), want, setting)


@pytest.mark.parametrize(
    "kw", [{}, {"win_length": 128}, {"center": False}, {"norm": None}], ids=str
)
def test_tempogram_equals_librosa(clip, kw):
    y, sr = clip
    env = librosa.onset.onset_strength(y=y, sr=sr)
    if kw.get("center") is False and env.size < 384:  # librosa refuses it too
        with pytest.raises(ParameterError, match="tempogram needs at least win_length=384"):
            tempogram(torch.from_numpy(env), **kw)
        return
    want = librosa.feature.tempogram(onset_envelope=env, sr=sr, **kw)
    assert_rel_close(tempogram(torch.from_numpy(env), **kw), want, str(kw))


def test_float64_is_exact_and_batches_equal_items(monkeypatch):
    g = np.random.default_rng(0)
    y = g.standard_normal((2, 3, 22050 * 2))
    env = onset_strength(torch.from_numpy(y))
    assert env.dtype == torch.float64 and env.shape == (2, 3, 87)
    for i, j in [(0, 0), (1, 2)]:
        want = librosa.onset.onset_strength(y=y[i, j], sr=22050)
        np.testing.assert_allclose(env[i, j].numpy(), want, rtol=0, atol=1e-12)
    # Long envelopes are autocorrelated in blocks of frames: the seams must not show.
    monkeypatch.setattr(rhythm, "_FRAME_BLOCK", 50)
    e = g.random(333)
    np.testing.assert_allclose(
        tempogram(torch.from_numpy(e)).numpy(),
        librosa.feature.tempogram(onset_envelope=e),
        rtol=0,
        atol=1e-12,
    )


def test_a_click_every_12_frames_peaks_at_lag_12_and_its_multiples():
    env = torch.zeros(1000, dtype=torch.float64)
    env[::12] = 1.0
    profile = tempogram(env)[:, 200:800].mean(-1)
    assert profile[0] == pytest.approx(1.0)
    peaks = torch.argsort(profile[1:48], descending=True)[:3] + 1
    assert sorted(peaks.tolist()) == [12, 24, 36]
    assert float(profile[6]) < 1e-9  # no onset half-way between clicks


def test_bad_input_is_named():
    with pytest.raises(ParameterError, match="lag=0"):
        onset_strength(torch.zeros(4096), lag=0)
    with pytest.raises(ParameterError, match="onset strength needs more than lag=3 frames"):
        onset_strength(torch.zeros(1024), lag=3)
    with pytest.raises(ParameterError, match="win_length"):
        tempogram(torch.rand(10), win_length=64, center=False)
    with pytest.raises(ParameterError):
        tempogram(torch.full((100,), float("nan")))
