"""Gradients through every feature, and the nn.Module wrappers."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import torch

import torchmusic.features as F
from torchmusic.features import FeatureConfig

# Tiny float64 problems, so torch.autograd.gradcheck's finite differences are cheap.
STFT = dict(n_fft=32, hop_length=8)
MEL = dict(sr=8000, n_mels=6, **STFT)


@pytest.fixture
def y64() -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    return torch.randn(2, 96, dtype=torch.float64, generator=gen).requires_grad_()


@pytest.mark.parametrize(
    "fn",
    [
        lambda y: F.stft(y, **STFT),
        lambda y: F.spectrogram(y, power=2.0, pad_mode="reflect", **STFT),
        lambda y: F.spectrogram(y, center=False, win_length=20, window="hamming", **STFT),
        lambda y: F.melspectrogram(y, **MEL),
        lambda y: F.power_to_db(F.melspectrogram(y, **MEL), ref=torch.amax, top_db=None),
        lambda y: F.amplitude_to_db(F.spectrogram(y, **STFT), top_db=None),
        lambda y: F.mfcc(y, n_mfcc=4, lifter=3, top_db=None, **MEL),
        lambda y: F.chroma_stft(y, sr=8000, tuning=0.0, norm=2, **STFT),
        lambda y: F.delta(F.melspectrogram(y, **MEL), width=3),
        lambda y: F.delta(y, width=5, order=2, mode="mirror"),
    ],
    ids=[
        "stft",
        "power",
        "center_false",
        "mel",
        "logmel",
        "amp_db",
        "mfcc",
        "chroma",
        "delta_mel",
        "delta_y",
    ],
)
def test_gradcheck(fn, y64):
    assert torch.autograd.gradcheck(fn, (y64,), eps=1e-6, atol=1e-5, fast_mode=True)


def test_backward_through_float32_logmel_of_real_length_audio():
    y = (torch.randn(22050) * 0.1).requires_grad_()
    loss = F.LogMelSpectrogram()(y).mean() + F.mfcc(y).pow(2).mean() + F.chroma_stft(y).mean()
    loss.backward()
    assert y.grad is not None and y.grad.dtype == torch.float32
    assert torch.isfinite(y.grad).all() and y.grad.abs().sum() > 0


def _modules_and_functions():
    return [
        (
            F.Spectrogram(n_fft=512, hop_length=128, power=2.0),
            lambda y: F.spectrogram(y, n_fft=512, hop_length=128, power=2.0),
        ),
        (
            F.MelSpectrogram(n_mels=40, fmax=8000.0),
            lambda y: F.melspectrogram(y, n_mels=40, fmax=8000.0),
        ),
        (
            F.LogMelSpectrogram(n_mels=40, ref=torch.amax),
            lambda y: F.power_to_db(F.melspectrogram(y, n_mels=40), ref=torch.amax),
        ),
        (
            F.MFCC(n_mfcc=13, lifter=22, n_mels=40),
            lambda y: F.mfcc(y, n_mfcc=13, lifter=22, n_mels=40),
        ),
        (F.Chroma(), lambda y: F.chroma_stft(y)),
        (F.Chroma(tuning=0.1, n_chroma=24), lambda y: F.chroma_stft(y, tuning=0.1, n_chroma=24)),
        (F.PowerToDB(top_db=50.0), lambda y: F.power_to_db(y.abs(), top_db=50.0)),
        (F.AmplitudeToDB(ref=torch.amax), lambda y: F.amplitude_to_db(y, ref=torch.amax)),
        (F.Delta(width=5), lambda y: F.delta(y, width=5)),
    ]


def test_modules_equal_functions_in_float32_and_after_to_float64():
    y32 = torch.from_numpy(np.random.default_rng(0).standard_normal((2, 11025)).astype(np.float32))
    for module, fn in _modules_and_functions():
        name = type(module).__name__
        x32 = y32.abs() if name == "PowerToDB" else y32
        out = module(x32)
        assert out.dtype == torch.float32, name
        torch.testing.assert_close(out, fn(x32), msg=name)
        module.to(torch.float64)
        assert all(b.dtype == torch.float64 for b in module.buffers()), name
        out64 = module(x32.double())
        assert out64.dtype == torch.float64, name
        torch.testing.assert_close(out64, fn(x32.double()), rtol=1e-12, atol=1e-12, msg=name)


def test_filterbanks_are_non_persistent_buffers():
    mel, mfcc, chroma = F.MelSpectrogram(), F.MFCC(), F.Chroma(tuning=0.0)
    assert dict(mel.named_buffers()).keys() == {"mel_basis"}
    assert set(dict(mfcc.named_buffers())) == {"logmel.mel.mel_basis", "dct"}
    assert dict(chroma.named_buffers()).keys() == {"chroma_basis"}
    for module in (mel, mfcc, chroma, F.LogMelSpectrogram()):
        assert module.state_dict() == {}  # a pure function of the settings: nothing to save
    torch.testing.assert_close(mel.mel_basis, F.mel_filterbank(sr=22050, n_fft=2048))
    # loading an (empty) state dict strictly works, e.g. inside a bigger model
    mel.load_state_dict({}, strict=True)


def test_module_constructor_validates():
    from torchmusic.errors import ParameterError

    with pytest.raises(ParameterError, match="hop_length=0"):
        F.MelSpectrogram(hop_length=0)
    with pytest.raises(ParameterError, match="n_mels=2000"):
        F.LogMelSpectrogram(n_mels=2000)
    with pytest.raises(ParameterError, match="n_mfcc=200"):
        F.MFCC(n_mfcc=200)
    with pytest.raises(ParameterError, match="top_db=-1"):
        F.PowerToDB(top_db=-1)
    with pytest.raises(ParameterError, match="width=4"):
        F.Delta(width=4)
    with pytest.raises(ParameterError, match="octwidth=0"):
        F.Chroma(octwidth=0)


@pytest.mark.parametrize("kind", ["stft", "mel", "logmel", "chroma"])
def test_feature_config_compute_matches_librosa(kind):
    y = np.random.default_rng(1).standard_normal(22050).astype(np.float32)
    cfg = FeatureConfig(kind=kind, n_mels=64, n_fft=1024, hop_length=256)
    kw = dict(n_fft=1024, hop_length=256)
    ref = {
        "stft": lambda: np.abs(librosa.stft(y, **kw)) ** 2,
        "mel": lambda: librosa.feature.melspectrogram(y=y, n_mels=64, **kw),
        "logmel": lambda: librosa.power_to_db(librosa.feature.melspectrogram(y=y, n_mels=64, **kw)),
        "chroma": lambda: librosa.feature.chroma_stft(y=y, **kw),
    }[kind]()
    out = cfg.compute(torch.from_numpy(y)).numpy()
    tol = 1e-3 if kind == "logmel" else 1e-5 * np.abs(ref).max()
    np.testing.assert_allclose(out, ref, rtol=0, atol=tol)


def test_feature_config_mfcc_matches_librosa():
    y = np.random.default_rng(3).standard_normal(22050).astype(np.float32)
    out = FeatureConfig(kind="mfcc", n_mfcc=13).compute(torch.from_numpy(y)).numpy()
    ref = librosa.feature.mfcc(y=y, sr=22050, n_mfcc=13)
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-4 * np.abs(ref).max())


@pytest.mark.gpu
def test_modules_move_to_cuda_and_match_cpu():
    y = torch.randn(2, 22050)
    for module, _ in _modules_and_functions():
        name = type(module).__name__
        x = y.abs() if name == "PowerToDB" else y
        expected = module(x)
        module.to("cuda")
        assert all(b.device.type == "cuda" for b in module.buffers()), name
        out = module(x.cuda())
        assert out.device.type == "cuda", name
        torch.testing.assert_close(
            out.cpu(), expected, rtol=1e-4, atol=1e-4 * float(expected.abs().max()), msg=name
        )
