"""Noise for denoiser training and evaluation: real recordings and seeded generators.

Real noise: :func:`noise_files` lists the recordings under a folder (such as
``../shared/data/noise``) with a ``kind`` name each, and :func:`split_noise_files`
splits them **by file** into ``train`` / ``valid`` / ``unseen``, holding whole kinds
out as unseen noise types (by default :data:`DEFAULT_UNSEEN`: the running tap).

Synthetic noise, for what no recording has (:data:`SYNTHETIC_KINDS`):
:func:`mains_hum`, :func:`coloured_hiss` (tape hiss), :func:`vinyl_clicks`,
:func:`crackle`, and :func:`textured_noise` (``"ambient"``: randomised broadband textures). Every generator is a pure function of its arguments and ``rng``
(an int seed or a :class:`numpy.random.Generator`) and returns float32 audio of
shape ``(n,)`` **normalised to unit RMS** (so that :func:`~torchmusic.data.mixtures.mix_at_snr`
alone sets the level), except that a draw with no events (no click in a short
clip) is all zeros. :func:`random_noise` draws a generator's parameters from the
documented ranges, as :class:`~torchmusic.data.mixtures.MixtureDataset` does.

Everything here is NumPy; nothing is decoded until a dataset asks for it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from torchmusic.errors import DataError, ParameterError

#: Kind of every recording in ``../shared/data/noise`` (Speech Commands background
#: noise), by file stem. Other files get their stem, lower-cased, less a trailing
#: number (``cafe_02.wav`` -> ``cafe``), so numbered takes of one place share a kind.
KNOWN_KINDS: dict[str, str] = {
    "doing_the_dishes": "dishes",
    "dude_miaowing": "cat",
    "exercise_bike": "exercise_bike",
    "running_tap": "running_tap",
    "white_noise": "white",
    "pink_noise": "pink",
}
#: Kinds held out of training by :func:`split_noise_files` unless told otherwise: the
#: running tap is real, broadband and non-stationary, unlike every other file (a test
#: of generalisation, not of having heard the noise before).
DEFAULT_UNSEEN: tuple[str, ...] = ("running_tap",)

RngLike = int | np.random.Generator | None


@dataclass(frozen=True)
class NoiseFile:
    """A noise recording and its kind (``"dishes"``, ``"running_tap"``, ...)."""

    path: Path
    kind: str


def kind_of(path: str | os.PathLike[str]) -> str:
    """Noise kind of a file, from its name (see :data:`KNOWN_KINDS`)."""
    stem = Path(path).stem.lower()
    return KNOWN_KINDS.get(stem) or re.sub(r"[-_ ]*\d+$", "", stem) or stem


def noise_files(root: str | os.PathLike[str]) -> list[NoiseFile]:
    """Every audio file under ``root`` (recursively, sorted) with its noise kind.

    Parameters
    ----------
    root : path
        A folder of noise recordings, e.g. ``../shared/data/noise``.

    Returns
    -------
    list of NoiseFile
        Sorted by path; ``kind`` from :func:`kind_of`.

    Raises
    ------
    DataError
        If ``root`` is not a folder or holds no audio file.

    Examples
    --------
    >>> files = noise_files("../shared/data/noise")  # doctest: +SKIP
    >>> sorted({f.kind for f in files})  # doctest: +SKIP
    ['cat', 'dishes', 'exercise_bike', 'pink', 'running_tap', 'white']
    """
    from torchmusic.data.discover import find_audio_files

    paths = find_audio_files(root)
    if not paths:
        raise DataError(f"no audio files under {str(root)!r}")
    return [NoiseFile(p, kind_of(p)) for p in paths]


def split_noise_files(
    files: Iterable[NoiseFile | str | os.PathLike[str]],
    *,
    unseen: Sequence[str] = DEFAULT_UNSEEN,
    valid_fraction: float = 0.2,
    seed: int = 0,
) -> dict[str, list[NoiseFile]]:
    """Split noise recordings by file; the ``unseen`` kinds go nowhere but ``unseen``.

    No file is ever cut between two splits. Of the files of the other kinds a
    seeded ``valid_fraction`` (rounded, at least one when two or more files remain,
    none when ``valid_fraction`` is 0) goes to ``valid``, the rest to ``train``.

    With ``../shared/data/noise`` each kind is a single file, so the ``valid`` file
    is a kind that training never hears either: validation there measures
    generalisation to a near kind; ``unseen`` stays untouched for the final test.

    Parameters
    ----------
    files : iterable of NoiseFile or path
        As from :func:`noise_files` (a path gets its kind from :func:`kind_of`).
    unseen : sequence of str
        Kinds held out entirely; each must occur in ``files``.
    valid_fraction : float in [0, 1)
        Share of the remaining files for validation.
    seed : int
        Seed of the train / valid draw (the same seed gives the same split).

    Returns
    -------
    dict
        ``{"train": [...], "valid": [...], "unseen": [...]}``, each sorted by path.

    Raises
    ------
    ParameterError
        If an ``unseen`` kind has no file, or ``valid_fraction`` is out of range.

    Examples
    --------
    >>> split = split_noise_files(noise_files("../shared/data/noise"), seed=0)  # doctest: +SKIP
    >>> [f.kind for f in split["unseen"]]  # doctest: +SKIP
    ['running_tap']
    """
    items = sorted(
        {f if isinstance(f, NoiseFile) else NoiseFile(Path(f), kind_of(f)) for f in files},
        key=lambda f: str(f.path),
    )
    if isinstance(unseen, str):
        unseen = (unseen,)
    kinds = {f.kind for f in items}
    missing = [k for k in unseen if k not in kinds]
    if missing:
        raise ParameterError(
            f"unseen={list(unseen)!r}: no file of kind {missing}; have {sorted(kinds)}"
        )
    if not (isinstance(valid_fraction, int | float) and 0 <= valid_fraction < 1):
        raise ParameterError(f"valid_fraction={valid_fraction!r} must be a number in [0, 1)")
    held = [f for f in items if f.kind in unseen]
    rest = [f for f in items if f.kind not in unseen]
    n_valid = 0
    if valid_fraction > 0 and len(rest) >= 2:
        n_valid = min(len(rest) - 1, max(1, round(valid_fraction * len(rest))))
    order = np.random.default_rng(seed).permutation(len(rest))
    valid_ids = set(order[:n_valid].tolist())
    return {
        "train": [f for i, f in enumerate(rest) if i not in valid_ids],
        "valid": [f for i, f in enumerate(rest) if i in valid_ids],
        "unseen": held,
    }


# -- generators ---------------------------------------------------------------------------


def _check_n_sr(n: Any, sr: Any) -> tuple[int, int]:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise ParameterError(f"n={n!r} must be an int >= 0 (samples)")
    if isinstance(sr, bool) or not isinstance(sr, int | np.integer) or sr <= 0:
        raise ParameterError(f"sr={sr!r} must be a positive int (Hz)")
    return int(n), int(sr)


def _rng(rng: RngLike) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _unit_rms(y: np.ndarray) -> np.ndarray:
    rms = float(np.sqrt(np.mean(np.square(y, dtype=np.float64)))) if y.size else 0.0
    return (y / rms if rms > 0 else y).astype(np.float32)


def _slow_wander(n: int, sr: int, rng: np.random.Generator, period_s: float) -> np.ndarray:
    """A smooth random curve in about [-1, 1] whose features last ``period_s`` seconds."""
    knots = max(2, int(np.ceil(n / (period_s * sr))) + 2)
    values = rng.uniform(-1, 1, knots)
    x = np.linspace(0, knots - 1, n, endpoint=False) if n else np.zeros(0)
    # Cubic-like (smoothstep) interpolation: no corners in the frequency curve.
    i = np.minimum(x.astype(int), knots - 2)
    t = x - i
    t = t * t * (3 - 2 * t)
    return values[i] * (1 - t) + values[i + 1] * t


def mains_hum(
    n: int,
    sr: int,
    *,
    f0: float = 50.0,
    harmonics: int | Sequence[float] = 6,
    drift: float = 0.002,
    drift_period_s: float = 4.0,
    rng: RngLike = None,
) -> np.ndarray:
    """Mains hum: ``f0`` and its harmonics, whose frequency drifts slowly.

    The instantaneous frequency is ``f0 * (1 + drift * w(t))`` with ``w`` a smooth
    random curve in [-1, 1] changing over about ``drift_period_s`` (grids wander by
    ~0.1 Hz); harmonic ``k`` follows at ``k`` times it, with a random start phase.
    Harmonics at or above ``0.95 * sr / 2`` are left out.

    Parameters
    ----------
    n : int >= 0
        Samples.
    sr : int > 0
        Sample rate (Hz).
    f0 : float > 0
        Mains frequency, 50 (Europe, Asia) or 60 (Americas) Hz.
    harmonics : int >= 1 or sequence of float
        Number of partials with amplitude ``1 / k``, or the amplitudes themselves
        (``[1, 0, 0.5]``: fundamental and third harmonic).
    drift : float >= 0
        Largest relative frequency deviation (0.002 = +-0.1 Hz at 50 Hz).
    drift_period_s : float > 0
        Time scale of the drift.
    rng : int, numpy.random.Generator or None
        Seed or generator (``None``: fresh entropy).

    Returns
    -------
    np.ndarray [shape=(n,), dtype=float32]
        Unit RMS.

    Examples
    --------
    >>> hum = mains_hum(16000, 16000, f0=60, harmonics=4, rng=0)
    >>> hum.shape, round(float((hum ** 2).mean()), 3)
    ((16000,), 1.0)
    """
    n, sr = _check_n_sr(n, sr)
    if not (isinstance(f0, int | float) and 0 < f0 < sr / 2):
        raise ParameterError(f"f0={f0!r} must be in (0, sr/2={sr / 2}) Hz")
    if isinstance(harmonics, int | np.integer) and not isinstance(harmonics, bool):
        if harmonics < 1:
            raise ParameterError(f"harmonics={harmonics!r} must be >= 1")
        amps = 1.0 / np.arange(1, int(harmonics) + 1)
    else:
        amps = np.asarray(harmonics, dtype=np.float64)
        if amps.ndim != 1 or amps.size == 0 or not np.all(np.isfinite(amps)) or amps.min() < 0:
            raise ParameterError(f"harmonics={harmonics!r}: an int or amplitudes >= 0")
    if not (isinstance(drift, int | float) and 0 <= drift < 0.1):
        raise ParameterError(f"drift={drift!r} must be in [0, 0.1)")
    if not (isinstance(drift_period_s, int | float) and drift_period_s > 0):
        raise ParameterError(f"drift_period_s={drift_period_s!r} must be > 0")
    gen = _rng(rng)
    freq = f0 * (1 + drift * _slow_wander(n, sr, gen, drift_period_s))
    phase = 2 * np.pi * np.cumsum(freq) / sr  # float64: phase stays exact over minutes
    y = np.zeros(n)
    for k, amp in enumerate(amps, start=1):
        start = gen.uniform(0, 2 * np.pi)
        if amp > 0 and k * f0 * (1 + drift) < 0.95 * sr / 2:
            y += amp * np.sin(k * phase + start)
    return _unit_rms(y)


def coloured_hiss(
    n: int,
    sr: int,
    *,
    slope_db_per_octave: float = -1.5,
    low_hz: float = 20.0,
    rng: RngLike = None,
) -> np.ndarray:
    """Gaussian noise whose power spectrum falls (or rises) by a fixed dB per octave.

    0 dB/octave is white, -3 pink, -6 brown; tape hiss sits around -3 to +1.5
    depending on the machine's equalisation. Below ``low_hz`` the spectrum is flat
    (at its ``low_hz`` level) so a negative slope does not blow up at DC; DC is 0.

    Parameters
    ----------
    n : int >= 0
        Samples.
    sr : int > 0
        Sample rate (Hz).
    slope_db_per_octave : float
        Power spectral slope in [-12, 12].
    low_hz : float > 0
        Corner under which the spectrum is flat.
    rng : int, numpy.random.Generator or None
        Seed or generator.

    Returns
    -------
    np.ndarray [shape=(n,), dtype=float32]
        Unit RMS.

    Examples
    --------
    >>> hiss = coloured_hiss(8000, 16000, slope_db_per_octave=-3.0, rng=1)
    >>> hiss.dtype, hiss.shape
    (dtype('float32'), (8000,))
    """
    n, sr = _check_n_sr(n, sr)
    if not (isinstance(slope_db_per_octave, int | float) and -12 <= slope_db_per_octave <= 12):
        raise ParameterError(f"slope_db_per_octave={slope_db_per_octave!r} must be in [-12, 12]")
    if not (isinstance(low_hz, int | float) and 0 < low_hz < sr / 2):
        raise ParameterError(f"low_hz={low_hz!r} must be in (0, sr/2)")
    gen = _rng(rng)
    spectrum = np.fft.rfft(gen.standard_normal(n))
    freqs = np.maximum(np.fft.rfftfreq(n, 1 / sr), low_hz)
    # Power changes by slope dB per doubling, so amplitude by (f/f_ref)^(slope / 20log10 2).
    spectrum *= (freqs / low_hz) ** (slope_db_per_octave / (20 * np.log10(2)))
    if spectrum.size:
        spectrum[0] = 0
    return _unit_rms(np.fft.irfft(spectrum, n))


def _impulses(
    n: int,
    sr: int,
    *,
    rate_per_s: float,
    width_ms: tuple[float, float],
    amplitude_spread: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Poisson-timed short pulses; returns ``(audio, onsets)``."""
    if not (isinstance(rate_per_s, int | float) and 0 <= rate_per_s < sr):
        raise ParameterError(f"rate_per_s={rate_per_s!r} must be in [0, sr)")
    try:
        lo, hi = (float(w) for w in width_ms)
    except (TypeError, ValueError):
        raise ParameterError(f"width_ms={width_ms!r} must be a pair (shortest, longest)") from None
    if not 0 < lo <= hi <= 100:
        raise ParameterError(f"width_ms={width_ms!r} must satisfy 0 < shortest <= longest <= 100")
    count = int(rng.poisson(rate_per_s * n / sr)) if n else 0
    onsets = np.sort(rng.integers(0, max(n, 1), count))
    y = np.zeros(n)
    # Widths log-uniform: as many sharp ticks as broad pops.
    widths = np.exp(rng.uniform(np.log(lo), np.log(hi), count)) * sr / 1000
    amps = rng.lognormal(0.0, amplitude_spread, count) * rng.choice([-1.0, 1.0], count)
    for onset, width, amp in zip(onsets, widths, amps, strict=True):
        w = max(1, round(width))
        # A mostly one-signed pulse (a stylus jolt), roughened so it is not one tone.
        pulse = np.hanning(w + 2)[1:-1] * (1 + 0.3 * rng.standard_normal(w))
        end = min(n, onset + w)
        y[onset:end] += amp * pulse[: end - onset]
    return y, onsets


def vinyl_clicks(
    n: int,
    sr: int,
    *,
    rate_per_s: float = 2.0,
    width_ms: tuple[float, float] = (0.1, 2.0),
    thump_probability: float = 0.1,
    rng: RngLike = None,
    return_onsets: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Vinyl clicks: Poisson-timed pulses of 0.1-2 ms, some with a low thump.

    Clicks arrive as a Poisson process of ``rate_per_s``; each lasts a width drawn
    log-uniformly from ``width_ms``, has a log-normal amplitude (spread 0.5 in log)
    and a random sign. With ``thump_probability`` a click also sets off a damped
    20-80 Hz oscillation lasting 20-100 ms (a scratch jolting the tone arm) at
    0.1-0.5 times its amplitude.

    Parameters
    ----------
    n : int >= 0
        Samples.
    sr : int > 0
        Sample rate (Hz).
    rate_per_s : float >= 0
        Mean clicks per second.
    width_ms : (float, float)
        Shortest and longest click, in ms.
    thump_probability : float in [0, 1]
        Chance that a click comes with a thump.
    rng : int, numpy.random.Generator or None
        Seed or generator.
    return_onsets : bool
        Also return the click onsets (sample indices, sorted).

    Returns
    -------
    y : np.ndarray [shape=(n,), dtype=float32]
        Unit RMS; all zeros when no click fell in the clip.
    onsets : np.ndarray [shape=(clicks,), dtype=int64]
        Only with ``return_onsets``.

    Examples
    --------
    >>> y, onsets = vinyl_clicks(16000 * 10, 16000, rate_per_s=3, rng=0, return_onsets=True)
    >>> 10 < len(onsets) < 60
    True
    """
    n, sr = _check_n_sr(n, sr)
    if not (isinstance(thump_probability, int | float) and 0 <= thump_probability <= 1):
        raise ParameterError(f"thump_probability={thump_probability!r} must be in [0, 1]")
    gen = _rng(rng)
    y, onsets = _impulses(
        n, sr, rate_per_s=rate_per_s, width_ms=width_ms, amplitude_spread=0.5, rng=gen
    )
    for onset in onsets[gen.random(len(onsets)) < thump_probability]:
        seconds = gen.uniform(0.02, 0.1)
        length = min(n - onset, int(seconds * sr))
        t = np.arange(length) / sr
        decay = seconds / 3  # e-folding time: a third of its length, -26 dB at the end
        thump = np.sin(2 * np.pi * gen.uniform(20, 80) * t) * np.exp(-t / decay)
        y[onset : onset + length] += gen.uniform(0.1, 0.5) * np.abs(y).max() * thump
    out = _unit_rms(y)
    return (out, onsets.astype(np.int64)) if return_onsets else out


def crackle(
    n: int,
    sr: int,
    *,
    rate_per_s: float = 300.0,
    width_ms: tuple[float, float] = (0.02, 0.3),
    surface_db: float = -30.0,
    rng: RngLike = None,
) -> np.ndarray:
    """Vinyl crackle: dense tiny pulses of widely spread size over a faint surface hiss.

    Pulses as in :func:`vinyl_clicks` but many more, shorter and with a wide
    log-normal amplitude spread (1.0: most are faint, a few pop out); high-passed
    by a first difference, as crackle is bright. Surface noise (hiss of slope -3
    dB/octave) is added ``surface_db`` below the pulses' RMS.

    Parameters
    ----------
    n : int >= 0
        Samples.
    sr : int > 0
        Sample rate (Hz).
    rate_per_s : float >= 0
        Mean pulses per second.
    width_ms : (float, float)
        Shortest and longest pulse, in ms.
    surface_db : float <= 0
        Level of the surface hiss relative to the pulses (``-inf``: none).
    rng : int, numpy.random.Generator or None
        Seed or generator.

    Returns
    -------
    np.ndarray [shape=(n,), dtype=float32]
        Unit RMS.

    Examples
    --------
    >>> y = crackle(16000, 16000, rng=0)
    >>> y.shape
    (16000,)
    """
    n, sr = _check_n_sr(n, sr)
    if not (isinstance(surface_db, int | float) and surface_db <= 0):
        raise ParameterError(f"surface_db={surface_db!r} must be <= 0 dB (or -inf)")
    gen = _rng(rng)
    y, _ = _impulses(n, sr, rate_per_s=rate_per_s, width_ms=width_ms, amplitude_spread=1.0, rng=gen)
    y = np.diff(y, prepend=0.0)
    rms = float(np.sqrt(np.mean(y**2))) if n else 0.0
    if np.isfinite(surface_db) and n:
        hiss = coloured_hiss(n, sr, slope_db_per_octave=-3.0, rng=gen).astype(np.float64)
        y = y + (rms if rms > 0 else 1.0) * 10 ** (surface_db / 20) * hiss
    return _unit_rms(y)


# -- random parameters ----------------------------------------------------------------------


#: Generator kinds and the parameter ranges :func:`random_noise` draws from.
def textured_noise(
    n: int,
    sr: int,
    *,
    bumps: Sequence[tuple[float, float, float]] = (),
    tilt_db_per_octave: float = -3.0,
    modulation_db: float = 0.0,
    modulation_s: float = 1.0,
    grains_per_s: float = 0.0,
    grain_ms: float = 10.0,
    rng: RngLike = None,
) -> np.ndarray:
    """Broadband noise with a random-looking spectrum and a moving level.

    Domain randomisation for denoiser training: Gaussian noise whose power spectrum
    is a tilt (dB per octave above 100 Hz) plus Gaussian bumps in log-frequency, whose
    level wanders slowly (a low-passed random walk in dB), optionally mixed with
    decaying noise grains (short bursts at Poisson times, filtered like the rest). No
    recording's kind is imitated: the ranges of :func:`random_noise` cover many
    stationary and non-stationary broadband textures.

    Parameters
    ----------
    n : int >= 0
    sr : int > 0
    bumps : sequence of (centre Hz, width octaves, gain dB)
        Spectral bumps added (in dB) to the tilt.
    tilt_db_per_octave : float
        Power slope in [-12, 12].
    modulation_db : float >= 0
        Standard deviation of the level's wander (dB).
    modulation_s : float > 0
        Time scale of the wander (s).
    grains_per_s : float >= 0
        Rate of grains; each decays over ``grain_ms``.
    grain_ms : float > 0
    rng : int, numpy.random.Generator or None

    Returns
    -------
    np.ndarray [shape=(n,), dtype=float32]
        Unit RMS.

    Examples
    --------
    >>> textured_noise(8000, 16000, bumps=[(1000.0, 1.0, 12.0)], rng=0).shape
    (8000,)
    """
    n, sr = _check_n_sr(n, sr)
    if not (isinstance(tilt_db_per_octave, int | float) and -12 <= tilt_db_per_octave <= 12):
        raise ParameterError(f"tilt_db_per_octave={tilt_db_per_octave!r} must be in [-12, 12]")
    if modulation_db < 0 or modulation_s <= 0 or grains_per_s < 0 or grain_ms <= 0:
        raise ParameterError(
            f"modulation_db={modulation_db!r} and grains_per_s={grains_per_s!r} must be >= 0, "
            f"modulation_s={modulation_s!r} and grain_ms={grain_ms!r} > 0"
        )
    gen = _rng(rng)
    x = gen.standard_normal(n)
    if grains_per_s > 0:
        level = np.zeros(n)
        starts = np.flatnonzero(gen.random(n) < grains_per_s / sr)
        decay = np.exp(-np.arange(int(5 * grain_ms * sr / 1000) + 1) / (grain_ms * sr / 1000))
        for s0 in starts:
            seg = decay[: n - s0]
            level[s0 : s0 + seg.size] += gen.uniform(0.2, 1.0) * seg
        x = x * (0.2 + level)  # a floor of steady noise under the grains
    spectrum = np.fft.rfft(x)
    octaves = np.log2(np.maximum(np.fft.rfftfreq(n, 1 / sr), 100.0) / 100.0)
    gain_db = tilt_db_per_octave * octaves
    for centre, width, g in bumps:
        if centre <= 0 or width <= 0:
            raise ParameterError(f"bump {(centre, width, g)!r}: centre and width must be > 0")
        gain_db = gain_db + g * np.exp(
            -0.5 * ((octaves - np.log2(max(centre, 100.0) / 100.0)) / width) ** 2
        )
    spectrum *= 10 ** (gain_db / 20)
    if spectrum.size:
        spectrum[0] = 0
    y = np.fft.irfft(spectrum, n)
    if modulation_db > 0 and n > 1:
        # A random walk in dB, low-passed to the time scale and scaled to modulation_db.
        k = max(1, int(modulation_s * sr))
        c = np.concatenate([[0.0], np.cumsum(gen.standard_normal(n + k))])
        walk = (c[k : k + n] - c[:n]) / k  # moving average over k samples
        walk = (walk - walk.mean()) / (walk.std() + 1e-12) * modulation_db
        y = y * 10 ** (walk / 20)
    return _unit_rms(y)


SYNTHETIC_KINDS: dict[str, str] = {
    "hum": "mains_hum: f0 50 or 60 Hz, 2-12 harmonics with amplitude k^-(0.5..2), drift 0-0.5 %",
    "hiss": "coloured_hiss: slope -4.5..+1.5 dB/octave",
    # At least 3 clicks expected per clip: a silent draw has no SNR to mix at.
    "clicks": "vinyl_clicks: 0.5-8 clicks/s (>= 3 per clip), 0.1-2 ms, thump probability 0-0.3",
    "crackle": "crackle: 50-1000 pulses/s, surface hiss -40..-15 dB",
    "ambient": "textured_noise: tilt -9..+3 dB/octave, 0-3 bumps (150 Hz-8 kHz, 0.3-2 "
    "octaves, -12..+18 dB), level wander 0-10 dB over 0.1-4 s, grains 0 or 5-300/s of 2-40 ms",
    # Noise confined to one band (a whoosh, a drone of air or machinery): the other kinds
    # spread over the whole spectrum, and a network trained on them learns to leave
    # anything concentrated in the low-mid band alone as if it were music.
    "band": "textured_noise with one +30..+45 dB bump (100 Hz-8 kHz, 0.2-1 octave) over a "
    "0..-3 dB/octave tilt: band-limited noise; level wander 0-6 dB over 0.5-4 s",
}


def random_noise(kind: str, n: int, sr: int, *, rng: RngLike = None) -> np.ndarray:
    """``n`` samples of synthetic noise ``kind`` with parameters drawn at random.

    The ranges are listed in :data:`SYNTHETIC_KINDS`. Deterministic for a given
    ``rng`` seed.

    Parameters
    ----------
    kind : {"hum", "hiss", "clicks", "crackle", "ambient", "band"}
        Generator.
    n : int >= 0
        Samples.
    sr : int > 0
        Sample rate (Hz).
    rng : int, numpy.random.Generator or None
        Seed or generator.

    Returns
    -------
    np.ndarray [shape=(n,), dtype=float32]
        Unit RMS (zeros if a click draw has no click).

    Examples
    --------
    >>> random_noise("hum", 4000, 16000, rng=3).shape
    (4000,)
    """
    gen = _rng(rng)
    if kind == "hum":
        count = int(gen.integers(2, 13))
        amps = np.arange(1, count + 1) ** -gen.uniform(0.5, 2.0)
        return mains_hum(
            n, sr, f0=float(gen.choice([50.0, 60.0])), harmonics=list(amps),
            drift=float(gen.uniform(0, 0.005)), rng=gen,
        )  # fmt: skip
    if kind == "hiss":
        return coloured_hiss(n, sr, slope_db_per_octave=float(gen.uniform(-4.5, 1.5)), rng=gen)
    if kind == "clicks":
        rate = float(np.exp(gen.uniform(np.log(0.5), np.log(8.0))))
        return vinyl_clicks(
            n, sr, rate_per_s=min(max(rate, 3 * sr / max(n, 1)), sr / 2),
            thump_probability=float(gen.uniform(0, 0.3)), rng=gen,
        )  # fmt: skip
    if kind == "ambient":
        bumps = [
            (
                float(np.exp(gen.uniform(np.log(150.0), np.log(8000.0)))),
                float(gen.uniform(0.3, 2.0)),
                float(gen.uniform(-12.0, 18.0)),
            )
            for _ in range(int(gen.integers(0, 4)))
        ]
        grainy = gen.random() < 0.5
        return textured_noise(
            n, sr, bumps=bumps, tilt_db_per_octave=float(gen.uniform(-9.0, 3.0)),
            modulation_db=float(gen.uniform(0.0, 10.0)),
            modulation_s=float(np.exp(gen.uniform(np.log(0.1), np.log(4.0)))),
            grains_per_s=float(np.exp(gen.uniform(np.log(5.0), np.log(300.0)))) if grainy else 0.0,
            grain_ms=float(gen.uniform(2.0, 40.0)), rng=gen,
        )  # fmt: skip
    if kind == "band":
        return textured_noise(
            n, sr, tilt_db_per_octave=float(gen.uniform(-3.0, 0.0)),
            bumps=[(
                float(np.exp(gen.uniform(np.log(100.0), np.log(8000.0)))),
                float(gen.uniform(0.2, 1.0)), float(gen.uniform(30.0, 45.0)),
            )],
            modulation_db=float(gen.uniform(0.0, 6.0)),
            modulation_s=float(np.exp(gen.uniform(np.log(0.5), np.log(4.0)))), rng=gen,
        )  # fmt: skip
    if kind == "crackle":
        return crackle(
            n, sr, rate_per_s=float(np.exp(gen.uniform(np.log(50), np.log(1000)))),
            surface_db=float(gen.uniform(-40, -15)), rng=gen,
        )  # fmt: skip
    raise ParameterError(f"kind={kind!r}: expected one of {sorted(SYNTHETIC_KINDS)}")
