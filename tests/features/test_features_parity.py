"""Parity with librosa 0.11 on every real recording and MIR clip in ../shared/data.

Each file is loaded once (mono, native rate, float32, first 30 s) and the same array
goes to both libraries. Every feature is checked with librosa's defaults and at
least three other settings: max|torchmusic - librosa| <= 1e-4 * max|librosa|, and
dB outputs within 1e-3 dB, all in float32. The same tests run on CUDA when present.
"""

from __future__ import annotations

import functools
from typing import Any

import librosa
import numpy as np
import pytest
import torch
from feature_helpers import assert_db_close, assert_rel_close, load_clip

import torchmusic.features as F

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)]

SPEC_SETTINGS: dict[str, dict[str, Any]] = {
    "default": {},
    "nfft1024_hop256": {"n_fft": 1024, "hop_length": 256},
    "center_false_power2": {"center": False, "power": 2.0},
    "win1024_reflect": {"win_length": 1024, "hop_length": 512, "pad_mode": "reflect"},
}
MEL_SETTINGS: dict[str, dict[str, Any]] = {
    "default": {},
    "nfft1024_hop256": {"n_fft": 1024, "hop_length": 256},
    "mels64_fmin30_fmax8000": {"n_mels": 64, "fmin": 30.0, "fmax": 8000.0},
    "htk_norm_none": {"htk": True, "norm": None},
}
# (mel setting, power_to_db keywords: ours, librosa's)
DB_SETTINGS: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "default": ("default", {}, {}),
    "ref_max": ("htk_norm_none", {"ref": torch.amax}, {"ref": np.max}),
    "top_db_none_amin1e-5": (
        "mels64_fmin30_fmax8000",
        {"top_db": None, "amin": 1e-5},
        {"top_db": None, "amin": 1e-5},
    ),
    "ref_2_top_db_60": (
        "nfft1024_hop256",
        {"ref": 2.0, "top_db": 60.0},
        {"ref": 2.0, "top_db": 60.0},
    ),
}
MFCC_SETTINGS: dict[str, dict[str, Any]] = {
    "default": {},
    "n_mfcc13_lifter22": {"n_mfcc": 13, "lifter": 22},
    "mels40_htk_fmin20_fmax8000_nfft1024": {
        "n_mels": 40,
        "htk": True,
        "fmin": 20.0,
        "fmax": 8000.0,
        "n_fft": 1024,
        "hop_length": 256,
    },
    "dct3_norm_none_mel_norm_none": {"dct_type": 3, "norm": None, "mel_norm": None},
}
CHROMA_SETTINGS: dict[str, dict[str, Any]] = {
    "default": {},  # tuning=None: estimated with piptrack, like librosa
    "nfft1024_hop256": {"n_fft": 1024, "hop_length": 256},
    "n_chroma24_tuning0": {"n_chroma": 24, "tuning": 0.0},
    "norm2_center_false": {"norm": 2, "center": False},
}
DELTA_SETTINGS: dict[str, dict[str, Any]] = {
    "default": {},
    "width5_order2": {"width": 5, "order": 2},
    "mode_nearest": {"mode": "nearest"},
    "width3_axis-2": {"width": 3, "axis": -2},
    "mode_mirror_width7": {"mode": "mirror", "width": 7},
}


# librosa's results, computed once per session (the dB and delta tests reuse the mels
# and MFCCs). Keyed by file path and setting name.
@functools.cache
def lr_mel(path: str, setting: str) -> np.ndarray:
    y, sr = load_clip(path)
    return librosa.feature.melspectrogram(y=y, sr=sr, **MEL_SETTINGS[setting])


@functools.cache
def lr_mfcc(path: str, setting: str) -> np.ndarray:
    y, sr = load_clip(path)
    return librosa.feature.mfcc(y=y, sr=sr, **MFCC_SETTINGS[setting])


@functools.cache
def tm_mel(path: str, setting: str, device: str) -> torch.Tensor:
    y, sr = load_clip(path)
    return F.melspectrogram(torch.tensor(y, device=device), sr=sr, **MEL_SETTINGS[setting])


def _y(clip: tuple[np.ndarray, int], device: str) -> torch.Tensor:
    return torch.tensor(clip[0], device=device)  # a copy: the cached array is read-only


@pytest.mark.parametrize("device", DEVICES)
def test_spectrogram(clip, device):
    y, _ = clip
    for name, kw in SPEC_SETTINGS.items():
        kw = dict(kw)
        power = kw.pop("power", 1.0)
        ref = np.abs(librosa.stft(y, **kw)) ** power
        ours = F.spectrogram(_y(clip, device), power=power, **kw)
        assert ours.dtype == torch.float32 and ours.device.type == device
        assert_rel_close(ours, ref, f"spectrogram[{name}]")


@pytest.mark.parametrize("device", DEVICES)
def test_melspectrogram(clip, audio_file, shared_data, device):
    path = str(shared_data / audio_file)
    for name in MEL_SETTINGS:
        ours = tm_mel(path, name, device)
        assert ours.dtype == torch.float32 and ours.device.type == device
        assert_rel_close(ours, lr_mel(path, name), f"melspectrogram[{name}]")


@pytest.mark.parametrize("device", DEVICES)
def test_power_to_db_of_mel(clip, audio_file, shared_data, device):
    path = str(shared_data / audio_file)
    for name, (mel_setting, ours_kw, lr_kw) in DB_SETTINGS.items():
        ref = librosa.power_to_db(lr_mel(path, mel_setting), **lr_kw)
        ours = F.power_to_db(tm_mel(path, mel_setting, device), **ours_kw)
        assert_db_close(ours, ref, f"power_to_db[{name}]")


@pytest.mark.parametrize("device", DEVICES)
def test_amplitude_to_db_of_stft(clip, device):
    y, _ = clip
    for name, kw in {"default": {}, "ref_max_top_db_60": {"top_db": 60.0}}.items():
        ref_fn = {"ref": np.max} if name != "default" else {}
        ours_fn = {"ref": torch.amax} if name != "default" else {}
        ref = librosa.amplitude_to_db(np.abs(librosa.stft(y)), **ref_fn, **kw)
        ours = F.amplitude_to_db(F.spectrogram(_y(clip, device)), **ours_fn, **kw)
        assert_db_close(ours, ref, f"amplitude_to_db[{name}]")


@pytest.mark.parametrize("device", DEVICES)
def test_mfcc(clip, audio_file, shared_data, device):
    path = str(shared_data / audio_file)
    _, sr = clip
    for name, kw in MFCC_SETTINGS.items():
        ours = F.mfcc(_y(clip, device), sr=sr, **kw)
        assert_rel_close(ours, lr_mfcc(path, name), f"mfcc[{name}]")


@pytest.mark.parametrize("device", DEVICES)
def test_mfcc_delta(clip, audio_file, shared_data, device):
    path = str(shared_data / audio_file)
    _, sr = clip
    ours_mfcc = F.mfcc(_y(clip, device), sr=sr)
    for name, kw in DELTA_SETTINGS.items():
        ref = librosa.feature.delta(lr_mfcc(path, "default"), **kw)
        assert_rel_close(F.delta(ours_mfcc, **kw), ref, f"delta[{name}]")


@pytest.mark.parametrize("device", DEVICES)
def test_chroma_stft(clip, device):
    y, sr = clip
    for name, kw in CHROMA_SETTINGS.items():
        ref = librosa.feature.chroma_stft(y=y, sr=sr, **kw)
        ours = F.chroma_stft(_y(clip, device), sr=sr, **kw)
        assert_rel_close(ours, ref, f"chroma_stft[{name}]")


@pytest.mark.parametrize("device", DEVICES)
def test_estimate_tuning_matches_exactly(clip, device):
    # chroma_stft's default tuning comes from the power spectrogram; a different
    # histogram bin would shift every chroma filter, so the estimate must be identical.
    y, sr = clip
    S = np.abs(librosa.stft(y)) ** 2
    ours = F.estimate_tuning(S=F.spectrogram(_y(clip, device), power=2.0), sr=sr)
    assert float(ours) == pytest.approx(librosa.estimate_tuning(S=S, sr=sr), abs=1e-12)


# Batches: a batch of clips must give exactly the per-clip librosa results, which
# for the per-item dB reference/floor and the per-item tuning is a design decision.
BATCH_FILES = [
    "recordings/198-209-0000.ogg",
    "recordings/Kevin_MacLeod_-_Vibe_Ace.ogg",
    "recordings/sorohanro_-_solo-trumpet-06.ogg",
    "recordings/glacier-bay-humpback.ogg",
]
BATCH_SECONDS = 5


@pytest.mark.parametrize("device", DEVICES)
def test_batch_equals_clip_by_clip(shared_data, device):
    clips = [load_clip(str(shared_data / name)) for name in BATCH_FILES]
    sr = clips[0][1]
    assert all(c[1] == sr for c in clips)
    ys = np.stack([c[0][: BATCH_SECONDS * sr] for c in clips])
    batch = torch.tensor(ys, device=device).reshape(2, 2, -1)  # two batch dimensions

    cases = {
        "spectrogram": (
            lambda y: F.spectrogram(y, n_fft=1024, hop_length=256),
            lambda y: np.abs(librosa.stft(y, n_fft=1024, hop_length=256)),
            assert_rel_close,
        ),
        "logmel_ref_max": (
            lambda y: F.power_to_db(F.melspectrogram(y, sr=sr), ref=torch.amax, top_db=60.0),
            lambda y: librosa.power_to_db(
                librosa.feature.melspectrogram(y=y, sr=sr), ref=np.max, top_db=60.0
            ),
            assert_db_close,
        ),
        "mfcc": (
            lambda y: F.mfcc(y, sr=sr),
            lambda y: librosa.feature.mfcc(y=y, sr=sr),
            assert_rel_close,
        ),
        "chroma_tuning_estimated": (
            lambda y: F.chroma_stft(y, sr=sr),
            lambda y: librosa.feature.chroma_stft(y=y, sr=sr),
            assert_rel_close,
        ),
        "delta_mfcc": (
            lambda y: F.delta(F.mfcc(y, sr=sr), order=2),
            lambda y: librosa.feature.delta(librosa.feature.mfcc(y=y, sr=sr), order=2),
            assert_rel_close,
        ),
    }
    for name, (ours_fn, ref_fn, check) in cases.items():
        out = ours_fn(batch)
        assert out.shape[:2] == (2, 2), name
        flat = out.reshape(4, *out.shape[2:])
        for i, y in enumerate(ys):
            check(flat[i], ref_fn(y), f"{name}[item {i}]")
            # and the same as computing that clip alone, to float32 rounding
            alone = ours_fn(torch.tensor(y, device=device))
            torch.testing.assert_close(
                flat[i], alone, rtol=1e-5, atol=1e-5 * float(alone.abs().max())
            )
    tunings = F.estimate_tuning(S=F.spectrogram(batch, power=2.0), sr=sr)
    assert tunings.shape == (2, 2)
    expected = [librosa.estimate_tuning(S=np.abs(librosa.stft(y)) ** 2, sr=sr) for y in ys]
    assert tunings.flatten().tolist() == pytest.approx(expected, abs=1e-12)
    assert len(set(expected)) > 1, "the batch should mix tunings so per-item estimation matters"
