"""Noisy / clean pairs for denoisers: exact-SNR mixing and an on-the-fly mixture dataset.

- :func:`mix_at_snr` adds noise to clean audio at an SNR exact to float rounding
  (:func:`fit_length` loops or crops the noise, :func:`scale_to_snr` finds its gain).
- :class:`MixtureDataset` pairs random segments of real music
  (:class:`~torchmusic.data.segments.AudioSegments`) with noise from recordings or
  the generators of :mod:`torchmusic.data.noise`, at a random SNR and gain; every
  draw depends on ``(seed, epoch, index)`` only.
- :func:`tiny_fixture` writes a few seconds of generated music and noise for tests.

SNR here is ``10 log10(sum(clean**2) / sum(noise**2))`` over the whole item, all
channels together.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from torchmusic.data.noise import SYNTHETIC_KINDS, NoiseFile, kind_of, random_noise
from torchmusic.data.segments import AudioSegments
from torchmusic.errors import DataError, ParameterError

Array = np.ndarray | torch.Tensor

# -- mixing -------------------------------------------------------------------------------


def _float64(x: Any, name: str) -> np.ndarray:
    arr = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if not np.issubdtype(arr.dtype, np.floating) or arr.ndim not in (1, 2) or arr.shape[-1] == 0:
        raise ParameterError(
            f"{name} has dtype {arr.dtype} and shape {arr.shape}; expected float audio "
            "of shape (samples,) or (channels, samples)"
        )
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise ParameterError(f"{name} contains NaN or Inf samples")
    return arr


def _like(values: np.ndarray, ref: Array) -> Array:
    """``values`` as the type, dtype and device of ``ref``."""
    if isinstance(ref, torch.Tensor):
        return torch.from_numpy(values).to(dtype=ref.dtype, device=ref.device)
    return values.astype(np.asarray(ref).dtype, copy=False)


def fit_length(noise: Array, n: int, *, offset: int = 0) -> Array:
    """``n`` samples of ``noise`` from ``offset`` on, looped if it is shorter.

    Parameters
    ----------
    noise : np.ndarray or torch.Tensor [shape=(samples,) or (channels, samples)]
        Noise at the clean audio's sample rate (resample it first).
    n : int >= 0
        Samples wanted.
    offset : int
        Start; taken modulo the noise length.

    Returns
    -------
    np.ndarray or torch.Tensor [shape=(n,) or (channels, n)]
        Same type and dtype as ``noise``.

    Examples
    --------
    >>> fit_length(np.arange(3.0), 7, offset=1)
    array([1., 2., 0., 1., 2., 0., 1.])
    """
    length = noise.shape[-1]
    if length == 0:
        raise ParameterError("noise has no samples")
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise ParameterError(f"n={n!r} must be an int >= 0")
    idx = (int(offset) + np.arange(n)) % length
    if isinstance(noise, torch.Tensor):
        return noise[..., torch.from_numpy(idx).to(noise.device)]
    return np.asarray(noise)[..., idx]


def scale_to_snr(clean: Array, noise: Array, snr_db: float) -> Array:
    """``noise`` times the gain that puts it ``snr_db`` under ``clean``.

    Parameters
    ----------
    clean : np.ndarray or torch.Tensor [shape=(samples,) or (channels, samples)]
        Reference signal.
    noise : np.ndarray or torch.Tensor [shape=(samples,) or clean's shape]
        Noise of the same length (see :func:`fit_length`); a mono noise counts once
        per channel of ``clean`` (it will be added to each).
    snr_db : float
        Wanted SNR in dB (finite).

    Returns
    -------
    np.ndarray or torch.Tensor
        The scaled noise, of ``noise``'s shape, in ``clean``'s type and dtype.

    Raises
    ------
    ParameterError
        If either signal is silent or not finite, the shapes do not fit, or
        ``snr_db`` is not a finite number.

    Examples
    --------
    >>> scaled = scale_to_snr(np.ones(4), np.full(4, 3.0), 20.0)
    >>> float(scaled[0])
    0.1
    """
    c, v = _float64(clean, "clean"), _float64(noise, "noise")
    if isinstance(snr_db, bool) or not isinstance(snr_db, int | float | np.floating):
        raise ParameterError(f"snr_db={snr_db!r} must be a number (dB)")
    if not np.isfinite(snr_db):
        raise ParameterError(f"snr_db={snr_db!r} must be finite")
    if v.shape[-1] != c.shape[-1] or not (v.ndim == 1 or v.shape == c.shape):
        raise ParameterError(
            f"noise shape {v.shape} does not fit clean shape {c.shape}: give (samples,) "
            "or the clean shape, with the same length (see fit_length)"
        )
    clean_energy = float(np.sum(c**2))
    noise_energy = float(np.sum(np.broadcast_to(v, c.shape) ** 2))
    if clean_energy == 0:
        raise ParameterError("clean is silent: the SNR of a mixture with it is undefined")
    if noise_energy == 0:
        raise ParameterError("noise is silent: it cannot be scaled to an SNR")
    gain = np.sqrt(clean_energy / noise_energy * 10 ** (-float(snr_db) / 10))
    return _like(v * gain, clean)


def mix_at_snr(clean: Array, noise: Array, snr_db: float) -> Array:
    """``clean`` plus ``noise`` scaled to ``snr_db``; the noise is looped or cropped.

    The SNR is exact up to the rounding of the output dtype (well under 0.01 dB).
    Resample the noise to the clean audio's rate before calling.

    Parameters
    ----------
    clean : np.ndarray or torch.Tensor [shape=(samples,) or (channels, samples)]
        Clean audio.
    noise : np.ndarray or torch.Tensor [shape=(m,) or (channels, m)]
        Noise, any length ``m``: looped from its start or cropped to ``samples``; a
        mono noise is added to every channel.
    snr_db : float
        Wanted SNR in dB.

    Returns
    -------
    np.ndarray or torch.Tensor [shape=clean.shape]
        The mixture, in ``clean``'s type, dtype and device.

    Examples
    --------
    >>> clean = np.sin(np.arange(1000) / 5)
    >>> noisy = mix_at_snr(clean, np.random.default_rng(0).standard_normal(300), 10.0)
    >>> round(float(10 * np.log10(np.sum(clean**2) / np.sum((noisy - clean) ** 2))), 6)
    10.0
    """
    scaled = scale_to_snr(clean, fit_length(noise, clean.shape[-1]), snr_db)
    if isinstance(clean, torch.Tensor):
        return (clean.to(torch.float64) + scaled.to(torch.float64)).to(clean.dtype)
    clean_arr = np.asarray(clean)
    return (clean_arr.astype(np.float64) + scaled).astype(clean_arr.dtype)


# -- dataset ------------------------------------------------------------------------------


@dataclass
class _Noise:
    kind: str
    samples: np.ndarray | None  # None: synthetic, drawn by random_noise
    path: Path | None = None


def _open_noises(sources: Iterable[Any], sr: int) -> list[_Noise]:
    from torchmusic import audio

    if isinstance(sources, str | os.PathLike | NoiseFile):
        sources = [sources]
    out = []
    for source in sources:
        if isinstance(source, str) and source in SYNTHETIC_KINDS:
            out.append(_Noise(source, None))
            continue
        if not isinstance(source, NoiseFile | str | os.PathLike):
            raise ParameterError(
                f"noise source {source!r}: expected a NoiseFile, a path or one of "
                f"{sorted(SYNTHETIC_KINDS)}"
            )
        path = Path(source.path if isinstance(source, NoiseFile) else source)
        kind = source.kind if isinstance(source, NoiseFile) else kind_of(path)
        y, _ = audio.load(path, sr=sr, mono=True)
        samples = y.numpy().astype(np.float32, copy=False)
        if not np.any(samples):
            raise DataError(f"noise file {path} is silent")
        out.append(_Noise(kind, samples, path))
    if not out:
        raise ParameterError("noise_sources is empty")
    return out


def _range(name: str, value: Any) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name}={value!r} must be a pair (low, high)") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo <= hi):
        raise ParameterError(f"{name}={value!r} must be finite with low <= high")
    return lo, hi


class MixtureDataset(torch.utils.data.Dataset):
    """Noisy / clean pairs built on the fly from real music and noise.

    Item ``i`` takes clean segment ``i`` of an
    :class:`~torchmusic.data.segments.AudioSegments` over ``clean_paths``
    (``items_per_track`` per track, silent draws redrawn) and, from a generator
    seeded by ``(seed, epoch, i)`` only (so any number of DataLoader workers gives
    the same items): a noise source (uniformly, or by ``noise_weights``), a
    stretch of it (a random offset into a recording, looped if short; fresh
    random parameters for a generator), an SNR uniform in ``snr_range`` and a gain
    uniform in ``gain_db_range``. The noise is scaled to the SNR exactly
    (:func:`scale_to_snr`), then **one** gain goes on both clean and noisy (so the
    SNR and the target stay consistent), lowered when needed so neither peaks
    above ``peak``. Call :meth:`set_epoch` every epoch for new draws.

    Stereo (``mono=False``): a (mono) noise is added identically to both channels.

    Parameters
    ----------
    clean_paths : iterable of path
        Clean music files (split by track beforehand).
    noise_sources : iterable of NoiseFile, path or str
        Noise recordings (decoded once at ``sr``, mono) and/or synthetic kinds
        (``"hum"``, ``"hiss"``, ``"clicks"``, ``"crackle"``: a string equal to one
        of these is the generator, not a file).
    sr : int
        Sample rate of everything (Hz).
    segment_samples : int
        Samples per item.
    snr_range : (float, float)
        SNR in dB, drawn uniformly.
    gain_db_range : (float, float)
        Gain of the pair in dB (before the anti-clipping limit), drawn uniformly.
    seed : int >= 0
        Seed of every draw.
    items_per_track : int
        Items per clean track per epoch.
    mono : bool
        Mix the music to mono; ``False`` gives ``(2, segment_samples)`` items.
    cache_dir : path, optional
        Decoded-track cache of :class:`~torchmusic.data.segments.AudioSegments`.
    noise_weights : sequence of float, optional
        Relative chance of each noise source.
    peak : float in (0, 1]
        Largest absolute sample allowed in clean and noisy.

    Attributes
    ----------
    clean : AudioSegments
        The clean segments (``clean.failed`` lists undecodable music files).
    kinds : list of str
        Kind of each noise source, in order.

    Notes
    -----
    An item is a dict: ``"noisy"``, ``"clean"``: float32 tensors ``(segment_samples,)`` (or
    ``(2, segment_samples)``); ``"snr_db"``, ``"gain_db"`` (applied, after the
    limit): float; ``"noise_kind"``: str; ``"noise_index"``, ``"track_index"``,
    ``"start"`` (of the clean segment): int.

    Examples
    --------
    >>> files = tiny_fixture("fixture")  # doctest: +SKIP
    >>> ds = MixtureDataset(files["clean"], [*files["noise"], "hum"], sr=16000,
    ...                     segment_samples=8000, seed=0)  # doctest: +SKIP
    >>> ds.set_epoch(1); item = ds[0]; item["noisy"].shape, item["noise_kind"]  # doctest: +SKIP
    (torch.Size([8000]), 'hiss')
    """

    def __init__(
        self,
        clean_paths: Iterable[str | os.PathLike[str]],
        noise_sources: Iterable[NoiseFile | str | os.PathLike[str]],
        *,
        sr: int = 22050,
        segment_samples: int,
        snr_range: tuple[float, float] = (-5.0, 20.0),
        gain_db_range: tuple[float, float] = (-18.0, 0.0),
        seed: int = 0,
        items_per_track: int = 8,
        mono: bool = True,
        cache_dir: str | os.PathLike[str] | None = None,
        noise_weights: Sequence[float] | None = None,
        peak: float = 0.99,
    ) -> None:
        self.snr_range = _range("snr_range", snr_range)
        self.gain_db_range = _range("gain_db_range", gain_db_range)
        if not (isinstance(peak, int | float) and 0 < peak <= 1):
            raise ParameterError(f"peak={peak!r} must be in (0, 1]")
        self.peak = float(peak)
        self.clean = AudioSegments(
            clean_paths, segment_samples=segment_samples, sr=sr,
            segments_per_track=items_per_track, seed=seed, mono=mono, cache_dir=cache_dir,
        )  # fmt: skip
        self.seed, self.sr, self.segment_samples = self.clean.seed, sr, segment_samples
        self._noises = _open_noises(noise_sources, sr)
        self.kinds = [n.kind for n in self._noises]
        self.weights = None
        if noise_weights is not None:
            w = np.asarray(noise_weights, dtype=np.float64)
            if w.shape != (len(self._noises),) or not np.all(w >= 0) or not w.sum() > 0:
                raise ParameterError(
                    f"noise_weights={list(noise_weights)!r}: one weight >= 0 per noise "
                    f"source ({len(self._noises)}), not all 0"
                )
            self.weights = w / w.sum()
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Draw the items of ``epoch`` from now on (clean segments and noise)."""
        self.epoch = int(epoch)
        self.clean.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.clean)

    def _draw_noise(self, source: _Noise, n: int, rng: np.random.Generator) -> np.ndarray:
        if source.samples is None:
            return random_noise(source.kind, n, self.sr, rng=rng).astype(np.float64)
        offset = int(rng.integers(0, source.samples.shape[-1]))
        return fit_length(source.samples, n, offset=offset).astype(np.float64)

    def __getitem__(self, index: int) -> dict[str, Any]:
        index = range(len(self))[index]
        segment = self.clean[index]
        # A stream apart from AudioSegments' own (seed, epoch, index) one.
        rng = np.random.default_rng([self.seed, self.epoch, index, 1])
        which = int(rng.choice(len(self._noises), p=self.weights))
        source = self._noises[which]
        snr_db = float(rng.uniform(*self.snr_range))
        gain_db = float(rng.uniform(*self.gain_db_range))
        clean = segment["waveform"].numpy().astype(np.float64)
        if not np.any(clean):
            raise DataError(
                f"{self.clean.paths[segment['track_index']]}: silent at every draw; "
                "leave this track out of clean_paths"
            )
        for _ in range(5):  # a click draw can hold no click: draw again
            noise = self._draw_noise(source, clean.shape[-1], rng)
            if np.any(noise):
                break
        else:
            raise DataError(f"noise source {which} ({source.kind}) stayed silent in 5 draws")
        noisy = clean + scale_to_snr(clean, noise, snr_db)
        top = max(np.abs(noisy).max(), np.abs(clean).max()) * 10 ** (gain_db / 20)
        if top > self.peak:
            gain_db -= 20 * np.log10(top / self.peak)
        gain = 10 ** (gain_db / 20)
        return {
            "noisy": torch.from_numpy((noisy * gain).astype(np.float32)),
            "clean": torch.from_numpy((clean * gain).astype(np.float32)),
            "snr_db": snr_db,
            "gain_db": float(gain_db),
            "noise_kind": source.kind,
            "noise_index": which,
            "track_index": segment["track_index"],
            "start": segment["start"],
        }


# -- fixture ------------------------------------------------------------------------------


def _notes(freqs: Sequence[float], n: int, sr: int, *, arpeggio: bool) -> np.ndarray:
    """Plucked notes with a few partials: all at once (a chord) or one after another."""
    t = np.arange(n) / sr
    y = np.zeros(n)
    step = n // len(freqs) if arpeggio else 0
    for i, f in enumerate(freqs):
        start = i * step
        tt = t[: n - start]
        note = sum(0.6**k * np.sin(2 * np.pi * f * (k + 1) * tt) for k in range(4))
        y[start:] += note * np.exp(-3 * tt) * np.minimum(1, tt * 200)  # 5 ms attack
    return 0.5 * y / np.abs(y).max()


def tiny_fixture(
    folder: str | os.PathLike[str], *, sr: int = 16000, seconds: float = 1.0
) -> dict[str, list[Path]]:
    """Write a tiny generated set of clean music and noise files for tests.

    ``folder/clean``: ``tone_a4.wav`` (a 440 Hz note with partials),
    ``chord_c_major.wav`` and ``arpeggio_a_minor.wav``; ``folder/noise``:
    ``white_noise.wav`` (kind ``white``), ``hiss.wav``, ``hum.wav``, ``clicks.wav``
    and ``crackle.wav`` (their kinds are their names). 16-bit mono WAV at ``sr``,
    the noises peaking at 0.5; fixed seeds, so the files are the same every time.
    Existing files are overwritten.

    Parameters
    ----------
    folder : path
        Where to write (made if needed).
    sr : int
        Sample rate (Hz).
    seconds : float > 0
        Length of every file.

    Returns
    -------
    dict
        ``{"clean": [3 paths], "noise": [5 paths]}``.

    Examples
    --------
    >>> files = tiny_fixture(tmp_path)  # doctest: +SKIP
    >>> [p.name for p in files["noise"]][:2]  # doctest: +SKIP
    ['white_noise.wav', 'hiss.wav']
    """
    import soundfile as sf

    from torchmusic.data import noise as gen

    if not (isinstance(seconds, int | float) and seconds > 0):
        raise ParameterError(f"seconds={seconds!r} must be > 0")
    root = Path(folder)
    n = max(1, round(seconds * sr))
    clean = {
        "tone_a4": _notes([440.0], n, sr, arpeggio=False),
        "chord_c_major": _notes([261.63, 329.63, 392.0], n, sr, arpeggio=False),
        "arpeggio_a_minor": _notes([220.0, 261.63, 329.63, 440.0], n, sr, arpeggio=True),
    }
    noise = {
        "white_noise": np.random.default_rng(1).standard_normal(n),
        "hiss": gen.coloured_hiss(n, sr, slope_db_per_octave=-1.5, rng=2),
        "hum": gen.mains_hum(n, sr, f0=50.0, rng=3),
        "clicks": gen.vinyl_clicks(n, sr, rate_per_s=max(8.0, 4 / seconds), rng=4),
        "crackle": gen.crackle(n, sr, rng=5),
    }
    out: dict[str, list[Path]] = {"clean": [], "noise": []}
    for group, signals in (("clean", clean), ("noise", noise)):
        (root / group).mkdir(parents=True, exist_ok=True)
        for name, y in signals.items():
            if group == "noise":
                y = 0.5 * y / max(float(np.abs(y).max()), 1e-12)
            path = root / group / f"{name}.wav"
            sf.write(path, np.asarray(y, dtype=np.float32), sr, subtype="PCM_16")
            out[group].append(path)
    return out
