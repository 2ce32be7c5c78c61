"""Denoising baselines on synthetic cases with known answers, and their contracts."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import torch

from torchmusic.data.mixtures import mix_at_snr
from torchmusic.data.noise import mains_hum, vinyl_clicks
from torchmusic.enhance import declick, dehum, detect_hum, spectral_gate, wiener
from torchmusic.errors import ParameterError
from torchmusic.metrics.audio import si_sdr

SR = 16000
T = np.arange(2 * SR) / SR
TONE = 0.5 * np.sin(2 * np.pi * 440 * T)
WHITE = np.random.default_rng(0).standard_normal(T.size)


def energy_db(x: np.ndarray, ref: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(np.square(x)) / np.sum(np.square(ref))))


def melody(seconds: float = 2.0) -> np.ndarray:
    """Plucked notes with partials, none within 5 % of a 50 Hz harmonic below 500 Hz."""
    t = np.arange(round(seconds * SR)) / SR
    y = np.zeros_like(t)
    notes = [277.2, 311.1, 370.0, 415.3]
    for i, f in enumerate(notes):
        start = round(i * seconds / len(notes) * SR)
        tt = t[: t.size - start]
        note = sum(0.6**k * np.sin(2 * np.pi * f * (k + 1) * tt) for k in range(4))
        y[start:] += note * np.exp(-3 * tt) * np.minimum(1, tt * 200)
    return 0.3 * y / np.sqrt(np.mean(y**2))


# -- known answers ----------------------------------------------------------------------------


@pytest.mark.parametrize("f0", [50.0, 60.0])
def test_dehum_removes_a_pure_hum_below_minus_40_db(f0):
    hum = mains_hum(T.size, SR, f0=f0, harmonics=6, drift=0.0, rng=0).astype(np.float64)
    assert abs(detect_hum(hum, SR) - f0) < 0.05
    assert energy_db(dehum(hum, SR), hum) < -40  # auto-detected f0
    assert energy_db(dehum(0.1 * hum, SR, f0=f0, refine=False), 0.1 * hum) < -40


def test_dehum_keeps_music_and_leaves_hum_free_audio_alone():
    music = melody()
    hum = mains_hum(music.size, SR, f0=50.0, drift=0.002, rng=1)
    noisy = mix_at_snr(music, hum, 0.0)
    assert si_sdr(music, dehum(noisy, SR)) > 20  # from 0 dB
    with pytest.warns(UserWarning, match="no mains hum"):
        out = dehum(music, SR)
    assert np.array_equal(out, music)
    assert detect_hum(WHITE, SR) is None


def test_declick_removes_a_click_train_from_a_sine():
    clicks, onsets = vinyl_clicks(
        T.size, SR, rate_per_s=5, thump_probability=0.0, rng=0, return_onsets=True
    )
    noisy = TONE + 0.05 * clicks  # clicks peak at ~5x the sine
    assert len(onsets) >= 5 and energy_db(noisy - TONE, TONE) > -20
    out = declick(noisy, SR)
    # Bound: the error left is 40 dB under the sine, no sample off by more than 1 %
    # of the sine's amplitude (measured: about -75 dB and 0.4 %).
    assert energy_db(out - TONE, TONE) < -40
    assert np.abs(out - TONE).max() < 0.005
    assert si_sdr(TONE, declick(TONE, SR)) > 60  # nothing to repair in a clean sine


@pytest.mark.parametrize(
    "denoise",
    [
        lambda y: spectral_gate(y, SR),
        lambda y: spectral_gate(y, SR, stationary=False),
        lambda y: spectral_gate(y, SR, noise_profile=WHITE[: SR // 2]),
        lambda y: wiener(y, SR),
        lambda y: wiener(y, SR, gain="mmse-stsa"),
    ],
    ids=["gate", "gate-nonstationary", "gate-profile", "wiener", "mmse-stsa"],
)
def test_spectral_methods_improve_a_tone_in_white_noise_at_0_db(denoise):
    noisy = mix_at_snr(TONE, WHITE, 0.0)
    before = si_sdr(TONE, noisy)
    assert abs(before) < 0.1
    assert si_sdr(TONE, denoise(noisy)) - before > 5
    assert si_sdr(TONE, denoise(TONE)) > 30  # clean in: almost untouched


# -- contracts --------------------------------------------------------------------------------

METHODS = {
    "gate": lambda y, **kw: spectral_gate(y, SR, n_fft=512, **kw),
    "wiener": lambda y, **kw: wiener(y, SR, n_fft=512, **kw),
    "dehum": lambda y, **kw: dehum(y, SR, f0=50.0, **kw),
    "declick": lambda y, **kw: declick(y, SR, **kw),
}


def _input(kind: str) -> np.ndarray | torch.Tensor:
    base = TONE[: SR // 2] + 0.1 * WHITE[: SR // 2] + 0.05 * mains_hum(SR // 2, SR, rng=0)
    base[[1500, 4000, 6500]] += 2.0  # clicks (20 noise sd), for declick to find
    stereo = np.stack([base, 0.5 * base[::-1]])
    return {
        "numpy-mono-f32": base.astype(np.float32),
        "numpy-stereo-f64": stereo,
        "torch-mono-f64": torch.from_numpy(base.copy()),
        "torch-stereo-f32": torch.from_numpy(stereo.astype(np.float32)),
    }[kind]


@pytest.mark.parametrize("method", sorted(METHODS))
@pytest.mark.parametrize(
    "kind", ["numpy-mono-f32", "numpy-stereo-f64", "torch-mono-f64", "torch-stereo-f32"]
)
def test_shape_type_and_dtype_are_kept(method, kind):
    y = _input(kind)
    out = METHODS[method](y)
    assert type(out) is type(y) and out.shape == y.shape and out.dtype == y.dtype
    assert bool(np.isfinite(np.asarray(out)).all())
    diff = np.asarray(out, dtype=np.float64) - np.asarray(y, dtype=np.float64)
    assert np.abs(diff).max() > 1e-4  # it did something


@pytest.mark.parametrize("method", sorted(METHODS))
def test_strength_zero_returns_the_input_exactly(method):
    for y in (_input("numpy-stereo-f64"), _input("torch-mono-f64")):
        out = METHODS[method](y, strength=0)
        assert out is not y
        assert torch.equal(torch.as_tensor(out), torch.as_tensor(y))


def test_strength_scales_what_is_removed():
    y = _input("numpy-stereo-f64")
    full, half = dehum(y, SR, f0=50.0), dehum(y, SR, f0=50.0, strength=0.5)
    assert np.allclose(half, (y + full) / 2, atol=1e-12)
    noisy = mix_at_snr(TONE, WHITE, 0.0)
    removed = [np.sum((noisy - spectral_gate(noisy, SR, strength=s)) ** 2) for s in (0.3, 1.0)]
    assert removed[0] < removed[1]


def test_stereo_shares_one_mask_and_a_mono_profile_serves_both_channels():
    noisy = mix_at_snr(TONE, WHITE, 0.0)
    stereo = np.stack([noisy, noisy])
    out = spectral_gate(stereo, SR, noise_profile=WHITE[:4096])
    assert np.array_equal(out[0], out[1])
    assert np.allclose(out[0], spectral_gate(noisy, SR, noise_profile=WHITE[:4096]), atol=1e-6)
    assert np.allclose(wiener(stereo, SR)[1], wiener(noisy, SR), atol=1e-6)


def test_silence_comes_back_silent():
    zeros = np.zeros(SR // 2)
    for denoise in (spectral_gate, wiener, declick):
        assert np.array_equal(denoise(zeros, SR), zeros)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.array_equal(dehum(zeros, SR), zeros)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_bad_input_is_refused_by_name(method):
    y = TONE[:4096].copy()
    y[100] = np.nan
    with pytest.raises(ParameterError, match=r"y contains 1 non-finite samples \(NaN first"):
        METHODS[method](y)
    with pytest.raises(ParameterError, match="dtype int16"):
        METHODS[method](np.zeros(4096, dtype=np.int16))
    with pytest.raises(ParameterError, match=r"shape \(1, 2, 4096\)"):
        METHODS[method](np.zeros((1, 2, 4096)))
    with pytest.raises(ParameterError, match=r"strength=1\.5"):
        METHODS[method](TONE[:4096], strength=1.5)
    with pytest.raises(ParameterError, match="list"):
        METHODS[method]([0.0] * 4096)


def test_bad_settings_are_refused_with_their_value():
    y = TONE[:8192]
    cases = [
        (lambda: spectral_gate(y, 0), "sr=0"),
        (lambda: spectral_gate(y, SR, noise_profile=WHITE[:1000]), "1000 samples, shorter"),
        (lambda: spectral_gate(y, SR, noise_profile=WHITE, stationary=False), "stationary=True"),
        (lambda: spectral_gate(y, SR, n_fft=1001), "n_fft=1001"),
        (lambda: spectral_gate(y, SR, n_fft=1024, hop_length=300), "hop_length=300"),
        (lambda: wiener(y, SR, gain="spectral"), "gain='spectral'"),
        (lambda: dehum(y, SR, f0=9000.0), "f0=9000.0"),
        (lambda: dehum(y, SR, q=-1), "q=-1"),
        (lambda: declick(y, SR, max_width_ms=0), "max_width_ms=0"),
        (lambda: declick(y, SR, order=1), "order=1"),
    ]
    for call, message in cases:
        with pytest.raises(ParameterError, match=re.escape(message)):
            call()
    nan_profile = WHITE[:4096].copy()
    nan_profile[0] = np.inf
    with pytest.raises(ParameterError, match="noise_profile contains 1 non-finite"):
        spectral_gate(y, SR, noise_profile=nan_profile)
