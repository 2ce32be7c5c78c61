"""The ``"mfcc"`` embedders: standardised MFCC statistics (v2) and the legacy MFCC mean (v1).

**v2** (:class:`MFCCEmbedder`, the default ``"mfcc"``). Per track, 20 MFCCs
(``torchmusic.features``, equal to ``librosa.feature.mfcc``) and their deltas
(``librosa.feature.delta``, width 9); the mean and standard deviation over time of
the MFCCs and the standard deviation of the deltas give 60 *raw statistics*, laid
out as :data:`LAYOUT`::

    [mean(mfcc) x 20, std(mfcc) x 20, std(delta) x 20]

Each raw statistic is standardised with a per-dimension mean and standard deviation
held by the embedder, ``z = (raw - mean) / std`` (an :class:`MFCCStandardisation`),
and ``z`` is L2-normalised. Compared by cosine, raw MFCC values would be ranked by
their first coefficients (an order of magnitude larger than the rest); after
standardisation every statistic weighs the same, so c0 (loudness) is kept as 3 of
60 numbers (leaving it out measured slightly worse).

The *means of the deltas* are left out, on measurement: a track's delta mean is,
up to edge effects, (last frame - first frame) / length, so it says nothing about
the sound, and standardised it is pure noise that weighs as much as a real
statistic. With them (80 numbers), same-track retrieval of 10 s excerpts of the
soundtrack ``test`` tracks fell to MRR 0.36 from 0.70 without them (docs/catalog.md).

The statistics shipped in the package (``mfcc_reference_stats.json``, see
:func:`reference_standardisation`) were fitted on real music; a catalog can refit
them on its own tracks (``torchmusic catalog reindex --restandardise``). They are
part of the model: the fingerprint hashes them, so embeddings standardised with
other statistics are never mixed in one catalog.

Short clips: the delta needs ``width`` (9) frames for librosa's polynomial fit at
the edges (``mode="interp"``); a clip with fewer frames (under 8 hops, ~0.19 s at
22,050 Hz) is differentiated with edge-replicating padding (``mode="nearest"``,
same width) instead, as the ``mfcc-svm`` baseline does. Only an empty waveform is
refused.

**v1** (:class:`MFCCMeanEmbedder`, legacy): the mean over time of the MFCCs with c0
left out, L2-normalised. Catalogs built with it keep working with it (same
fingerprint as before); ``catalog info`` reports them as needing
``torchmusic catalog reindex --restandardise``, which upgrades them to v2.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
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

#: Version of the standardised-statistics algorithm (``get_embedder("mfcc")``).
MFCC_VERSION = "2"
#: Version of the legacy MFCC-mean algorithm (:class:`MFCCMeanEmbedder`).
MFCC_MEAN_VERSION = "1"
#: The order of the raw statistics (each block ``n_mfcc`` long).
LAYOUT: tuple[str, ...] = ("mfcc_mean", "mfcc_std", "delta_std")
#: The shipped reference statistics, inside ``torchmusic/embed``.
REFERENCE_FILE = "mfcc_reference_stats.json"
STATS_FORMAT = "torchmusic.mfcc-standardisation"
#: A per-dimension standard deviation at most this (relative to 1 + |mean|) is
#: treated as constant: its std is set to 1 so the dimension is only centred.
_CONSTANT_STD = 1e-8


def _check_int(name: str, value: Any, *, minimum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ParameterError(f"{name}={value!r} must be an int >= {minimum}")
    return value


def _check_delta_width(width: Any) -> int:
    if not isinstance(width, int) or isinstance(width, bool) or width < 3 or width % 2 == 0:
        raise ParameterError(f"delta_width={width!r} must be an odd integer >= 3")
    return width


@dataclasses.dataclass(frozen=True)
class MFCCStandardisation:
    """Per-dimension mean and standard deviation of the raw MFCC statistics.

    Attributes
    ----------
    mean, std : tuple of float
        ``3 * n_mfcc`` numbers each, in the order of :data:`LAYOUT`; every ``std`` > 0.
    fitted_on : str
        What they were fitted on (a corpus, or a catalog).
    n_tracks : int
        How many tracks (0 for :meth:`identity`).
    n_mfcc, sr, delta_width : int
        The feature settings the raw statistics were computed with.
    provenance : mapping
        Free-form facts (corpus, split, excerpt, command); not part of equality or
        of the fingerprint.

    Examples
    --------
    >>> s = MFCCStandardisation.identity()
    >>> s.dim, MFCCStandardisation.from_dict(s.to_dict()) == s
    (60, True)
    """

    mean: tuple[float, ...]
    std: tuple[float, ...]
    fitted_on: str
    n_tracks: int
    n_mfcc: int = 20
    sr: int = 22050
    delta_width: int = 9
    provenance: Mapping[str, Any] = dataclasses.field(
        default_factory=dict, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        _check_int("n_mfcc", self.n_mfcc, minimum=1)
        _check_int("sr", self.sr, minimum=1)
        _check_delta_width(self.delta_width)
        _check_int("n_tracks", self.n_tracks, minimum=0)
        object.__setattr__(self, "mean", tuple(float(x) for x in self.mean))
        object.__setattr__(self, "std", tuple(float(x) for x in self.std))
        object.__setattr__(self, "provenance", dict(self.provenance))
        dim = len(LAYOUT) * self.n_mfcc
        if len(self.mean) != dim or len(self.std) != dim:
            raise ParameterError(
                f"MFCC standardisation for n_mfcc={self.n_mfcc} needs {dim} means and "
                f"stds, got {len(self.mean)} and {len(self.std)}"
            )
        if not all(math.isfinite(x) for x in self.mean):
            raise ParameterError("MFCC standardisation means must be finite numbers")
        if not all(math.isfinite(x) and x > 0 for x in self.std):
            raise ParameterError("MFCC standardisation stds must be finite numbers > 0")

    @property
    def dim(self) -> int:
        """Number of statistics (``3 * n_mfcc``)."""
        return len(self.mean)

    @property
    def settings(self) -> dict[str, int]:
        """The feature settings the statistics belong to."""
        return {"n_mfcc": self.n_mfcc, "sr": self.sr, "delta_width": self.delta_width}

    @classmethod
    def identity(
        cls, *, n_mfcc: int = 20, sr: int = 22050, delta_width: int = 9
    ) -> MFCCStandardisation:
        """Mean 0 and std 1 everywhere: no standardisation (``z`` is the raw statistics)."""
        dim = len(LAYOUT) * _check_int("n_mfcc", n_mfcc, minimum=1)
        return cls((0.0,) * dim, (1.0,) * dim, "identity", 0, n_mfcc, sr, delta_width)

    def digest(self) -> str:
        """SHA-256 of the settings and of the float64 means and stds (what the fingerprint hashes)."""
        h = hashlib.sha256(json.dumps(self.settings, sort_keys=True).encode())
        h.update(np.asarray(self.mean, dtype="<f8").tobytes())
        h.update(np.asarray(self.std, dtype="<f8").tobytes())
        return h.hexdigest()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (floats round-trip exactly through JSON)."""
        return {
            "format": STATS_FORMAT,
            "layout": list(LAYOUT),
            **self.settings,
            "fitted_on": self.fitted_on,
            "n_tracks": self.n_tracks,
            "provenance": dict(self.provenance),
            "mean": list(self.mean),
            "std": list(self.std),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MFCCStandardisation:
        """Inverse of :meth:`to_dict` (:class:`DataError` on a malformed record)."""
        try:
            if data.get("format", STATS_FORMAT) != STATS_FORMAT:
                raise ValueError(f"format {data.get('format')!r} is not {STATS_FORMAT!r}")
            if list(data.get("layout", LAYOUT)) != list(LAYOUT):
                raise ValueError(f"layout {data.get('layout')!r} is not {list(LAYOUT)}")
            return cls(
                mean=tuple(data["mean"]),
                std=tuple(data["std"]),
                fitted_on=str(data["fitted_on"]),
                n_tracks=int(data["n_tracks"]),
                n_mfcc=int(data.get("n_mfcc", 20)),
                sr=int(data.get("sr", 22050)),
                delta_width=int(data.get("delta_width", 9)),
                provenance=dict(data.get("provenance", {})),
            )
        except (KeyError, TypeError, ValueError, ParameterError) as exc:
            raise DataError(f"malformed MFCC standardisation record: {exc}") from exc


def fit_mfcc_standardisation(
    raw: np.ndarray | Sequence[Sequence[float]],
    *,
    fitted_on: str,
    n_mfcc: int = 20,
    sr: int = 22050,
    delta_width: int = 9,
    provenance: Mapping[str, Any] | None = None,
) -> MFCCStandardisation:
    """Per-dimension mean and (population) standard deviation of raw MFCC statistics.

    Parameters
    ----------
    raw : array-like [shape=(n_tracks, 3 * n_mfcc)]
        One row per track, from :meth:`MFCCEmbedder.raw_statistics` (computed with
        the ``n_mfcc``, ``sr`` and ``delta_width`` given here).
    fitted_on : str
        What the rows are (recorded with the statistics).
    n_mfcc, sr, delta_width : int
        The settings the rows were computed with.
    provenance : mapping, optional
        Free-form facts recorded with the statistics.

    Returns
    -------
    MFCCStandardisation
        A dimension that is constant over the tracks gets std 1 (it is centred only).

    Raises
    ------
    ParameterError
        Fewer than 2 rows, a wrong width, or non-finite values.

    Examples
    --------
    >>> raw = np.random.default_rng(0).normal(size=(50, 60))
    >>> fit_mfcc_standardisation(raw, fitted_on="noise").n_tracks
    50
    """
    x = np.asarray(raw, dtype=np.float64)
    dim = len(LAYOUT) * _check_int("n_mfcc", n_mfcc, minimum=1)
    if x.ndim != 2 or x.shape[1] != dim:
        raise ParameterError(
            f"raw MFCC statistics must have shape (n_tracks, {dim}), got {tuple(x.shape)}"
        )
    if x.shape[0] < 2:
        raise ParameterError(
            f"fitting per-dimension statistics needs at least 2 tracks, got {x.shape[0]}"
        )
    if not np.isfinite(x).all():
        raise ParameterError("raw MFCC statistics contain NaN or infinite values")
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    std = np.where(std > _CONSTANT_STD * (1.0 + np.abs(mean)), std, 1.0)
    return MFCCStandardisation(
        tuple(mean.tolist()),
        tuple(std.tolist()),
        fitted_on=str(fitted_on),
        n_tracks=int(x.shape[0]),
        n_mfcc=n_mfcc,
        sr=sr,
        delta_width=delta_width,
        provenance=dict(provenance or {}),
    )


@functools.cache
def reference_standardisation() -> MFCCStandardisation:
    """The statistics shipped in the package (``torchmusic/embed/mfcc_reference_stats.json``).

    Fitted on the ``train`` split of Debian's game soundtracks (see the file's
    ``provenance``); the default of :class:`MFCCEmbedder`.

    Examples
    --------
    >>> reference_standardisation().n_tracks  # doctest: +SKIP
    80
    """
    path = resources.files("torchmusic.embed").joinpath(REFERENCE_FILE)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(
            f"the shipped MFCC reference statistics {REFERENCE_FILE} are missing or unreadable "
            f"({exc}): reinstall torchmusic"
        ) from exc
    return MFCCStandardisation.from_dict(data)


def raw_mfcc_statistics(
    y: torch.Tensor, *, feature: FeatureConfig, delta_width: int = 9
) -> np.ndarray:
    """The ``3 * n_mfcc`` raw statistics (:data:`LAYOUT`) of a mono waveform, float32.

    ``mean`` and ``std`` (population) over time of the MFCCs, and ``std`` of their
    deltas; fewer frames than ``delta_width``: deltas with ``mode="nearest"``.

    Raises
    ------
    ParameterError
        ``y`` is not a non-empty 1-D waveform.
    """
    from torchmusic.features.delta import delta

    if not isinstance(y, torch.Tensor) or y.ndim != 1 or y.numel() == 0:
        raise ParameterError(
            f"y must be a non-empty 1-D waveform, got shape {tuple(getattr(y, 'shape', ()))}"
        )
    _check_delta_width(delta_width)
    with torch.inference_mode():
        mfcc = feature.compute(y.to(torch.float32))
        mode = "interp" if mfcc.shape[-1] >= delta_width else "nearest"
        d = delta(mfcc, width=delta_width, mode=mode)
        stats = torch.cat(
            [mfcc.mean(-1), mfcc.std(-1, correction=0), d.std(-1, correction=0)], dim=-1
        )
    return stats.cpu().numpy().astype(np.float32)


class MFCCEmbedder(Embedder):
    """Standardised means and standard deviations of MFCCs and their deltas (``"mfcc"`` v2).

    See the module docstring for the algorithm. ``dim`` is ``3 * n_mfcc`` (60).

    Parameters
    ----------
    n_mfcc : int
        Coefficients per frame.
    sr : int
        Sample rate audio is loaded at.
    delta_width : int
        Window of the deltas (odd, >= 3).
    stats : MFCCStandardisation, optional
        Per-dimension statistics (default: :func:`reference_standardisation`, which
        exists for the default settings only).
    device : str or torch.device

    Raises
    ------
    ParameterError
        Bad settings, statistics of other settings, or non-default settings
        without ``stats``.

    Examples
    --------
    >>> emb = MFCCEmbedder()  # doctest: +SKIP
    >>> emb.embed_waveform(torch.randn(22050)).shape  # doctest: +SKIP
    (60,)
    """

    def __init__(
        self,
        *,
        n_mfcc: int = 20,
        sr: int = 22050,
        delta_width: int = 9,
        stats: MFCCStandardisation | None = None,
        device: str | torch.device = "cpu",
    ) -> None:
        _check_int("n_mfcc", n_mfcc, minimum=2)
        _check_int("sr", sr, minimum=1)
        self.delta_width = _check_delta_width(delta_width)
        self.feature = FeatureConfig(kind="mfcc", n_mfcc=n_mfcc, sr=sr)
        self.device = torch.device(device)
        settings = {"n_mfcc": n_mfcc, "sr": sr, "delta_width": delta_width}
        if stats is None:
            reference = reference_standardisation()
            if reference.settings != settings:
                raise ParameterError(
                    f"the shipped MFCC statistics are for {reference.settings}, not {settings}: "
                    "pass stats= fitted with fit_mfcc_standardisation on raw_statistics of "
                    "your tracks"
                )
            stats = reference
        if not isinstance(stats, MFCCStandardisation):
            raise ParameterError(
                f"stats must be an MFCCStandardisation, got {type(stats).__name__}"
            )
        if stats.settings != settings:
            raise ParameterError(
                f"MFCC statistics fitted with {stats.settings} cannot standardise statistics "
                f"computed with {settings}"
            )
        self.stats = stats
        self._mean = np.asarray(stats.mean, dtype=np.float64)
        self._std = np.asarray(stats.std, dtype=np.float64)
        key = (
            f"mfcc-stats:{MFCC_VERSION}:{self.feature.fingerprint()}:"
            f"delta_width={delta_width}:stats={stats.digest()}"
        )
        self._info = ModelInfo(
            name="mfcc",
            version=MFCC_VERSION,
            dim=stats.dim,
            fingerprint=fingerprint_of(key),
            source="mfcc",
        )

    @property
    def info(self) -> ModelInfo:
        return self._info

    @property
    def settings(self) -> dict[str, int]:
        """``n_mfcc``, ``sr`` and ``delta_width``: with :attr:`stats`, all a catalog records."""
        return self.stats.settings

    def with_stats(self, stats: MFCCStandardisation) -> MFCCEmbedder:
        """The same embedder with other statistics (a new fingerprint)."""
        return MFCCEmbedder(**self.settings, stats=stats, device=self.device)

    def raw_statistics(self, y: torch.Tensor) -> np.ndarray:
        """The ``3 * n_mfcc`` raw statistics of a mono waveform at ``feature.sr`` (float32).

        Examples
        --------
        >>> MFCCEmbedder().raw_statistics(torch.randn(22050)).shape  # doctest: +SKIP
        (60,)
        """
        return raw_mfcc_statistics(
            y.to(self.device), feature=self.feature, delta_width=self.delta_width
        )

    def standardise(self, raw: np.ndarray) -> np.ndarray:
        """Unit-norm float32 embeddings of raw statistics ``(3 n_mfcc,)`` or ``(n, 3 n_mfcc)``."""
        x = np.asarray(raw, dtype=np.float64)
        if x.shape[-1:] != (self.dim,) or x.ndim not in (1, 2):
            raise ParameterError(
                f"raw MFCC statistics must have shape ({self.dim},) or (n, {self.dim}), "
                f"got {tuple(x.shape)}"
            )
        return unit(torch.from_numpy((x - self._mean) / self._std))

    def embed_waveform(self, y: torch.Tensor) -> np.ndarray:
        return self.standardise(self.raw_statistics(y))

    def embed_with_raw(self, y: torch.Tensor) -> tuple[np.ndarray, np.ndarray | None]:
        raw = self.raw_statistics(y)
        return self.standardise(raw), raw


class MFCCMeanEmbedder(Embedder):
    """Legacy ``"mfcc"`` v1: the mean over time of a track's MFCCs, L2-normalised.

    Kept so catalogs built with it stay readable and addable (same fingerprint as
    torchmusic's ``MFCCEmbedder`` before v2); new catalogs use :class:`MFCCEmbedder`.

    Parameters
    ----------
    n_mfcc : int
        Coefficients per frame.
    drop_c0 : bool
        Leave out the 0th coefficient (overall loudness), an order of magnitude
        larger than the others.
    sr : int
        Sample rate audio is loaded at.
    device : str or torch.device

    Examples
    --------
    >>> MFCCMeanEmbedder().embed_waveform(torch.randn(22050)).shape  # doctest: +SKIP
    (19,)
    """

    def __init__(
        self,
        *,
        n_mfcc: int = 20,
        drop_c0: bool = True,
        sr: int = 22050,
        device: str | torch.device = "cpu",
    ) -> None:
        if not isinstance(n_mfcc, int) or isinstance(n_mfcc, bool) or n_mfcc < 2:
            raise ParameterError(f"n_mfcc={n_mfcc!r} must be an int >= 2")
        self.feature = FeatureConfig(kind="mfcc", n_mfcc=n_mfcc, sr=sr)
        self.drop_c0 = bool(drop_c0)
        self.device = torch.device(device)
        dim = n_mfcc - 1 if self.drop_c0 else n_mfcc
        # The key of torchmusic's v1 "mfcc": unchanged, so old catalogs still match.
        key = f"mfcc-mean:{MFCC_MEAN_VERSION}:{self.feature.fingerprint()}:drop_c0={self.drop_c0}"
        self._info = ModelInfo(
            name="mfcc",
            version=MFCC_MEAN_VERSION,
            dim=dim,
            fingerprint=fingerprint_of(key),
            source="mfcc",
        )

    @property
    def info(self) -> ModelInfo:
        return self._info

    @property
    def settings(self) -> dict[str, Any]:
        """``n_mfcc``, ``drop_c0`` and ``sr``: what a catalog records."""
        return {"n_mfcc": self.feature.n_mfcc, "drop_c0": self.drop_c0, "sr": self.feature.sr}

    def embed_waveform(self, y: torch.Tensor) -> np.ndarray:
        if y.ndim != 1 or y.numel() == 0:
            raise ParameterError(f"y must be a non-empty 1-D waveform, got shape {tuple(y.shape)}")
        with torch.inference_mode():
            mfcc = self.feature.compute(y.to(self.device, torch.float32))
        mean = mfcc.mean(dim=-1)
        return unit(mean[1:] if self.drop_c0 else mean)


def mfcc_embedder_for(
    version: str,
    settings: Mapping[str, Any],
    stats: Mapping[str, Any] | None = None,
    *,
    device: str | torch.device = "cpu",
) -> Embedder:
    """The ``"mfcc"`` embedder of a recorded ``version`` with its recorded settings and statistics.

    What a catalog uses to rebuild the embedder it recorded.

    Raises
    ------
    DataError
        An unknown version (a newer torchmusic), or a v2 record without statistics.
    """
    settings = dict(settings)
    if version == MFCC_MEAN_VERSION:
        return MFCCMeanEmbedder(device=device, **settings)
    if version == MFCC_VERSION:
        if stats is None:
            raise DataError("the record of an mfcc v2 model holds no standardisation statistics")
        return MFCCEmbedder(device=device, stats=MFCCStandardisation.from_dict(stats), **settings)
    raise DataError(
        f"mfcc version {version!r} is unknown to this torchmusic (it knows "
        f"{MFCC_MEAN_VERSION} and {MFCC_VERSION}): upgrade torchmusic"
    )
