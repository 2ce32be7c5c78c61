"""Every bad argument raises ParameterError, naming the bad value and what was expected."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import torchmusic.features as F
from torchmusic.errors import ParameterError, TorchMusicError

Y = torch.randn(4096)
S = torch.rand(1025, 9)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        # STFT settings
        (lambda: F.stft(Y, hop_length=0), r"hop_length=0 must be a positive integer"),
        (lambda: F.spectrogram(Y, hop_length=-256), r"hop_length=-256 must be a positive integer"),
        (lambda: F.stft(Y, hop_length=2.5), r"hop_length=2.5 must be a positive integer"),
        (lambda: F.stft(Y, n_fft=0), r"n_fft=0 must be a positive integer"),
        (lambda: F.stft(Y, n_fft=-512), r"n_fft=-512 must be a positive integer"),
        (lambda: F.stft(Y, n_fft=512, win_length=1024), r"win_length=1024 must be <= n_fft=512"),
        (lambda: F.stft(Y, n_fft=2, hop_length=None), r"hop_length=win_length//4 is 0"),
        (lambda: F.stft(Y, pad_mode="wrap"), r"pad_mode='wrap' is not supported; expected one of"),
        (lambda: F.stft(Y, window="no-such-window"), r"invalid window='no-such-window'"),
        (lambda: F.stft(Y, window=np.ones(100)), r"window has shape \(100,\); expected \(2048,\)"),
        (lambda: F.stft(Y, window={"hann"}), r"invalid window=\{'hann'\}"),
        (
            lambda: F.stft(Y[:1000], center=False),
            r"length 1000 is shorter than n_fft=2048; with center=False",
        ),
        (lambda: F.spectrogram(Y, power=0), r"power=0 must be a finite number > 0"),
        # input signal
        (lambda: F.stft(torch.arange(4096)), r"dtype torch.int64; expected a floating tensor"),
        (lambda: F.stft(Y.half()), r"dtype torch.float16; expected a floating tensor"),
        (
            lambda: F.stft(Y.numpy()),
            r"y must be a torch.Tensor of shape \(..., samples\), got ndarray",
        ),
        (lambda: F.stft(torch.tensor(1.0)), r"y has shape \(\); expected \(..., samples\)"),
        (lambda: F.stft(torch.zeros(2, 0)), r"shape \(2, 0\); expected a non-empty tensor"),
        (
            lambda: F.melspectrogram(Y.clone().index_fill_(0, torch.tensor([7]), math.nan)),
            r"non-finite values \(1 NaN, 0 Inf\)",
        ),
        (
            lambda: F.mfcc(Y.clone().index_fill_(0, torch.tensor([7]), -math.inf)),
            r"non-finite values \(0 NaN, 1 Inf\)",
        ),
        # y / S
        (lambda: F.melspectrogram(), r"either an audio signal y or a spectrogram S is required"),
        (lambda: F.melspectrogram(Y, S=S), r"pass either y or S, not both"),
        (
            lambda: F.melspectrogram(S=torch.rand(1025)),
            r"S has shape \(1025,\); expected \(..., bins, frames\)",
        ),
        (lambda: F.chroma_stft(S=torch.rand(1, 9)), r"S has 1 frequency bin\(s\)"),
        (lambda: F.mfcc(S=torch.rand(40)), r"S has shape \(40,\); expected \(..., bins, frames\)"),
        # mel filterbank
        (
            lambda: F.melspectrogram(Y, n_fft=256, n_mels=200),
            r"n_mels=200 must be <= the number of FFT bins n_fft//2\+1=129",
        ),
        (
            lambda: F.mel_filterbank(sr=22050, n_fft=2048, fmax=12000.0),
            r"fmax=12000.0 must be <= the Nyquist frequency sr/2=11025.0",
        ),
        (
            lambda: F.mel_filterbank(sr=22050, n_fft=2048, fmin=5000.0, fmax=4000.0),
            r"fmin=5000.0 must be < fmax=4000.0",
        ),
        (lambda: F.mel_filterbank(sr=22050, n_fft=2048, fmin=-1.0), r"fmin=-1.0 must be >= 0"),
        (lambda: F.mel_filterbank(sr=0, n_fft=2048), r"sr=0 must be a finite number > 0"),
        (
            lambda: F.mel_filterbank(sr=22050, n_fft=2048, n_mels=0),
            r"n_mels=0 must be a positive integer",
        ),
        (
            lambda: F.mel_filterbank(sr=22050, n_fft=2048, norm="htk"),
            r"norm='htk' is not supported; expected 'slaney', None",
        ),
        (
            lambda: F.mel_filterbank(sr=22050, n_fft=2048, htk="yes"),
            r"htk='yes' must be True or False",
        ),
        # dB
        (
            lambda: F.power_to_db(S, top_db=-10.0),
            r"top_db=-10.0 must be a non-negative number or None",
        ),
        (lambda: F.power_to_db(S, amin=0.0), r"amin=0.0 must be a finite number > 0"),
        (lambda: F.amplitude_to_db(S, amin=-1e-5), r"amin=-1e-05 must be a finite number > 0"),
        (
            lambda: F.power_to_db(S, ref=np.max),
            r"ref=<function max.*> must be a reduction called as ref\(x, dim=-1, keepdim=True\)",
        ),
        (lambda: F.power_to_db(S.numpy()), r"S must be a torch.Tensor, got ndarray"),
        (
            lambda: F.power_to_db(S.to(torch.int32)),
            r"S has dtype torch.int32; expected torch.float32 or torch.float64",
        ),
        # MFCC
        (
            lambda: F.mfcc(Y, n_mfcc=200, n_mels=128),
            r"n_mfcc=200 must be <= the number of mel bands 128",
        ),
        (lambda: F.mfcc(Y, n_mfcc=0), r"n_mfcc=0 must be a positive integer"),
        (lambda: F.mfcc(Y, dct_type=4), r"dct_type=4 is not supported; expected 1, 2 or 3"),
        (lambda: F.mfcc(Y, norm="slaney"), r"norm='slaney' is not a DCT normalisation.*mel_norm"),
        (lambda: F.mfcc(Y, lifter=-1), r"lifter=-1.0 must be a non-negative number"),
        (lambda: F.mfcc(Y, n_bins=3), r"unexpected mfcc setting\(s\) \['n_bins'\]"),
        # chroma / tuning
        (lambda: F.chroma_stft(Y, n_chroma=0), r"n_chroma=0 must be a positive integer"),
        (
            lambda: F.chroma_stft(Y, norm="l2"),
            r"norm='l2' is not supported; expected None, a number > 0",
        ),
        (lambda: F.chroma_stft(Y, tuning=math.nan), r"tuning=nan must be a finite real number"),
        (
            lambda: F.chroma_filterbank(sr=22050, n_fft=2048, octwidth=-2.0),
            r"octwidth=-2.0 must be a finite number > 0",
        ),
        (lambda: F.estimate_tuning(Y, resolution=1.5), r"resolution=1.5 must be in \(0, 1\)"),
        (
            lambda: F.pitch_tuning(torch.tensor([440.0]), bins_per_octave=0),
            r"bins_per_octave=0 must be a positive integer",
        ),
        # delta
        (lambda: F.delta(S, width=4), r"width=4 must be an odd integer >= 3"),
        (lambda: F.delta(S, width=1), r"width=1 must be an odd integer >= 3"),
        (
            lambda: F.delta(S, width=11),
            r"when mode='interp', width=11 cannot exceed data.shape\[axis\]=9",
        ),
        (lambda: F.delta(S, order=0), r"order=0 must be a positive integer"),
        (lambda: F.delta(S, width=3, order=3), r"order=3 must be less than width=3"),
        (lambda: F.delta(S, mode="reflect"), r"mode='reflect' is not supported; expected one of"),
        (lambda: F.delta(S, axis=2), r"axis=2 is out of range for data of shape \(1025, 9\)"),
        (
            lambda: F.delta(S.to(torch.int64)),
            r"data must be a floating torch.Tensor, got torch.int64",
        ),
    ],
)
def test_bad_argument_raises_parameter_error(call, match):
    with pytest.raises(ParameterError, match=match) as info:
        call()
    # one error family: catchable as the package base class and as ValueError
    assert isinstance(info.value, TorchMusicError) and isinstance(info.value, ValueError)
