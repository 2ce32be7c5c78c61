"""``torch.nn.Module`` wrappers of the feature functions.

Settings are validated at construction. Fixed filterbanks are registered as
non-persistent buffers: they follow ``.to(device)`` / ``.to(dtype)`` but stay out
of ``state_dict`` (they are a pure function of the settings). The mel filterbank
buffer is float32, which is what librosa uses at every precision; the DCT buffer
is float64 so that ``.to(torch.float64)`` stays exact.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from torchmusic.features import _validate
from torchmusic.features._util import normalize
from torchmusic.features.chroma import chroma_stft
from torchmusic.features.db import Ref, amplitude_to_db, power_to_db
from torchmusic.features.delta import delta
from torchmusic.features.filters import chroma_basis, mel_basis
from torchmusic.features.mel import apply_filterbank
from torchmusic.features.mfcc import dct_matrix, mfcc
from torchmusic.features.spectrum import (
    WindowSpec,
    blocked_spectrogram,
    spectrogram,
    use_blocked_path,
)


class Spectrogram(nn.Module):
    """``|stft(y)| ** power``; see :func:`~torchmusic.features.spectrogram`.

    Examples
    --------
    >>> Spectrogram(n_fft=1024, hop_length=256)(torch.randn(2, 22050)).shape
    torch.Size([2, 513, 87])
    """

    def __init__(
        self,
        *,
        n_fft: int = 2048,
        hop_length: int | None = 512,
        win_length: int | None = None,
        window: WindowSpec = "hann",
        center: bool = True,
        pad_mode: str = "constant",
        power: float = 1.0,
    ) -> None:
        super().__init__()
        self.n_fft, self.hop_length, self.win_length = _validate.stft_params(
            n_fft=n_fft,
            hop_length=hop_length,
            win_length=win_length,
            center=center,
            pad_mode=pad_mode,
        )
        self.window = window
        self.center = center
        self.pad_mode = pad_mode
        self.power = _validate.power(power)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        """``(..., samples)`` -> ``(..., 1 + n_fft // 2, frames)``."""
        return spectrogram(
            y,
            power=self.power,
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            win_length=self.win_length,
            window=self.window,
            center=self.center,
            pad_mode=self.pad_mode,
        )

    def extra_repr(self) -> str:
        return f"n_fft={self.n_fft}, hop_length={self.hop_length}, power={self.power}"


class MelSpectrogram(nn.Module):
    """Mel spectrogram; see :func:`~torchmusic.features.melspectrogram`.

    Examples
    --------
    >>> MelSpectrogram(sr=16000, n_mels=40)(torch.randn(16000)).shape
    torch.Size([40, 32])
    """

    mel_basis: torch.Tensor

    def __init__(
        self,
        *,
        sr: float = 22050,
        n_fft: int = 2048,
        hop_length: int | None = 512,
        win_length: int | None = None,
        window: WindowSpec = "hann",
        center: bool = True,
        pad_mode: str = "constant",
        power: float = 2.0,
        n_mels: int = 128,
        fmin: float = 0.0,
        fmax: float | None = None,
        htk: bool = False,
        norm: str | float | None = "slaney",
    ) -> None:
        super().__init__()
        self.spectrogram = Spectrogram(
            n_fft=n_fft,
            hop_length=hop_length,
            win_length=win_length,
            window=window,
            center=center,
            pad_mode=pad_mode,
            power=power,
        )
        basis = mel_basis(
            sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=htk, norm=norm
        )
        self.register_buffer("mel_basis", basis.clone(), persistent=False)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        """``(..., samples)`` -> ``(..., n_mels, frames)``."""
        if use_blocked_path(y):
            spec = self.spectrogram
            return blocked_spectrogram(
                y,
                power=spec.power,
                n_fft=spec.n_fft,
                hop_length=spec.hop_length,
                win_length=spec.win_length,
                window=spec.window,
                center=spec.center,
                pad_mode=spec.pad_mode,
                project=self.mel_basis,
            )
        return apply_filterbank(self.mel_basis, self.spectrogram(y))


class PowerToDB(nn.Module):
    """:func:`~torchmusic.features.power_to_db` (``ref`` and ``top_db`` per item).

    Examples
    --------
    >>> PowerToDB(ref=torch.amax)(torch.rand(2, 4, 5)).amax(dim=(-2, -1)).tolist()
    [0.0, 0.0]
    """

    def __init__(self, *, ref: Ref = 1.0, amin: float = 1e-10, top_db: float | None = 80.0) -> None:
        super().__init__()
        self.ref = ref
        self.amin = _validate.positive_number("amin", amin)
        # Check top_db (and a callable ref) the way the function will, before any data arrives.
        power_to_db(torch.ones(1, 1), ref=ref if callable(ref) else 1.0, amin=amin, top_db=top_db)
        self.top_db = top_db

    def forward(self, S: torch.Tensor) -> torch.Tensor:
        return power_to_db(S, ref=self.ref, amin=self.amin, top_db=self.top_db)


class AmplitudeToDB(nn.Module):
    """:func:`~torchmusic.features.amplitude_to_db` (``ref`` and ``top_db`` per item).

    Examples
    --------
    >>> AmplitudeToDB()(torch.full((1, 2, 2), 0.1)).tolist()[0][0]
    [-20.0, -20.0]
    """

    def __init__(self, *, ref: Ref = 1.0, amin: float = 1e-5, top_db: float | None = 80.0) -> None:
        super().__init__()
        self.ref = ref
        self.amin = _validate.positive_number("amin", amin)
        amplitude_to_db(
            torch.ones(1, 1), ref=ref if callable(ref) else 1.0, amin=amin, top_db=top_db
        )
        self.top_db = top_db

    def forward(self, S: torch.Tensor) -> torch.Tensor:
        return amplitude_to_db(S, ref=self.ref, amin=self.amin, top_db=self.top_db)


class LogMelSpectrogram(nn.Module):
    """``power_to_db(melspectrogram(y))``: the usual network input.

    Takes the :class:`MelSpectrogram` settings plus ``ref``, ``amin`` and
    ``top_db`` of :func:`~torchmusic.features.power_to_db`.

    Examples
    --------
    >>> LogMelSpectrogram(n_mels=64)(torch.randn(3, 22050)).shape
    torch.Size([3, 64, 44])
    """

    def __init__(
        self,
        *,
        ref: Ref = 1.0,
        amin: float = 1e-10,
        top_db: float | None = 80.0,
        **mel_kwargs: object,
    ) -> None:
        super().__init__()
        self.mel = MelSpectrogram(**mel_kwargs)  # type: ignore[arg-type]
        self.to_db = PowerToDB(ref=ref, amin=amin, top_db=top_db)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        """``(..., samples)`` -> ``(..., n_mels, frames)`` in dB."""
        return self.to_db(self.mel(y))


class MFCC(nn.Module):
    """MFCCs; see :func:`~torchmusic.features.mfcc`.

    Takes :func:`~torchmusic.features.mfcc`'s settings; ``mel_norm`` is the mel
    filterbank normalisation and the other mel settings (``n_mels``, ``fmin``, ...)
    are passed by keyword.

    Examples
    --------
    >>> MFCC(n_mfcc=13)(torch.randn(2, 22050)).shape
    torch.Size([2, 13, 44])
    """

    dct: torch.Tensor

    def __init__(
        self,
        *,
        sr: float = 22050,
        n_mfcc: int = 20,
        dct_type: int = 2,
        norm: str | None = "ortho",
        lifter: float = 0.0,
        mel_norm: str | float | None = "slaney",
        top_db: float | None = 80.0,
        **mel_kwargs: object,
    ) -> None:
        super().__init__()
        self.logmel = LogMelSpectrogram(top_db=top_db, sr=sr, norm=mel_norm, **mel_kwargs)
        n_mels = self.logmel.mel.mel_basis.shape[0]
        # Validates n_mfcc, dct_type, norm and lifter with the function's own checks.
        mfcc(S=torch.zeros(n_mels, 1), n_mfcc=n_mfcc, dct_type=dct_type, norm=norm, lifter=lifter)
        self.n_mfcc, self.lifter = n_mfcc, float(lifter)
        basis = dct_matrix(n_mels, n_mfcc, dct_type=dct_type, norm=norm, dtype=torch.float64)
        self.register_buffer("dct", basis.clone(), persistent=False)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        """``(..., samples)`` -> ``(..., n_mfcc, frames)``."""
        S = self.logmel(y)
        M = torch.matmul(self.dct.to(S.dtype), S)
        if self.lifter > 0:
            k = torch.arange(1, 1 + self.n_mfcc, dtype=M.dtype, device=M.device)
            M = M * (1 + (self.lifter / 2) * torch.sin(math.pi * k / self.lifter))[:, None]
        return M


class Chroma(nn.Module):
    """Chromagram; see :func:`~torchmusic.features.chroma_stft`.

    With ``tuning=None`` (the default) tuning is estimated per clip at every call,
    so the filterbank cannot be a buffer; with a fixed ``tuning`` it is one.

    Examples
    --------
    >>> Chroma(tuning=0.0)(torch.randn(22050)).shape
    torch.Size([12, 44])
    """

    chroma_basis: torch.Tensor | None

    def __init__(
        self,
        *,
        sr: float = 22050,
        norm: float | None = math.inf,
        n_fft: int = 2048,
        hop_length: int | None = 512,
        win_length: int | None = None,
        window: WindowSpec = "hann",
        center: bool = True,
        pad_mode: str = "constant",
        tuning: float | None = None,
        n_chroma: int = 12,
        ctroct: float = 5.0,
        octwidth: float | None = 2,
        base_c: bool = True,
    ) -> None:
        super().__init__()
        self.spectrogram = Spectrogram(
            n_fft=n_fft,
            hop_length=hop_length,
            win_length=win_length,
            window=window,
            center=center,
            pad_mode=pad_mode,
            power=2.0,
        )
        self.sr = _validate.positive_number("sr", sr)
        self.norm = _validate.norm_value("norm", norm, allow_slaney=False)
        self.tuning = tuning
        self.n_chroma = _validate.positive_int("n_chroma", n_chroma)
        self.basis_kw = dict(ctroct=ctroct, octwidth=octwidth, base_c=base_c)
        basis = None
        if tuning is not None:
            basis = chroma_basis(
                sr=sr, n_fft=n_fft, n_chroma=n_chroma, tuning=tuning, **self.basis_kw
            ).clone()
        else:  # validate the filterbank settings now rather than at the first call
            chroma_basis(sr=sr, n_fft=n_fft, n_chroma=n_chroma, **self.basis_kw)
        self.register_buffer("chroma_basis", basis, persistent=False)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        """``(..., samples)`` -> ``(..., n_chroma, frames)``."""
        S = self.spectrogram(y)
        if self.chroma_basis is not None:
            return normalize(apply_filterbank(self.chroma_basis, S), norm=self.norm, dim=-2)  # type: ignore[arg-type]
        return chroma_stft(
            S=S,
            sr=self.sr,
            norm=self.norm,
            n_fft=self.spectrogram.n_fft,
            tuning=None,
            n_chroma=self.n_chroma,
            **self.basis_kw,  # type: ignore[arg-type]
        )


class Delta(nn.Module):
    """:func:`~torchmusic.features.delta` as a module.

    Examples
    --------
    >>> Delta(width=3)(torch.arange(5.0)).tolist()
    [1.0, 1.0, 1.0, 1.0, 1.0]
    """

    def __init__(
        self, *, width: int = 9, order: int = 1, axis: int = -1, mode: str = "interp"
    ) -> None:
        super().__init__()
        delta(torch.zeros(width), width=width, order=order, mode=mode)  # validate now
        self.width, self.order, self.axis, self.mode = width, order, axis, mode

    def forward(self, data: torch.Tensor) -> torch.Tensor:
        return delta(data, width=self.width, order=self.order, axis=self.axis, mode=self.mode)

    def extra_repr(self) -> str:
        return f"width={self.width}, order={self.order}, axis={self.axis}, mode={self.mode!r}"
