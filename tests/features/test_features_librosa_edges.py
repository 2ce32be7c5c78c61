"""Parity with librosa on synthetic inputs that reach its edge behaviour.

Framing and padding (short signals, hops longer than half a frame, every pad mode),
windows, delta edge modes, piptrack/tuning, normalisations and the dB helpers.
Small float64 inputs, so these compare to ~1e-10 and run in milliseconds.
"""

from __future__ import annotations

import itertools
import math
import warnings

import librosa
import numpy as np
import pytest
import scipy.signal
import torch

import torchmusic.features as F


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh seeded generator per test, so results do not depend on test order."""
    return np.random.default_rng(1234)


def _close(ours: torch.Tensor, ref: np.ndarray, rtol: float = 1e-10) -> None:
    got = ours.detach().cpu().numpy()
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=0, atol=rtol * max(float(np.abs(ref).max()), 1e-300))


@pytest.mark.parametrize("pad_mode", ["constant", "edge", "reflect", "symmetric"])
def test_stft_framing_matches_librosa(pad_mode, rng):
    # Lengths from 1 sample up; hops shorter, equal to and longer than n_fft / 2 and
    # n_fft; odd n_fft; win_length < n_fft. librosa pads the head and tail separately,
    # which differs from padding the whole signal for reflect modes near the end.
    y_all = rng.standard_normal(1100)
    cases = itertools.product(
        [1, 7, 16, 33, 100, 1024, 1056, 1100], [16, 17, 64], [1, 5, 32, 70], [None, 10]
    )
    checked = 0
    for length, n_fft, hop, win in cases:
        y = y_all[:length]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # librosa warns when n_fft > len(y)
            ref = librosa.stft(y, n_fft=n_fft, hop_length=hop, win_length=win, pad_mode=pad_mode)
        ours = F.stft(
            torch.from_numpy(y), n_fft=n_fft, hop_length=hop, win_length=win, pad_mode=pad_mode
        )
        assert ours.dtype == torch.complex128
        _close(ours, ref)
        if length >= n_fft:
            ref = librosa.stft(y, n_fft=n_fft, hop_length=hop, win_length=win, center=False)
            _close(
                F.stft(
                    torch.from_numpy(y), n_fft=n_fft, hop_length=hop, win_length=win, center=False
                ),
                ref,
            )
        checked += 1
    assert checked == 8 * 3 * 4 * 2


def test_stft_reflect_tail_quirk_is_reproduced(rng):
    # With hop = n_fft/2 the last frame's tail is a reflection of a suffix only
    # n_fft/2 long: padding the whole signal would give a different last frame.
    y = rng.standard_normal(1056)
    ref = librosa.stft(y, n_fft=64, hop_length=32, pad_mode="reflect")
    naive = librosa.stft(np.pad(y, 32, mode="reflect"), n_fft=64, hop_length=32, center=False)
    assert np.abs(ref - naive).max() > 1e-6  # the quirk is real...
    _close(
        F.stft(torch.from_numpy(y), n_fft=64, hop_length=32, pad_mode="reflect"), ref
    )  # ...and kept


@pytest.mark.parametrize(
    "window",
    [
        "hann",
        "hamming",
        "blackman",
        ("kaiser", 8.0),
        ("tukey", 0.3),
        6.0,
        scipy.signal.windows.cosine,
    ],
    ids=["hann", "hamming", "blackman", "kaiser8", "tukey0.3", "beta6", "callable"],
)
def test_stft_windows(window, rng):
    y = rng.standard_normal(2000)
    ref = librosa.stft(y, n_fft=256, hop_length=64, win_length=200, window=window)
    _close(
        F.stft(torch.from_numpy(y), n_fft=256, hop_length=64, win_length=200, window=window), ref
    )


def test_stft_window_as_samples(rng):
    y = rng.standard_normal(2000)
    samples = scipy.signal.get_window("hann", 200) ** 2
    ref = librosa.stft(y, n_fft=256, hop_length=64, win_length=200, window=samples)
    for window in (samples, torch.from_numpy(samples)):
        _close(
            F.stft(torch.from_numpy(y), n_fft=256, hop_length=64, win_length=200, window=window),
            ref,
        )


def test_stft_float32_input_gives_complex64_with_float64_accuracy(rng):
    # librosa computes the FFT of float32 frames in float64 (its window is float64);
    # quiet bins then still agree to ~1e-6 relative, not just relative to the peak.
    y = (rng.standard_normal(4096) * np.logspace(0, -4, 4096)).astype(np.float32)
    ref = np.abs(librosa.stft(y, n_fft=512, hop_length=128))
    ours = F.spectrogram(torch.from_numpy(y), n_fft=512, hop_length=128)
    assert ours.dtype == torch.float32
    np.testing.assert_allclose(ours.numpy(), ref, rtol=2e-6, atol=1e-12)


@pytest.mark.parametrize("mode", ["interp", "mirror", "nearest", "wrap", "constant"])
def test_delta_matches_librosa(mode, rng):
    data = rng.standard_normal((3, 4, 25))
    for width, order in [(3, 1), (5, 2), (9, 1), (11, 3), (25, 2)]:
        ref = librosa.feature.delta(data, width=width, order=order, mode=mode)
        _close(F.delta(torch.from_numpy(data), width=width, order=order, mode=mode), ref, rtol=1e-9)
    # another axis, and (not interp) data shorter than the window
    ref = librosa.feature.delta(data, width=3, axis=1, mode=mode)
    _close(F.delta(torch.from_numpy(data), width=3, axis=1, mode=mode), ref, rtol=1e-9)
    if mode != "interp":
        short = data[..., :3]
        ref = librosa.feature.delta(short, width=9, mode=mode)
        _close(F.delta(torch.from_numpy(short), width=9, mode=mode), ref, rtol=1e-9)


def _tones(rng: np.random.Generator, sr: int = 22050, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    y = sum(
        np.sin(2 * np.pi * f * t) / (k + 1) for k, f in enumerate([220.0, 331.0, 445.0, 1230.0])
    )
    return y + 0.01 * rng.standard_normal(t.size)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_piptrack_matches_librosa(dtype, rng):
    y = _tones(rng).astype(dtype)
    yt = torch.from_numpy(y)
    for kw_ours, kw_ref in [
        ({}, {}),
        (
            {"fmin": 50.0, "fmax": 2000.0, "threshold": 0.3},
            {"fmin": 50.0, "fmax": 2000.0, "threshold": 0.3},
        ),
        ({"ref": torch.mean}, {"ref": np.mean}),
        ({"ref": 0.5, "n_fft": 1024}, {"ref": 0.5, "n_fft": 1024}),
        # The band touching both ends of the spectrum (peaks are searched on the
        # band only, with the spectrum's edge rules there).
        ({"fmin": 0.0, "fmax": 11025.0}, {"fmin": 0.0, "fmax": 11025.0}),
    ]:
        pitches, mags = librosa.piptrack(y=y, sr=22050, **kw_ref)
        ours_p, ours_m = F.piptrack(yt, sr=22050, **kw_ours)
        assert ours_p.dtype == yt.dtype
        assert np.array_equal(ours_p.numpy() > 0, pitches > 0), kw_ref  # same peaks
        np.testing.assert_allclose(ours_p.numpy(), pitches, rtol=1e-5)
        np.testing.assert_allclose(ours_m.numpy(), mags, rtol=1e-5, atol=1e-5 * np.abs(mags).max())


def test_piptrack_and_tuning_of_a_batch_equal_each_item(rng):
    y = np.stack([_tones(rng), 0.5 * _tones(rng)[::-1].copy()]).astype(np.float32)
    pitches, mags = F.piptrack(torch.from_numpy(y), sr=22050)
    tunings = F.estimate_tuning(torch.from_numpy(y), sr=22050, fmin=0.0, fmax=11025.0)
    for i in range(2):
        ref_p, ref_m = librosa.piptrack(y=y[i], sr=22050)
        assert np.array_equal(pitches[i].numpy() > 0, ref_p > 0)
        np.testing.assert_allclose(pitches[i].numpy(), ref_p, rtol=1e-5)
        np.testing.assert_allclose(mags[i].numpy(), ref_m, rtol=1e-5, atol=1e-5 * ref_m.max())
        expected = librosa.estimate_tuning(y=y[i], sr=22050, fmin=0.0, fmax=11025.0)
        assert float(tunings[i]) == pytest.approx(expected, abs=1e-9)


def test_pitch_tuning_and_estimate_tuning(rng):
    for _ in range(5):
        freqs = 440.0 * 2.0 ** (rng.normal(0, 1, 200) + rng.normal(0.2, 0.05, 200) / 12)
        for resolution, bpo in [(0.01, 12), (0.05, 12), (0.02, 24)]:
            expected = librosa.pitch_tuning(freqs, resolution=resolution, bins_per_octave=bpo)
            got = F.pitch_tuning(
                torch.from_numpy(freqs), resolution=resolution, bins_per_octave=bpo
            )
            assert got == pytest.approx(expected, abs=1e-12)
    y = _tones(rng)
    assert float(F.estimate_tuning(torch.from_numpy(y), sr=22050)) == pytest.approx(
        librosa.estimate_tuning(y=y, sr=22050), abs=1e-12
    )
    assert float(
        F.estimate_tuning(torch.from_numpy(y), sr=22050, bins_per_octave=36, resolution=0.02)
    ) == (
        pytest.approx(
            librosa.estimate_tuning(y=y, sr=22050, bins_per_octave=36, resolution=0.02), abs=1e-12
        )
    )


def test_tuning_of_silence_is_zero_with_warning():
    with pytest.warns(UserWarning, match="empty frequency set"):
        assert F.pitch_tuning(torch.tensor([0.0, -1.0])) == 0.0
    with pytest.warns(UserWarning, match="empty frequency set"):
        assert float(F.estimate_tuning(torch.zeros(4096), sr=22050)) == 0.0


@pytest.mark.parametrize("norm", [math.inf, -math.inf, 0, 1, 2, 3.5, None])
def test_chroma_norms(norm, rng):
    y = _tones(rng)
    ref = librosa.feature.chroma_stft(y=y, sr=22050, norm=norm, n_fft=1024, hop_length=256)
    _close(
        F.chroma_stft(torch.from_numpy(y), sr=22050, norm=norm, n_fft=1024, hop_length=256),
        ref,
        1e-9,
    )


def test_features_from_precomputed_spectrograms(rng):
    # S= inputs: n_fft is inferred from the bins when it does not match, as in librosa.
    y = _tones(rng)
    S = np.abs(librosa.stft(y, n_fft=1024)) ** 2
    St = torch.from_numpy(S)
    _close(
        F.melspectrogram(S=St, sr=22050, n_mels=40),
        librosa.feature.melspectrogram(S=S, sr=22050, n_mels=40),
    )
    _close(F.chroma_stft(S=St, sr=22050), librosa.feature.chroma_stft(S=S, sr=22050), 1e-9)
    logmel = librosa.power_to_db(librosa.feature.melspectrogram(S=S, sr=22050, n_mels=40))
    for dct_type, norm in [(2, "ortho"), (2, None), (3, "ortho"), (1, None), (2, "forward")]:
        ref = librosa.feature.mfcc(S=logmel, n_mfcc=12, dct_type=dct_type, norm=norm, lifter=10)
        ours = F.mfcc(
            S=torch.from_numpy(logmel), n_mfcc=12, dct_type=dct_type, norm=norm, lifter=10
        )
        _close(ours, ref)


def test_db_functions_match_librosa(rng):
    S = np.abs(rng.standard_normal((2, 30, 40))) ** 3  # wide dynamic range
    S[0, :3] = 0.0
    St = torch.from_numpy(S)
    for kw in [{}, {"amin": 1e-3}, {"top_db": None}, {"top_db": 10.0}, {"ref": 0.3}]:
        _close(F.power_to_db(St[0], **kw), librosa.power_to_db(S[0], **kw))
        _close(F.amplitude_to_db(St[0], **kw), librosa.amplitude_to_db(S[0], **kw))
    _close(F.power_to_db(St[1], ref=torch.amax), librosa.power_to_db(S[1], ref=np.max))
    _close(F.power_to_db(St[1], ref=torch.max), librosa.power_to_db(S[1], ref=np.max))
    _close(F.amplitude_to_db(St[1], ref=torch.amax), librosa.amplitude_to_db(S[1], ref=np.max))
    D = rng.standard_normal((20, 10)) * 20
    _close(F.db_to_power(torch.from_numpy(D), ref=2.0), librosa.db_to_power(D, ref=2.0))
    _close(F.db_to_amplitude(torch.from_numpy(D), ref=2.0), librosa.db_to_amplitude(D, ref=2.0))
    # complex input: the magnitude is used, with a warning (as librosa)
    C = S[1] * np.exp(1j * rng.uniform(0, 6, S[1].shape))
    with pytest.warns(UserWarning, match="phase"):
        ours = F.amplitude_to_db(torch.from_numpy(C))
    with pytest.warns(UserWarning):
        ref = librosa.amplitude_to_db(C)
    _close(ours, ref)


def test_db_reference_and_floor_are_per_item():
    S = (
        torch.rand(3, 5, 7, dtype=torch.float64)
        * torch.tensor([1.0, 1e-3, 1e3], dtype=torch.float64)[:, None, None]
    )
    out = F.power_to_db(S, ref=torch.amax, top_db=20.0)
    for i in range(3):
        _close(out[i], librosa.power_to_db(S[i].numpy(), ref=np.max, top_db=20.0))
    assert out.amax(dim=(-2, -1)).tolist() == pytest.approx([0.0, 0.0, 0.0], abs=1e-12)
