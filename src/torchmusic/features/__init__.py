"""Audio features equal to librosa 0.11's, in PyTorch: batched, on any device, differentiable.

Functions take tensors of shape ``(..., samples)`` (float32 or float64) and return
``(..., bins, frames)`` in the same dtype and on the same device; leading
dimensions are batch dimensions. Names, keyword arguments and defaults mirror
librosa (``librosa.feature.melspectrogram`` -> :func:`melspectrogram`, ...).

Where librosa pools a whole multichannel array, these functions work per item of
the batch, so that a batch gives exactly the per-clip librosa results: the
``ref`` callable and ``top_db`` of the dB conversions, and the tuning that
:func:`chroma_stft` estimates.

Examples
--------
>>> import torch
>>> from torchmusic import features as F
>>> y = torch.randn(4, 22050)  # four 1-second clips at 22.05 kHz
>>> F.power_to_db(F.melspectrogram(y, sr=22050)).shape
torch.Size([4, 128, 44])
"""

from torchmusic.features._util import fft_precision
from torchmusic.features.chroma import chroma_stft
from torchmusic.features.config import FeatureConfig
from torchmusic.features.convert import (
    fft_frequencies,
    hz_to_mel,
    hz_to_octs,
    mel_frequencies,
    mel_to_hz,
)
from torchmusic.features.db import amplitude_to_db, db_to_amplitude, db_to_power, power_to_db
from torchmusic.features.delta import delta
from torchmusic.features.filters import chroma_filterbank, mel_filterbank
from torchmusic.features.mel import melspectrogram
from torchmusic.features.mfcc import mfcc
from torchmusic.features.modules import (
    MFCC,
    AmplitudeToDB,
    Chroma,
    Delta,
    LogMelSpectrogram,
    MelSpectrogram,
    PowerToDB,
    Spectrogram,
)
from torchmusic.features.rhythm import onset_strength, tempogram
from torchmusic.features.spectrum import spectrogram, stft
from torchmusic.features.tuning import estimate_tuning, piptrack, pitch_tuning

__all__ = [
    "MFCC",
    "AmplitudeToDB",
    "Chroma",
    "Delta",
    "FeatureConfig",
    "LogMelSpectrogram",
    "MelSpectrogram",
    "PowerToDB",
    "Spectrogram",
    "amplitude_to_db",
    "chroma_filterbank",
    "chroma_stft",
    "db_to_amplitude",
    "db_to_power",
    "delta",
    "estimate_tuning",
    "fft_frequencies",
    "fft_precision",
    "hz_to_mel",
    "hz_to_octs",
    "mel_filterbank",
    "mel_frequencies",
    "mel_to_hz",
    "melspectrogram",
    "mfcc",
    "onset_strength",
    "piptrack",
    "pitch_tuning",
    "power_to_db",
    "spectrogram",
    "stft",
    "tempogram",
]
