"""Fixed-length segments of real audio for vocoder training and validation.

:class:`AudioSegments` draws random segments (training); :class:`FixedSegments` cuts
evenly spaced ones (validation, benchmarks). Both decode every track once, when
built: resampled to ``sr`` and kept as float32 arrays, in memory or, with
``cache_dir``, as ``.npy`` files that later runs and DataLoader workers open
memory-mapped instead of decoding OGG / Opus again (decoding, not the network, is
the bottleneck of a CPU-side vocoder input pipeline). Files that cannot be decoded
are skipped and listed in ``.failed``.

Memory: ``4 * sr`` bytes per second of audio per channel (7.6 h of music at 22.05 kHz
mono is 2.4 GB); with ``cache_dir`` that is disk, paged in as needed.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from torchmusic.data.clips import window_starts
from torchmusic.data.discover import FailedFile
from torchmusic.errors import DataError, ParameterError, TorchMusicError

# Part of the cache key: bump when the decoded samples of a file would change.
_CACHE_VERSION = 1


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
        raise ParameterError(f"{name}={value!r} must be a positive integer")
    return int(value)


def _cache_file(cache_dir: Path, path: Path, sr: int, mono: bool) -> Path:
    """Cache file of ``path``; keyed on its size and mtime, so an edited file is redone."""
    st = path.stat()
    key = f"{_CACHE_VERSION}|{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{sr}|{mono}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return cache_dir / f"{path.stem[:48]}-{digest}.npy"


def _decode(path: Path, sr: int, mono: bool) -> np.ndarray:
    from torchmusic import audio

    y, _ = audio.load(path, sr=sr, mono=mono)
    arr = y.numpy().astype(np.float32, copy=False)
    if not mono and arr.shape[0] == 1:
        arr = np.repeat(arr, 2, axis=0)  # every item stereo, so batches collate
    if arr.shape[-1] == 0:
        raise DataError(f"{path}: decodes to no samples")
    return arr


class _DecodedTracks(torch.utils.data.Dataset):
    """Decodes the tracks once (or opens their cache files) and cuts segments of them."""

    def __init__(
        self,
        paths: Iterable[str | os.PathLike[str]],
        *,
        segment_samples: int,
        sr: int,
        mono: bool,
        cache_dir: str | os.PathLike[str] | None,
    ) -> None:
        if isinstance(paths, str | os.PathLike):
            raise ParameterError(
                f"paths must be a list of files, got the single path {str(paths)!r}"
            )
        self.segment_samples = _positive_int("segment_samples", segment_samples)
        self.sr = _positive_int("sr", sr)
        self.mono = bool(mono)
        self.cache_dir = None if cache_dir is None else Path(cache_dir)
        if self.cache_dir is not None:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
        self.paths: list[Path] = []
        self.failed: list[FailedFile] = []
        self.lengths: list[int] = []
        self._cache_files: list[Path | None] = []
        self._arrays: list[np.ndarray | None] = []
        for path in map(Path, paths):
            try:
                array, cache_file = self._open(path)
            except (TorchMusicError, OSError, RuntimeError, ValueError) as exc:
                self.failed.append(FailedFile(path, f"{type(exc).__name__}: {exc}"))
                continue
            self.paths.append(path)
            self.lengths.append(array.shape[-1])
            self._cache_files.append(cache_file)
            self._arrays.append(array)
        if not self.paths:
            reasons = "; ".join(f"{f.path}: {f.error}" for f in self.failed[:3]) or "no paths given"
            raise DataError(f"no decodable audio among {len(self.failed)} file(s) ({reasons})")

    def _open(self, path: Path) -> tuple[np.ndarray, Path | None]:
        if self.cache_dir is None:
            return _decode(path, self.sr, self.mono), None
        cache_file = _cache_file(self.cache_dir, path, self.sr, self.mono)
        if not cache_file.is_file():
            tmp = cache_file.with_name(f"{cache_file.stem}.{os.getpid()}.tmp.npy")
            np.save(tmp, _decode(path, self.sr, self.mono))
            os.replace(tmp, cache_file)  # a killed run never leaves half a cache file
        return np.load(cache_file, mmap_mode="r"), cache_file

    def __getstate__(self) -> dict[str, Any]:
        # DataLoader workers (spawn) get the cache file names, not copies of the audio.
        state = self.__dict__.copy()
        state["_arrays"] = [
            None if f else a for a, f in zip(self._arrays, self._cache_files, strict=True)
        ]
        return state

    def track(self, index: int) -> np.ndarray:
        """Decoded samples of track ``index``: ``(samples,)``, or ``(2, samples)`` if not mono."""
        if self._arrays[index] is None:
            self._arrays[index] = np.load(self._cache_files[index], mmap_mode="r")
        return self._arrays[index]

    def cut(self, index: int, start: int) -> torch.Tensor:
        """``segment_samples`` samples of track ``index`` from ``start``, zero-padded past its end."""
        piece = np.asarray(self.track(index)[..., start : start + self.segment_samples])
        short = self.segment_samples - piece.shape[-1]
        if short > 0:
            piece = np.pad(piece, [(0, 0)] * (piece.ndim - 1) + [(0, short)])
        return torch.from_numpy(np.array(piece, dtype=np.float32))


class AudioSegments(_DecodedTracks):
    """Random fixed-length segments of real audio (vocoder training).

    Item ``i`` is segment ``i % segments_per_track`` of track
    ``i // segments_per_track``, at a start drawn from ``(seed, epoch, i)`` only, so
    runs are reproducible whatever the number of DataLoader workers; call
    :meth:`set_epoch` every epoch for new segments. A segment quieter than
    ``silence_rms`` (a fade, a pause) is drawn again, up to ``redraws`` times, and
    the loudest draw is kept. A track shorter than a segment gives its whole self,
    zero-padded at the end.

    Parameters
    ----------
    paths : iterable of path
        Audio files (anything :func:`torchmusic.audio.load` reads).
    segment_samples : int
        Length of every segment, in samples at ``sr``.
    sr : int
        Sample rate the tracks are resampled to.
    segments_per_track : int
        Items per track per epoch.
    seed : int >= 0
        Seed of the segment starts.
    mono : bool
        Mix down to one channel; ``False`` gives two channels (a mono file twice).
    cache_dir : path, optional
        Folder of decoded ``.npy`` tracks (made if needed; reused when the file's
        size, mtime, ``sr`` and ``mono`` match).
    silence_rms : float >= 0
        RMS under which a segment counts as silent.
    redraws : int >= 0
        Extra draws allowed for a silent segment.

    Attributes
    ----------
    paths : list of pathlib.Path
        The tracks that decoded, in the order given; ``track_index`` refers to it.
    failed : list of FailedFile
        Files skipped, with the error.
    lengths : list of int
        Samples per track at ``sr``.

    Examples
    --------
    >>> ds = AudioSegments(["a.ogg", "b.ogg"], segment_samples=8192)  # doctest: +SKIP
    >>> ds.set_epoch(3); ds[0]["waveform"].shape  # doctest: +SKIP
    torch.Size([8192])
    """

    def __init__(
        self,
        paths: Iterable[str | os.PathLike[str]],
        *,
        segment_samples: int,
        sr: int = 22050,
        segments_per_track: int = 8,
        seed: int = 0,
        mono: bool = True,
        cache_dir: str | os.PathLike[str] | None = None,
        silence_rms: float = 1e-4,
        redraws: int = 4,
    ) -> None:
        self.segments_per_track = _positive_int("segments_per_track", segments_per_track)
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise ParameterError(f"seed={seed!r} must be a non-negative int")
        if isinstance(redraws, bool) or not isinstance(redraws, int) or redraws < 0:
            raise ParameterError(f"redraws={redraws!r} must be an int >= 0")
        if (
            isinstance(silence_rms, bool)
            or not isinstance(silence_rms, int | float)
            or not silence_rms >= 0
        ):
            raise ParameterError(f"silence_rms={silence_rms!r} must be a number >= 0")
        self.seed, self.redraws, self.silence_rms = int(seed), redraws, float(silence_rms)
        self.epoch = 0
        super().__init__(
            paths, segment_samples=segment_samples, sr=sr, mono=mono, cache_dir=cache_dir
        )

    def set_epoch(self, epoch: int) -> None:
        """Draw the segments of ``epoch`` from now on."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.paths) * self.segments_per_track

    def __getitem__(self, index: int) -> dict[str, Any]:
        index = range(len(self))[index]  # normalises negative indices, raises IndexError
        track = index // self.segments_per_track
        rng = np.random.default_rng([self.seed, self.epoch, index])
        slack = max(0, self.lengths[track] - self.segment_samples)
        best: tuple[float, int, torch.Tensor] | None = None
        for _ in range(1 + self.redraws):
            start = int(rng.integers(0, slack + 1))
            segment = self.cut(track, start)
            rms = float(segment.square().mean().sqrt())
            if best is None or rms > best[0]:
                best = (rms, start, segment)
            if rms >= self.silence_rms or slack == 0:
                break
        _, start, segment = best
        return {"waveform": segment, "track_index": track, "start": start}


class FixedSegments(_DecodedTracks):
    """Evenly spaced fixed-length segments of every track (validation, benchmarks).

    Segments start at ``0, hop_samples, 2 * hop_samples, ...`` and only whole
    segments are kept, except that a track shorter than one segment gives one,
    zero-padded. The items never change, so scores are comparable between runs.

    Parameters
    ----------
    paths : iterable of path
        Audio files.
    segment_samples : int
        Length of every segment, in samples at ``sr``.
    hop_samples : int
        Samples between segment starts (``segment_samples``: back to back).
    sr : int
        Sample rate the tracks are resampled to.
    mono, cache_dir
        As in :class:`AudioSegments`.

    Attributes
    ----------
    segments : list of (int, int)
        ``(track_index, start)`` of every item.
    paths, failed, lengths
        As in :class:`AudioSegments`.

    Examples
    --------
    >>> ds = FixedSegments(test_paths, segment_samples=5 * 22050, hop_samples=5 * 22050)  # doctest: +SKIP
    >>> len(ds)  # whole 5 s segments of the test tracks  # doctest: +SKIP
    611
    """

    def __init__(
        self,
        paths: Iterable[str | os.PathLike[str]],
        *,
        segment_samples: int,
        hop_samples: int,
        sr: int = 22050,
        mono: bool = True,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        hop = _positive_int("hop_samples", hop_samples)
        super().__init__(
            paths, segment_samples=segment_samples, sr=sr, mono=mono, cache_dir=cache_dir
        )
        self.hop_samples = hop
        self.segments: list[tuple[int, int]] = [
            (t, start)
            for t, n in enumerate(self.lengths)
            for start in window_starts(n, clip=self.segment_samples, hop=hop, last="drop")
        ]

    def __len__(self) -> int:
        return len(self.segments)

    def __getitem__(self, index: int) -> dict[str, Any]:
        track, start = self.segments[index]
        return {
            "waveform": self.cut(track, start),
            "track_index": track,
            "segment_index": start // self.hop_samples,
            "start": start,
        }
