"""A serialisable description of one feature computation.

:class:`FeatureConfig` is what the feature cache keys on, what the CLI builds from
its flags and what a model file stores, so that a model is always fed the features
it was trained on.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from typing import Any, Literal

import torch

from torchmusic.errors import ParameterError

FeatureKind = Literal["logmel", "mel", "mfcc", "chroma", "stft"]
FEATURE_KINDS: tuple[str, ...] = ("logmel", "mel", "mfcc", "chroma", "stft")

# Bump when the numerical output of any feature changes, so cached features made
# by an older torchmusic are recomputed instead of silently reused.
FEATURE_ALGO_VERSION = 1


@dataclasses.dataclass(frozen=True)
class FeatureConfig:
    """Parameters of a feature; defaults equal librosa 0.11's.

    Parameters
    ----------
    kind : {"logmel", "mel", "mfcc", "chroma", "stft"}
        ``logmel`` is ``power_to_db(melspectrogram(...), top_db=top_db)``; ``stft``
        is the magnitude spectrogram raised to ``power``.
    sr : int
        Sample rate the audio is loaded at (Hz).
    n_fft, hop_length, win_length, window, center, pad_mode
        STFT settings, as in :func:`librosa.stft`.
    power : float
        Exponent of the magnitude (2.0: power spectrogram).
    n_mels, fmin, fmax, htk, norm
        Mel filterbank settings, as in :func:`librosa.filters.mel`.
    top_db : float or None
        Dynamic range clamp of the dB conversion (``logmel`` and ``mfcc``).
    n_mfcc : int
        Number of MFCCs (``mfcc``).
    n_chroma : int
        Number of chroma bins (``chroma``).

    Examples
    --------
    >>> cfg = FeatureConfig(kind="logmel", n_mels=64)
    >>> cfg.fingerprint()[:8]  # doctest: +SKIP
    '3f0c9a1e'
    """

    kind: FeatureKind = "logmel"
    sr: int = 22050
    n_fft: int = 2048
    hop_length: int = 512
    win_length: int | None = None
    window: str = "hann"
    center: bool = True
    pad_mode: str = "constant"
    power: float = 2.0
    n_mels: int = 128
    fmin: float = 0.0
    fmax: float | None = None
    htk: bool = False
    norm: str | float | None = "slaney"
    top_db: float | None = 80.0
    n_mfcc: int = 20
    n_chroma: int = 12

    def __post_init__(self) -> None:
        if self.kind not in FEATURE_KINDS:
            raise ParameterError(
                f"kind={self.kind!r} is not a feature kind; expected one of {FEATURE_KINDS}"
            )
        for name in ("sr", "n_fft", "hop_length", "n_mels", "n_mfcc", "n_chroma"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ParameterError(f"{name}={value!r} must be a positive integer")
        if self.win_length is not None and not 0 < self.win_length <= self.n_fft:
            raise ParameterError(
                f"win_length={self.win_length!r} must be in (0, n_fft={self.n_fft}]"
            )
        if self.fmin < 0:
            raise ParameterError(f"fmin={self.fmin!r} must be >= 0")
        if self.fmax is not None and self.fmax > self.sr / 2:
            raise ParameterError(
                f"fmax={self.fmax!r} must be <= the Nyquist frequency sr/2={self.sr / 2}"
            )
        if self.fmax is not None and self.fmax <= self.fmin:
            raise ParameterError(f"fmax={self.fmax!r} must be > fmin={self.fmin!r}")
        if self.n_mels > self.n_fft // 2 + 1:
            raise ParameterError(
                f"n_mels={self.n_mels} must be <= the number of FFT bins "
                f"n_fft//2+1={self.n_fft // 2 + 1}"
            )
        if self.top_db is not None and (not math.isfinite(self.top_db) or self.top_db < 0):
            raise ParameterError(f"top_db={self.top_db!r} must be a non-negative number or None")

    # -- serialisation -------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON dict of all fields."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error, not ignored."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ParameterError(
                f"unknown feature setting(s) {sorted(unknown)}; expected a subset of {sorted(known)}"
            )
        return cls(**data)

    def fingerprint(self) -> str:
        """Stable hex digest of the configuration and the feature algorithm version."""
        payload = json.dumps(
            {"algo": FEATURE_ALGO_VERSION, **self.to_dict()}, sort_keys=True, default=str
        )
        return hashlib.sha256(payload.encode()).hexdigest()

    # -- sizes ------------------------------------------------------------------------
    @property
    def n_bins(self) -> int:
        """Rows of :meth:`compute`'s output: what a model fed these features is built with.

        Examples
        --------
        >>> FeatureConfig(kind="mfcc", n_mfcc=13).n_bins
        13
        """
        if self.kind in ("mel", "logmel"):
            return self.n_mels
        if self.kind == "mfcc":
            return self.n_mfcc
        if self.kind == "chroma":
            return self.n_chroma
        return self.n_fft // 2 + 1

    def n_frames(self, n_samples: int) -> int:
        """Frames :meth:`compute` gives for ``n_samples`` samples (librosa's framing).

        Examples
        --------
        >>> FeatureConfig().n_frames(22050)
        44
        """
        if self.center:
            return 1 + n_samples // self.hop_length
        return max(0, 1 + (n_samples - self.n_fft) // self.hop_length)

    def clip_frames(self, clip_seconds: float) -> int:
        """Frames of a ``clip_seconds`` clip: what datasets give and models are sized for.

        Examples
        --------
        >>> FeatureConfig().clip_frames(3.0)
        130
        """
        return self.n_frames(round(clip_seconds * self.sr))

    # -- computation ---------------------------------------------------------------
    def stft_kwargs(self) -> dict[str, Any]:
        """The STFT settings as keyword arguments (``n_fft``, ``hop_length``, ``win_length``,
        ``window``, ``center``, ``pad_mode``), named as torchmusic's and librosa's functions
        name them."""
        return dict(
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            win_length=self.win_length,
            window=self.window,
            center=self.center,
            pad_mode=self.pad_mode,
        )

    def filterbank_kwargs(self) -> dict[str, Any]:
        """The mel filterbank's settings as keyword arguments (``sr``, ``n_mels``, ``fmin``,
        ``fmax``, ``htk``, ``norm``; with ``n_fft`` they define ``mel_basis``)."""
        return dict(
            sr=self.sr,
            n_mels=self.n_mels,
            fmin=self.fmin,
            fmax=self.fmax,
            htk=self.htk,
            norm=self.norm,
        )

    def compute(self, y: torch.Tensor) -> torch.Tensor:
        """Compute this feature for ``y`` of shape ``(..., samples)`` at ``self.sr``.

        Returns
        -------
        torch.Tensor
            ``(..., n_bins, frames)`` where ``n_bins`` is ``n_mels``, ``n_mfcc``,
            ``n_chroma`` or ``n_fft // 2 + 1`` depending on :attr:`kind`.
        """
        from torchmusic import features as F

        stft_kw = self.stft_kwargs()
        mel_kw = dict(**self.filterbank_kwargs(), power=self.power, **stft_kw)
        if self.kind == "stft":
            return F.spectrogram(y, power=self.power, **stft_kw)
        if self.kind == "mel":
            return F.melspectrogram(y, **mel_kw)
        if self.kind == "logmel":
            return F.power_to_db(F.melspectrogram(y, **mel_kw), top_db=self.top_db)
        if self.kind == "mfcc":
            # In mfcc, ``norm`` is the DCT's normalisation; the filterbank's is ``mel_norm``.
            mel_kw["mel_norm"] = mel_kw.pop("norm")
            return F.mfcc(y, n_mfcc=self.n_mfcc, top_db=self.top_db, **mel_kw)
        return F.chroma_stft(y, sr=self.sr, n_chroma=self.n_chroma, **stft_kw)
