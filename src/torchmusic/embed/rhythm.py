"""The rhythm descriptor: a track's average tempogram on log-spaced lags, standardised.

Per track, the autocorrelation tempogram of the onset envelope
(:func:`torchmusic.features.rhythm.tempogram`, equal to librosa's: 384 lags of 512
samples at 22,050 Hz) is averaged over all frames; lags 1..191 (23 ms to 4.4 s, the
beat and bar periods of music) are pooled into :data:`N_BINS` bins with geometrically
spaced edges, so a tempo change shifts the profile rather than reshaping it. These
36 *raw* numbers say how strongly the onsets repeat at each period (the metre: a jig's
triplet pulse against a reel's duple one), which neither MFCC statistics nor a 3 s CNN
window capture.

Like the MFCC statistics, the raw numbers are standardised per dimension with shipped
statistics (``rhythm_reference_stats.json``, fitted on the ``train`` split of Debian's
game soundtracks by ``benchmarks/rhythm_reference_stats.py``) and L2-normalised; the
fingerprint hashes the statistics. It is one of the three parts of ``music-embed``
(:mod:`torchmusic.embed.fused`); alone it is :class:`RhythmEmbedder`.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import itertools
import json
import math
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any

import numpy as np
import torch

from torchmusic.embed.base import Embedder, unit
from torchmusic.embed.info import ModelInfo, fingerprint_of
from torchmusic.errors import DataError, ParameterError
from torchmusic.features.config import FeatureConfig

#: Version of the rhythm descriptor.
RHYTHM_VERSION = "1"
#: Sample rate, hop and tempogram window (frames) of the descriptor.
SR, HOP, WIN = 22050, 512, 384
#: Bin edges over the lags (frames); bin ``i`` averages lags ``EDGES[i] .. EDGES[i+1]-1``.
EDGES: tuple[int, ...] = tuple(
    int(e) for e in np.unique(np.round(np.geomspace(1, 192, 49)).astype(int))
)
N_BINS = len(EDGES) - 1
REFERENCE_FILE = "rhythm_reference_stats.json"
STATS_FORMAT = "torchmusic.rhythm-standardisation"
#: Floor of a fitted per-dimension std: the longest lags vary little (the tempogram's
#: Hann window shrinks them) and must not be blown up into noise.
MIN_STD = 0.02


def raw_rhythm_profile(y: torch.Tensor) -> np.ndarray:
    """The :data:`N_BINS` raw numbers of a mono waveform at 22,050 Hz (float32).

    Parameters
    ----------
    y : torch.Tensor, shape ``(samples,)``
        Non-empty mono audio at :data:`SR`.

    Returns
    -------
    numpy.ndarray, shape ``(N_BINS,)``

    Raises
    ------
    ParameterError
        ``y`` is not a non-empty 1-D waveform.

    Examples
    --------
    >>> raw_rhythm_profile(torch.randn(22050)).shape
    (36,)
    """
    from torchmusic.features.rhythm import onset_strength, tempogram

    if not isinstance(y, torch.Tensor) or y.ndim != 1 or y.numel() == 0:
        raise ParameterError(
            f"y must be a non-empty 1-D waveform, got shape {tuple(getattr(y, 'shape', ()))}"
        )
    with torch.inference_mode():
        y = y.to(torch.float32)
        if y.numel() < 2 * HOP:  # onset strength needs two frames
            y = torch.nn.functional.pad(y, (0, 2 * HOP - y.numel()))
        profile = tempogram(onset_strength(y, sr=SR, hop_length=HOP), win_length=WIN).mean(-1)
        bins = [profile[a:b].mean() for a, b in itertools.pairwise(EDGES)]
    return torch.stack(bins).cpu().numpy().astype(np.float32)


@dataclasses.dataclass(frozen=True)
class RhythmStandardisation:
    """Per-dimension mean and std of raw rhythm profiles (``provenance`` not compared)."""

    mean: tuple[float, ...]
    std: tuple[float, ...]
    fitted_on: str
    n_tracks: int
    provenance: Mapping[str, Any] = dataclasses.field(
        default_factory=dict, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean", tuple(float(x) for x in self.mean))
        object.__setattr__(self, "std", tuple(float(x) for x in self.std))
        if len(self.mean) != N_BINS or len(self.std) != N_BINS:
            raise ParameterError(
                f"rhythm standardisation needs {N_BINS} means and stds, got "
                f"{len(self.mean)} and {len(self.std)}"
            )
        if not all(math.isfinite(x) for x in self.mean):
            raise ParameterError("rhythm standardisation means must be finite numbers")
        if not all(math.isfinite(x) and x > 0 for x in self.std):
            raise ParameterError("rhythm standardisation stds must be finite numbers > 0")

    def digest(self) -> str:
        """SHA-256 of the bin edges and the float64 means and stds."""
        h = hashlib.sha256(json.dumps([SR, HOP, WIN, list(EDGES)]).encode())
        h.update(np.asarray(self.mean, dtype="<f8").tobytes())
        h.update(np.asarray(self.std, dtype="<f8").tobytes())
        return h.hexdigest()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "format": STATS_FORMAT,
            "sr": SR,
            "hop_length": HOP,
            "win_length": WIN,
            "edges": list(EDGES),
            "fitted_on": self.fitted_on,
            "n_tracks": self.n_tracks,
            "provenance": dict(self.provenance),
            "mean": list(self.mean),
            "std": list(self.std),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RhythmStandardisation:
        """Inverse of :meth:`to_dict` (:class:`DataError` on a malformed record)."""
        try:
            if data.get("format") != STATS_FORMAT:
                raise ValueError(f"format {data.get('format')!r} is not {STATS_FORMAT!r}")
            if list(data.get("edges", [])) != list(EDGES):
                raise ValueError("its lag bins are not this version's")
            return cls(
                mean=tuple(data["mean"]),
                std=tuple(data["std"]),
                fitted_on=str(data["fitted_on"]),
                n_tracks=int(data["n_tracks"]),
                provenance=dict(data.get("provenance", {})),
            )
        except (KeyError, TypeError, ValueError, ParameterError) as exc:
            raise DataError(f"malformed rhythm standardisation record: {exc}") from exc


def fit_rhythm_standardisation(
    raw: np.ndarray | Sequence[Sequence[float]],
    *,
    fitted_on: str,
    provenance: Mapping[str, Any] | None = None,
) -> RhythmStandardisation:
    """Mean and (population) std per dimension of raw profiles ``(n_tracks, N_BINS)``,
    each std floored at :data:`MIN_STD`.

    Examples
    --------
    >>> raw = np.random.default_rng(0).random((10, N_BINS))
    >>> fit_rhythm_standardisation(raw, fitted_on="noise").n_tracks
    10
    """
    x = np.asarray(raw, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != N_BINS or x.shape[0] < 2:
        raise ParameterError(
            f"raw rhythm profiles must have shape (n_tracks >= 2, {N_BINS}), got {tuple(x.shape)}"
        )
    if not np.isfinite(x).all():
        raise ParameterError("raw rhythm profiles contain NaN or infinite values")
    return RhythmStandardisation(
        tuple(x.mean(0).tolist()),
        tuple(np.maximum(x.std(0), MIN_STD).tolist()),
        fitted_on=str(fitted_on),
        n_tracks=int(x.shape[0]),
        provenance=dict(provenance or {}),
    )


@functools.cache
def reference_rhythm_standardisation() -> RhythmStandardisation:
    """The statistics shipped in the package (``torchmusic/embed/rhythm_reference_stats.json``)."""
    path = resources.files("torchmusic.embed").joinpath(REFERENCE_FILE)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(
            f"the shipped rhythm reference statistics {REFERENCE_FILE} are missing or "
            f"unreadable ({exc}): reinstall torchmusic"
        ) from exc
    return RhythmStandardisation.from_dict(data)


class RhythmEmbedder(Embedder):
    """Standardised average tempogram on log-spaced lags (36-d; module docstring).

    Parameters
    ----------
    stats : RhythmStandardisation, optional
        Default: the shipped reference statistics.
    device : str or torch.device

    Examples
    --------
    >>> RhythmEmbedder().embed_waveform(torch.randn(22050)).shape  # doctest: +SKIP
    (36,)
    """

    def __init__(
        self,
        *,
        stats: RhythmStandardisation | None = None,
        device: str | torch.device = "cpu",
    ) -> None:
        stats = reference_rhythm_standardisation() if stats is None else stats
        if not isinstance(stats, RhythmStandardisation):
            raise ParameterError(
                f"stats must be a RhythmStandardisation, got {type(stats).__name__}"
            )
        self.stats = stats
        self.device = torch.device(device)
        self.feature = FeatureConfig(kind="logmel", sr=SR, hop_length=HOP)
        self._mean = np.asarray(stats.mean, dtype=np.float64)
        self._std = np.asarray(stats.std, dtype=np.float64)
        key = f"rhythm:{RHYTHM_VERSION}:stats={stats.digest()}"
        self._info = ModelInfo(
            name="rhythm",
            version=RHYTHM_VERSION,
            dim=N_BINS,
            fingerprint=fingerprint_of(key),
            source="rhythm",
        )

    @property
    def info(self) -> ModelInfo:
        return self._info

    def embed_waveform(self, y: torch.Tensor) -> np.ndarray:
        raw = raw_rhythm_profile(y.to(self.device))
        return unit(torch.from_numpy((raw - self._mean) / self._std))
