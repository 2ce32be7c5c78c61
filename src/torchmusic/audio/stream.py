"""Read a long audio file block by block, resampled continuously."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soxr
import torch

from torchmusic.audio._checks import (
    check_dtype,
    check_excerpt,
    check_path,
    check_positive_seconds,
    check_sr,
)
from torchmusic.audio._reader import (
    downmix_to_stereo,
    excerpt_frames,
    open_audio,
    read_frames,
    seek_to,
)
from torchmusic.audio.load import to_mono_numpy
from torchmusic.audio.resample import output_length


def stream(
    path: str | os.PathLike[str],
    *,
    block_duration: float = 30.0,
    sr: int | None = 22050,
    mono: bool = True,
    offset: float = 0.0,
    duration: float | None = None,
    dtype: torch.dtype = torch.float32,
) -> Iterator[torch.Tensor]:
    """Iterate over an audio file in blocks, for files too long to load at once.

    Blocks of ``block_duration`` seconds (of the file's native rate) are decoded
    one at a time and resampled by one continuous :class:`soxr.ResampleStream`
    (quality ``"HQ"``), so there are no seams: concatenating the blocks along the
    last axis gives :func:`load` with the same arguments (identical samples in
    our tests; the final length is fixed to librosa's ``ceil(n * sr / sr_native)``).
    Memory use is about one block, whatever the file's length.

    Arguments are checked and the file opened when :func:`stream` is called, so
    errors surface there, not at the first ``next()``.

    Parameters
    ----------
    path : str or os.PathLike
        Audio file.
    block_duration : float > 0
        Seconds of input decoded per block. Output blocks vary slightly in length
        (the resampler's delay); none is empty.
    sr, mono, offset, duration, dtype
        As in :func:`load`.

    Yields
    ------
    torch.Tensor [shape=(samples,) if mono else (channels, samples)]
        Consecutive pieces of the (resampled) audio.

    Raises
    ------
    AudioFileError, ParameterError
        As :func:`load`; a NaN/Inf sample or a decoding error in a later block is
        raised when that block is reached.

    Examples
    --------
    >>> total = 0
    >>> for block in stream("concert.flac", block_duration=60.0):  # doctest: +SKIP
    ...     total += block.shape[-1]
    """
    p = check_path(path)
    if sr is not None:
        sr = check_sr(sr, path=p)
    offset, duration = check_excerpt(offset, duration, path=p)
    block_duration = check_positive_seconds(block_duration, name="block_duration", path=p)
    np_dtype = check_dtype(dtype, path=p)
    # Validate the file and the excerpt now (the generator reopens it).
    with open_audio(p) as f:
        sr_native, channels = f.samplerate, f.channels
        excerpt_frames(f, p, offset=offset, duration=duration)
    block = max(1, int(block_duration * sr_native))
    return _blocks(
        p,
        sr=sr,
        mono=mono,
        offset=offset,
        duration=duration,
        block=block,
        np_dtype=np_dtype,
        out_channels=1 if mono else min(channels, 2),
    )


def _blocks(
    p: Path,
    *,
    sr: int | None,
    mono: bool,
    offset: float,
    duration: float | None,
    block: int,
    np_dtype: type[np.floating],
    out_channels: int,
) -> Iterator[torch.Tensor]:
    with open_audio(p) as f:
        sr_native = f.samplerate
        start, n = excerpt_frames(f, p, offset=offset, duration=duration)
        seek_to(f, p, start)
        resampler = None
        if sr is not None and sr != sr_native:
            resampler = soxr.ResampleStream(
                sr_native, sr, out_channels, dtype=np_dtype, quality="HQ"
            )
            target_total = output_length(n, sr_native, sr)
        emitted = 0
        for pos in range(start, start + n, block):
            count = min(block, start + n - pos)
            last = pos + count == start + n
            y = read_frames(f, p, start=pos, n=count, dtype=np_dtype)  # (frames[, ch])
            if mono:
                y = to_mono_numpy(y.T)  # librosa's downmix, on (channels, frames)
            elif y.ndim == 2 and y.shape[1] > 2:
                y = downmix_to_stereo(y.T).T  # the rule of load(): 5.1 -> stereo
            elif y.ndim == 1:
                y = y[:, np.newaxis]  # always (channels, samples) when not mono
            if resampler is not None:
                # soxr takes (frames, channels); 1-D for mono.
                y = resampler.resample_chunk(np.ascontiguousarray(y), last=last)
                if last:
                    # librosa pads/trims the whole signal to ceil(n * ratio).
                    need = target_total - emitted
                    y = y[:need] if y.shape[0] >= need else _pad_frames(y, need)
            out = y.T if y.ndim == 2 else y
            if out.shape[-1]:
                emitted += out.shape[-1]
                yield torch.from_numpy(np.ascontiguousarray(out))


def _pad_frames(y: np.ndarray, size: int) -> np.ndarray:
    pad = [(0, size - y.shape[0])] + [(0, 0)] * (y.ndim - 1)
    return np.pad(y, pad, mode="constant")
