"""Objective metrics of symbolic pieces (generated or real), and how close two sets are.

The per-piece metrics follow the definitions popularised by MusPy (Dong et al. 2020)
and Yang & Lerch (2020): pitch-class entropy, scale consistency, pitch range,
polyphony, empty-beat rate and groove consistency. The set-level comparison is the
overlap (histogram intersection, 1 = identical) of the pooled pitch-class and
melodic-interval histograms of two sets of pieces.

Hand-written rather than taken from MusPy: each metric is a few lines of numpy on a
note array, and MusPy would add pretty_midi, mido and its own MIDI model on top of
symusic for no gain.

A piece is either a ``symusic.Score`` (drum tracks are ignored) or a
:class:`NoteArray`: onsets and durations in quarter notes, MIDI pitches, and the
bar length in quarter notes.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from torchmusic.errors import ParameterError

#: Metric names in the order of :func:`piece_metrics`' table columns.
METRICS = (
    "pitch_class_entropy",
    "scale_consistency",
    "pitch_range",
    "polyphony",
    "empty_beat_rate",
    "groove_consistency",
)

_MAJOR = np.array([0, 2, 4, 5, 7, 9, 11])
_MINOR = np.array([0, 2, 3, 5, 7, 8, 10])  # natural minor: same sets as the relative majors
# Onset grid of groove consistency: 12 steps per quarter (16ths and triplets both land).
_GROOVE_STEPS_PER_QUARTER = 12
# Intervals beyond an octave are folded into the +-12 bins' neighbours' range.
_MAX_INTERVAL = 12


@dataclasses.dataclass(frozen=True)
class NoteArray:
    """Notes of one piece on a quarter-note time axis.

    Attributes
    ----------
    onset, duration : np.ndarray, shape (n,)
        In quarter notes.
    pitch : np.ndarray, shape (n,)
        MIDI pitch numbers.
    bar_quarters : float
        Bar length in quarter notes (4 for 4/4, 3 for 6/8 and 3/4).
    """

    onset: np.ndarray
    duration: np.ndarray
    pitch: np.ndarray
    bar_quarters: float = 4.0

    def __post_init__(self) -> None:
        # Coerced once here so every metric can rely on float times and int pitches.
        object.__setattr__(self, "onset", np.asarray(self.onset, dtype=np.float64).reshape(-1))
        object.__setattr__(
            self, "duration", np.asarray(self.duration, dtype=np.float64).reshape(-1)
        )
        object.__setattr__(self, "pitch", np.asarray(self.pitch, dtype=np.int64).reshape(-1))
        n = len(self.pitch)
        if len(self.onset) != n or len(self.duration) != n:
            raise ParameterError(
                f"onset, duration and pitch must have the same length, got "
                f"{len(self.onset)}, {len(self.duration)}, {n}"
            )
        if not self.bar_quarters > 0:
            raise ParameterError(f"bar_quarters must be > 0, got {self.bar_quarters}")

    @property
    def end(self) -> float:
        return float(np.max(self.onset + self.duration)) if len(self.pitch) else 0.0


def as_notes(piece: Any) -> NoteArray:
    """A :class:`NoteArray` from a ``symusic.Score`` (pitched tracks merged) or a NoteArray.

    Examples
    --------
    >>> import numpy as np
    >>> n = as_notes(NoteArray(np.array([0.0, 1.0]), np.array([1.0, 1.0]), np.array([60, 64])))
    >>> n.end
    2.0
    """
    if isinstance(piece, NoteArray):
        return piece
    if hasattr(piece, "tracks") and hasattr(piece, "tpq"):
        tpq = float(piece.tpq)
        parts = [t.notes.numpy() for t in piece.tracks if not t.is_drum and len(t.notes)]
        if parts:
            onset = np.concatenate([p["time"] for p in parts]).astype(np.float64) / tpq
            duration = np.concatenate([p["duration"] for p in parts]).astype(np.float64) / tpq
            pitch = np.concatenate([p["pitch"] for p in parts]).astype(np.int64)
        else:
            onset = duration = np.zeros(0)
            pitch = np.zeros(0, dtype=np.int64)
        bar = 4.0
        if len(piece.time_signatures):
            ts = piece.time_signatures[0]
            bar = ts.numerator * 4.0 / ts.denominator
        return NoteArray(onset, duration, pitch, bar)
    raise ParameterError(
        f"a piece must be a symusic.Score or a NoteArray, got {type(piece).__name__}"
    )


def pitch_class_entropy(piece: Any) -> float:
    """Shannon entropy (bits) of the pitch-class histogram of note onsets; 0..log2(12).

    NaN for a piece without notes.
    """
    hist = pitch_class_histogram(piece)
    if not hist.any():
        return math.nan
    p = hist[hist > 0]
    return float(-(p * np.log2(p)).sum())


def pitch_class_histogram(piece: Any) -> np.ndarray:
    """Normalised histogram of note pitch classes, shape (12,) (all zeros without notes)."""
    n = as_notes(piece)
    counts = np.bincount(n.pitch % 12, minlength=12).astype(np.float64)
    return counts / counts.sum() if counts.sum() else counts


def scale_consistency(piece: Any) -> float:
    """Largest fraction of notes inside one major (or natural minor) scale, over all 12 keys."""
    n = as_notes(piece)
    if not len(n.pitch):
        return math.nan
    pcs = n.pitch % 12
    best = 0.0
    for tonic in range(12):
        for scale in (_MAJOR, _MINOR):
            best = max(best, float(np.isin(pcs, (scale + tonic) % 12).mean()))
    return best


def pitch_range(piece: Any) -> float:
    """Highest minus lowest pitch, in semitones."""
    n = as_notes(piece)
    return float(n.pitch.max() - n.pitch.min()) if len(n.pitch) else math.nan


def _sounding_steps(n: NoteArray, steps_per_quarter: int) -> np.ndarray:
    """Per grid step, how many notes sound."""
    steps = math.ceil(n.end * steps_per_quarter)
    count = np.zeros(steps + 1, dtype=np.int64)
    start = np.floor(n.onset * steps_per_quarter).astype(np.int64)
    stop = np.maximum(
        np.ceil((n.onset + n.duration) * steps_per_quarter).astype(np.int64), start + 1
    )
    np.add.at(count, start, 1)
    np.add.at(count, stop, -1)
    return np.cumsum(count)[:steps]


def polyphony(piece: Any, *, steps_per_quarter: int = 4) -> float:
    """Mean number of sounding notes over the grid steps where at least one note sounds."""
    n = as_notes(piece)
    if not len(n.pitch):
        return math.nan
    sounding = _sounding_steps(n, steps_per_quarter)
    active = sounding[sounding > 0]
    return float(active.mean()) if len(active) else math.nan


def empty_beat_rate(piece: Any) -> float:
    """Fraction of beats (quarter notes) from the start to the last note with nothing sounding."""
    n = as_notes(piece)
    if not len(n.pitch):
        return math.nan
    beats = math.ceil(n.end)
    busy = np.zeros(beats, dtype=bool)
    for o, d in zip(n.onset, n.duration, strict=True):
        first = math.floor(o)
        busy[first : max(math.ceil(o + d), first + 1)] = True
    return float(1.0 - busy.mean())


def groove_consistency(piece: Any) -> float:
    """1 - mean Hamming distance between the onset patterns of consecutive bars.

    Onsets are placed on a 12-per-quarter grid; the distance is normalised by the
    grid steps per bar, so 1 means every bar has the same rhythm. NaN with fewer
    than two bars.
    """
    n = as_notes(piece)
    per_bar = round(n.bar_quarters * _GROOVE_STEPS_PER_QUARTER)
    if not len(n.pitch) or per_bar < 1:
        return math.nan
    steps = np.round(n.onset * _GROOVE_STEPS_PER_QUARTER).astype(np.int64)
    n_bars = int(steps.max() // per_bar) + 1
    if n_bars < 2:
        return math.nan
    grid = np.zeros((n_bars, per_bar), dtype=bool)
    grid[steps // per_bar, steps % per_bar] = True
    return float(1.0 - (grid[1:] != grid[:-1]).mean())


def interval_histogram(piece: Any) -> np.ndarray:
    """Normalised histogram of melodic intervals, shape (25,) for -12..+12 semitones.

    Intervals are taken between successive onsets of the highest sounding line
    (the top note of each onset time), clipped to an octave.
    """
    n = as_notes(piece)
    hist = np.zeros(2 * _MAX_INTERVAL + 1)
    if len(n.pitch) < 2:
        return hist
    order = np.lexsort((-n.pitch, n.onset))
    onset, pitch = n.onset[order], n.pitch[order]
    first = np.r_[True, np.diff(onset) > 0]  # top note of each onset time
    top = pitch[first]
    if len(top) < 2:
        return hist
    steps = np.clip(np.diff(top), -_MAX_INTERVAL, _MAX_INTERVAL) + _MAX_INTERVAL
    hist += np.bincount(steps, minlength=len(hist))
    return hist / hist.sum()


def piece_metrics(piece: Any) -> dict[str, float]:
    """All per-piece metrics of :data:`METRICS` as a dict."""
    return {
        "pitch_class_entropy": pitch_class_entropy(piece),
        "scale_consistency": scale_consistency(piece),
        "pitch_range": pitch_range(piece),
        "polyphony": polyphony(piece),
        "empty_beat_rate": empty_beat_rate(piece),
        "groove_consistency": groove_consistency(piece),
    }


def histogram_overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection of two normalised histograms: sum of the element-wise minimum (0..1)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ParameterError(f"histograms differ in shape: {a.shape} vs {b.shape}")
    if not a.sum() or not b.sum():
        return math.nan
    return float(np.minimum(a / a.sum(), b / b.sum()).sum())


def set_metrics(
    pieces: Iterable[Any], *, reference: Sequence[Any] | None = None
) -> dict[str, float]:
    """Mean of each per-piece metric over a set (NaNs ignored), plus overlaps with a reference.

    Parameters
    ----------
    pieces : iterable of Score or NoteArray
        E.g. generated pieces.
    reference : sequence of Score or NoteArray, optional
        E.g. held-out real pieces. Adds ``pitch_class_overlap`` and
        ``interval_overlap``: the intersection of the pooled histograms of ``pieces``
        and ``reference``.

    Returns
    -------
    dict
        ``METRICS`` means, ``n_pieces`` and, with a reference, the two overlaps.

    Examples
    --------
    >>> import numpy as np
    >>> scale = NoteArray(np.arange(8.0), np.ones(8), np.array([60, 62, 64, 65, 67, 69, 71, 72]))
    >>> m = set_metrics([scale], reference=[scale])
    >>> m["scale_consistency"], m["pitch_class_overlap"]
    (1.0, 1.0)
    """
    notes = [as_notes(p) for p in pieces]
    if not notes:
        raise ParameterError("set_metrics needs at least one piece")
    rows = [piece_metrics(n) for n in notes]
    out: dict[str, float] = {"n_pieces": float(len(notes))}
    for name in METRICS:
        values = np.array([r[name] for r in rows], dtype=np.float64)
        out[name] = float(np.nanmean(values)) if np.isfinite(values).any() else math.nan
    if reference is not None:
        ref = [as_notes(p) for p in reference]
        if not ref:
            raise ParameterError("reference must hold at least one piece")
        out["pitch_class_overlap"] = histogram_overlap(
            _pooled(notes, pitch_class_histogram), _pooled(ref, pitch_class_histogram)
        )
        out["interval_overlap"] = histogram_overlap(
            _pooled(notes, interval_histogram), _pooled(ref, interval_histogram)
        )
    return out


def _pooled(notes: Sequence[NoteArray], histogram: Any) -> np.ndarray:
    # Each piece weighs the same, however many notes it has.
    return np.sum([histogram(n) for n in notes], axis=0)


def random_pieces(
    n: int,
    *,
    n_bars: int = 16,
    bar_quarters: float = 4.0,
    low: int = 48,
    high: int = 84,
    seed: int = 0,
) -> list[NoteArray]:
    """The random baseline: eighth-note streams of uniformly random pitches in [low, high].

    Examples
    --------
    >>> p = random_pieces(2, n_bars=4)
    >>> len(p), len(p[0].pitch)
    (2, 32)
    """
    rng = np.random.default_rng(seed)
    steps = int(n_bars * bar_quarters * 2)
    out = []
    for _ in range(n):
        onset = np.arange(steps) / 2.0
        out.append(
            NoteArray(onset, np.full(steps, 0.5), rng.integers(low, high + 1, steps), bar_quarters)
        )
    return out
