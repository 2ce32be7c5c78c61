"""Waveform quality metrics on cases whose answer is known by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from torchmusic.errors import ParameterError
from torchmusic.features import FeatureConfig
from torchmusic.metrics.audio import log_mel_l1, mr_stft_distance, si_sdr

SR = 22050


def _music(seconds: float = 1.0, seed: int = 0) -> np.ndarray:
    """A loud chord with vibrato plus a little noise: energy in every mel band."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * SR)) / SR
    y = sum(
        0.2 * np.sin(2 * np.pi * f * t + 3 * np.sin(2 * np.pi * 5 * t)) for f in (220, 277, 330)
    )
    return y + 0.05 * rng.standard_normal(t.size)


def _with_snr(x: np.ndarray, snr_db: float, seed: int = 1) -> np.ndarray:
    noise = np.random.default_rng(seed).standard_normal(x.size)
    noise *= np.sqrt(np.sum(x**2) / np.sum(noise**2) / 10 ** (snr_db / 10))
    return x + noise


def test_identical_signals_give_zero_distance_and_infinite_si_sdr():
    x = _music()
    assert log_mel_l1(x, x) == 0.0
    assert mr_stft_distance(x, x) == {
        "spectral_convergence": 0.0,
        "log_magnitude": 0.0,
        "mr_stft": 0.0,
    }
    assert si_sdr(x, x) > 100  # +inf, or a huge number from float rounding


@pytest.mark.parametrize("gain", [0.5, 2.0, 3.0])
def test_a_scaled_copy(gain):
    x = _music()
    assert log_mel_l1(x, gain * x) == pytest.approx(abs(20 * math.log10(gain)), abs=1e-6)
    assert si_sdr(x, gain * x) > 100  # scale-invariant
    sc = mr_stft_distance(x, gain * x)["spectral_convergence"]
    assert sc == pytest.approx(abs(gain - 1), rel=1e-9)  # ||R - gR|| / ||R||
    lm = mr_stft_distance(x, gain * x)["log_magnitude"]
    assert lm == pytest.approx(abs(math.log(gain)), rel=1e-3)  # no bin near the 1e-7 floor


@pytest.mark.parametrize("snr", [0.0, 10.0, 20.0, 30.0])
def test_si_sdr_of_white_noise_at_a_known_snr(snr):
    x = _music(2.0)
    assert si_sdr(x, _with_snr(x, snr)) == pytest.approx(snr, abs=0.5)


def test_more_noise_is_worse_on_every_metric():
    x = _music()
    slight, heavy = _with_snr(x, 30), _with_snr(x, 5)
    assert log_mel_l1(x, slight) < log_mel_l1(x, heavy)
    assert mr_stft_distance(x, slight)["mr_stft"] < mr_stft_distance(x, heavy)["mr_stft"]


def test_batches_tensors_and_reduction():
    x = np.stack([_music(seed=s) for s in range(3)])
    est = np.stack([_with_snr(x[i], snr, seed=i) for i, snr in enumerate((5, 15, 25))])
    per_item = si_sdr(torch.from_numpy(x).float(), torch.from_numpy(est).float(), reduction="none")
    assert per_item.shape == (3,) and np.all(np.diff(per_item) > 8)
    assert si_sdr(x, est) == pytest.approx(per_item.mean(), abs=1e-3)  # float32 input: close
    assert log_mel_l1(x, est, reduction="none").shape == (3,)
    d = mr_stft_distance(x[None], est[None], reduction="none")
    assert {k: v.shape for k, v in d.items()} == dict.fromkeys(d, (1, 3))
    assert d["mr_stft"] == pytest.approx(d["spectral_convergence"] + d["log_magnitude"])


def test_silence():
    x, silent = _music(), np.zeros(SR)
    assert math.isnan(si_sdr(silent, x))  # undefined: nothing to compare with
    assert si_sdr(x, silent) == -math.inf
    d = mr_stft_distance(silent, x)
    assert math.isnan(d["spectral_convergence"]) and d["log_magnitude"] > 0
    both = si_sdr(np.stack([x, silent]), np.stack([x, x]), reduction="none")
    assert both[0] > 100 and math.isnan(both[1])  # one silent item does not stop a batch


def test_log_mel_l1_takes_a_feature_config():
    x = _music()
    small = FeatureConfig(n_fft=512, hop_length=128, n_mels=40, top_db=None)
    assert log_mel_l1(x, 2 * x, feature=small) == pytest.approx(20 * math.log10(2), abs=1e-6)
    with pytest.raises(ParameterError, match="kind='logmel'"):
        log_mel_l1(x, x, feature=FeatureConfig(kind="mfcc"))


@pytest.mark.parametrize(
    ("reference", "estimate", "match"),
    [
        (np.zeros(100), np.zeros(99), r"reference \(100,\) and estimate \(99,\)"),
        (np.zeros(0), np.zeros(0), r"shape \(0,\)"),
        (np.array(1.0), np.array(1.0), r"shape \(\)"),
        (np.full(100, np.nan), np.zeros(100), "NaN or Inf"),
        (np.zeros(100, dtype=np.int16), np.zeros(100, dtype=np.int16), "int16"),
        (["a"], ["b"], "numeric"),
    ],
)
def test_bad_inputs_are_named(reference, estimate, match):
    with pytest.raises(ParameterError, match=match):
        si_sdr(reference, estimate)


def test_bad_settings_are_echoed():
    x = _music(0.2)
    with pytest.raises(ParameterError, match="reduction='sum'"):
        si_sdr(x, x, reduction="sum")
    with pytest.raises(ParameterError, match=r"resolutions=\[\(512, 128, 1024\)\]"):
        mr_stft_distance(x, x, [(512, 128, 1024)])
    with pytest.raises(ParameterError, match=r"resolutions=\(\)"):
        mr_stft_distance(x, x, ())
