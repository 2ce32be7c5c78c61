"""Mel-frequency cepstral coefficients, equal to ``librosa.feature.mfcc``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.fft
import torch

from torchmusic.errors import ParameterError
from torchmusic.features import _validate
from torchmusic.features._util import cpu_inference_threads, device_key, tensor_cache
from torchmusic.features.db import power_to_db
from torchmusic.features.mel import melspectrogram

_DCT_NORMS = (None, "ortho", "backward", "forward")
# What **kwargs may carry through to melspectrogram (norm is mel_norm here).
_MEL_KWARGS = frozenset(
    {
        "n_fft",
        "hop_length",
        "win_length",
        "window",
        "center",
        "pad_mode",
        "power",
        "n_mels",
        "fmin",
        "fmax",
        "htk",
    }
)


@tensor_cache(maxsize=64)
def _dct_cached(
    n_in: int,
    n_out: int,
    dct_type: int,
    norm: str | None,
    dtype: torch.dtype,
    device: torch.device,
) -> torch.Tensor:
    # The DCT as a matrix, taken from scipy.fft.dct itself (what librosa calls), so
    # every type/norm convention is scipy's; a matmul is then differentiable and
    # runs on any device.
    basis = scipy.fft.dct(np.eye(n_in), type=dct_type, norm=norm, axis=0)[:n_out]
    return torch.from_numpy(np.ascontiguousarray(basis)).to(device, dtype)


def dct_matrix(
    n_in: int,
    n_out: int,
    *,
    dct_type: int = 2,
    norm: str | None = "ortho",
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """The first ``n_out`` rows of the ``n_in``-point DCT matrix (cached; read-only).

    ``dct_matrix(n, k) @ x`` equals ``scipy.fft.dct(x, type=dct_type, norm=norm,
    axis=0)[:k]``.

    Examples
    --------
    >>> dct_matrix(4, 2).shape
    torch.Size([2, 4])
    """
    return _dct_cached(n_in, n_out, dct_type, norm, dtype, device_key(device))


@cpu_inference_threads
def mfcc(
    y: torch.Tensor | None = None,
    *,
    sr: float = 22050,
    S: torch.Tensor | None = None,
    n_mfcc: int = 20,
    dct_type: int = 2,
    norm: str | None = "ortho",
    lifter: float = 0.0,
    mel_norm: str | float | None = "slaney",
    top_db: float | None = 80.0,
    **kwargs: Any,
) -> torch.Tensor:
    """Mel-frequency cepstral coefficients, equal to ``librosa.feature.mfcc``.

    Parameters
    ----------
    y : torch.Tensor, shape ``(..., samples)``, optional
        Audio. Give either ``y`` or ``S``.
    sr : float
        Sample rate (Hz).
    S : torch.Tensor, shape ``(..., n_mels, frames)``, optional
        Log-power mel spectrogram (e.g. ``power_to_db(melspectrogram(...))``).
    n_mfcc : int
        Number of coefficients (at most the number of mel bands).
    dct_type : {1, 2, 3}
        DCT type (scipy's definitions).
    norm : {'ortho', None, 'backward', 'forward'}
        DCT normalisation (scipy's; ``None`` is ``'backward'``).
    lifter : float
        Cepstral liftering ``M *= 1 + (lifter/2) sin(pi (k+1) / lifter)`` when > 0.
    mel_norm : {'slaney', None} or float
        Normalisation of the mel filterbank (librosa's ``mel_norm``).
    top_db : float or None
        ``top_db`` of the dB conversion applied per item (librosa's fixed 80 dB).
    **kwargs
        Settings of :func:`~torchmusic.features.melspectrogram` (``n_fft``,
        ``hop_length``, ``win_length``, ``window``, ``center``, ``pad_mode``,
        ``power``, ``n_mels``, ``fmin``, ``fmax``, ``htk``).

    Returns
    -------
    torch.Tensor, shape ``(..., n_mfcc, frames)``
        Same dtype and device as the input.

    Examples
    --------
    >>> mfcc(torch.randn(2, 22050), n_mfcc=13).shape
    torch.Size([2, 13, 44])
    """
    n_mfcc = _validate.positive_int("n_mfcc", n_mfcc)
    if dct_type not in (1, 2, 3):
        raise ParameterError(f"dct_type={dct_type!r} is not supported; expected 1, 2 or 3")
    if norm not in _DCT_NORMS:
        raise ParameterError(
            f"norm={norm!r} is not a DCT normalisation; expected one of {_DCT_NORMS} "
            "(the mel filterbank normalisation is mel_norm)"
        )
    lifter = _validate.finite_number("lifter", lifter)
    if lifter < 0:
        raise ParameterError(f"MFCC lifter={lifter!r} must be a non-negative number")
    unknown = sorted(set(kwargs) - _MEL_KWARGS)
    if unknown:
        raise ParameterError(
            f"unexpected mfcc setting(s) {unknown}; expected mfcc's own or {sorted(_MEL_KWARGS)}"
        )
    if S is None:
        if y is None:
            raise ParameterError("either an audio signal y or a log-mel spectrogram S is required")
        S = power_to_db(melspectrogram(y, sr=sr, norm=mel_norm, **kwargs), top_db=top_db)
    else:
        _validate.one_input(y, S)
        S = _validate.spectrogram(S)
    n_mels = S.shape[-2]
    if n_mfcc > n_mels:
        raise ParameterError(f"n_mfcc={n_mfcc} must be <= the number of mel bands {n_mels}")
    if dct_type == 1 and n_mels < 2:
        raise ParameterError(f"a type-1 DCT needs at least 2 mel bands, got {n_mels}")
    # Built in float64 and rounded once to S's dtype.
    basis = dct_matrix(n_mels, n_mfcc, dct_type=dct_type, norm=norm, dtype=S.dtype, device=S.device)
    M = torch.matmul(basis, S)
    if lifter > 0:
        k = torch.arange(1, 1 + n_mfcc, dtype=M.dtype, device=M.device)
        M = M * (1 + (lifter / 2) * torch.sin(math.pi * k / lifter))[:, None]
    return M
