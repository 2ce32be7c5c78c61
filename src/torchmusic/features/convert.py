"""Frequency-scale conversions (Hz, mel, octaves), as in ``librosa.convert``.

All functions take a Python number or a tensor and return a tensor; tensor inputs
keep their dtype and device and are differentiable. Python numbers give float64,
like numpy.
"""

from __future__ import annotations

import math

import torch

from torchmusic.features import _validate
from torchmusic.features._util import numpy_linspace

# Slaney's auditory-toolbox mel scale: linear below 1 kHz, logarithmic above.
_F_SP = 200.0 / 3  # Hz per mel in the linear part
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = math.log(6.4) / 27.0


def _as_tensor(x: float | torch.Tensor) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x if x.is_floating_point() else x.to(torch.float64)
    return torch.as_tensor(x, dtype=torch.float64)


def hz_to_mel(frequencies: float | torch.Tensor, *, htk: bool = False) -> torch.Tensor:
    """Convert Hz to mels (``librosa.hz_to_mel``).

    Parameters
    ----------
    frequencies : float or torch.Tensor, any shape
        Frequencies in Hz.
    htk : bool
        Use the HTK formula ``2595 log10(1 + f/700)`` instead of Slaney's scale.

    Returns
    -------
    torch.Tensor, same shape
        Mel values.

    Examples
    --------
    >>> round(float(hz_to_mel(1000.0)), 9)  # the linear/log break of Slaney's scale
    15.0
    """
    f = _as_tensor(frequencies)
    if htk:
        return 2595.0 * torch.log10(1.0 + f / 700.0)
    linear = f / _F_SP
    # Clamp inside the log so the branch torch.where discards never makes log(0)
    # (whose infinite gradient would turn into NaN when multiplied by 0).
    log_part = _MIN_LOG_MEL + torch.log(f.clamp(min=_MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOGSTEP
    return torch.where(f >= _MIN_LOG_HZ, log_part, linear)


def mel_to_hz(mels: float | torch.Tensor, *, htk: bool = False) -> torch.Tensor:
    """Convert mels to Hz (``librosa.mel_to_hz``), the inverse of :func:`hz_to_mel`.

    Parameters
    ----------
    mels : float or torch.Tensor, any shape
        Mel values.
    htk : bool
        Use the HTK formula instead of Slaney's scale.

    Returns
    -------
    torch.Tensor, same shape
        Frequencies in Hz.

    Examples
    --------
    >>> round(float(mel_to_hz(15.0)), 9)
    1000.0
    """
    m = _as_tensor(mels)
    if htk:
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    linear = _F_SP * m
    log_part = _MIN_LOG_HZ * torch.exp(_LOGSTEP * (m.clamp(min=_MIN_LOG_MEL) - _MIN_LOG_MEL))
    return torch.where(m >= _MIN_LOG_MEL, log_part, linear)


def mel_frequencies(
    n_mels: int = 128,
    *,
    fmin: float = 0.0,
    fmax: float = 11025.0,
    htk: bool = False,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Centre frequencies of ``n_mels`` bands evenly spaced in mels (``librosa.mel_frequencies``).

    Parameters
    ----------
    n_mels : int
        Number of frequencies.
    fmin, fmax : float
        Lowest and highest frequency (Hz).
    htk : bool
        HTK instead of Slaney mel scale.
    device : torch.device or str, optional
        Device of the result.

    Returns
    -------
    torch.Tensor, shape ``(n_mels,)``, float64
        Frequencies in Hz.

    Examples
    --------
    >>> mel_frequencies(3, fmax=8000.0).tolist()[0]
    0.0
    """
    n_mels = _validate.positive_int("n_mels", n_mels)
    fmin = _validate.finite_number("fmin", fmin)
    fmax = _validate.finite_number("fmax", fmax)
    min_mel = float(hz_to_mel(fmin, htk=htk))
    max_mel = float(hz_to_mel(fmax, htk=htk))
    return mel_to_hz(numpy_linspace(min_mel, max_mel, n_mels), htk=htk).to(device)


def fft_frequencies(
    *, sr: float = 22050, n_fft: int = 2048, device: torch.device | str | None = None
) -> torch.Tensor:
    """Centre frequencies of the ``n_fft // 2 + 1`` STFT bins (``librosa.fft_frequencies``).

    Parameters
    ----------
    sr : float
        Sample rate (Hz).
    n_fft : int
        FFT size.
    device : torch.device or str, optional
        Device of the result.

    Returns
    -------
    torch.Tensor, shape ``(n_fft // 2 + 1,)``, float64
        ``0, sr/n_fft, 2 sr/n_fft, ..., sr/2``.

    Examples
    --------
    >>> fft_frequencies(sr=8, n_fft=4).tolist()
    [0.0, 2.0, 4.0]
    """
    sr = _validate.positive_number("sr", sr)
    n_fft = _validate.positive_int("n_fft", n_fft)
    # Same arithmetic as np.fft.rfftfreq(n_fft, d=1/sr), so the bins match bit for bit.
    step = 1.0 / (n_fft * (1.0 / sr))
    return torch.arange(n_fft // 2 + 1, dtype=torch.float64, device=device) * step


def hz_to_octs(
    frequencies: float | torch.Tensor, *, tuning: float = 0.0, bins_per_octave: int = 12
) -> torch.Tensor:
    """Convert Hz to octaves above A0 = A440/16 = 27.5 Hz (``librosa.hz_to_octs``).

    Parameters
    ----------
    frequencies : float or torch.Tensor, any shape
        Frequencies in Hz.
    tuning : float
        Tuning deviation from A440 in fractions of a bin.
    bins_per_octave : int
        Bins per octave (the unit of ``tuning``).

    Returns
    -------
    torch.Tensor, same shape
        ``log2(f / (A440 / 16))``, so A440 is 4.0.

    Examples
    --------
    >>> float(hz_to_octs(440.0))
    4.0
    """
    a440 = 440.0 * 2.0 ** (tuning / bins_per_octave)
    return torch.log2(_as_tensor(frequencies) / (a440 / 16))
