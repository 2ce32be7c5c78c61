"""Load an audio file (or an excerpt of it) as a tensor, exactly like ``librosa.load``."""

from __future__ import annotations

import os

import numpy as np
import torch

from torchmusic.audio._checks import check_dtype, check_excerpt, check_path, check_sr
from torchmusic.audio._reader import (
    downmix_to_stereo,
    excerpt_frames,
    open_audio,
    read_frames,
    seek_to,
)
from torchmusic.audio.resample import resample_numpy


def to_mono_numpy(y: np.ndarray) -> np.ndarray:
    """Average the channels of ``(channels, n)`` audio (``librosa.to_mono``)."""
    # The same numpy call as librosa, so float32 rounding is identical.
    return np.mean(y, axis=tuple(range(y.ndim - 1))) if y.ndim > 1 else y


def load(
    path: str | os.PathLike[str],
    *,
    sr: int | None = 22050,
    mono: bool = True,
    offset: float = 0.0,
    duration: float | None = None,
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, int]:
    """Load an audio file as a floating-point tensor, like ``librosa.load``.

    The result equals ``librosa.load(path, sr=sr, mono=mono, offset=offset,
    duration=duration, dtype=...)`` of librosa 0.11 (its soundfile path): the
    excerpt is converted to frames as ``int(offset * sr_native)`` and
    ``int(duration * sr_native)``, decoded in ``dtype``, averaged to mono, then
    resampled with soxr ``"HQ"`` (librosa's default ``res_type="soxr_hq"``).
    Only the excerpt is read: the file is seeked to ``offset`` and just
    ``duration`` worth of frames is decoded.

    Decoding is done by libsndfile (via soundfile): WAV, FLAC, OGG Vorbis, Opus,
    MP3, AIFF and the other formats it reads.

    Parameters
    ----------
    path : str or os.PathLike
        Audio file.
    sr : int > 0 or None
        Target sample rate (Hz); ``None`` keeps the file's native rate.
    mono : bool
        Average the channels into one.

        Files with more than two channels (5.1, 7.1, ...) are mixed down, never
        refused: with ``mono=True`` all channels are averaged (librosa's
        ``to_mono``, whatever the channel count); with ``mono=False`` they become
        stereo: channels 0 and 1 are left and right, every other channel is added to
        both at -3 dB, except that a 6-channel (5.1, WAV order L R C LFE Ls Rs) file
        follows ITU-R BS.775 (LFE dropped, Ls to the left and Rs to the right only);
        each side is divided by the sum of its gains so a full-scale file never clips.
    offset : float >= 0
        Start reading this many seconds into the file; must be before its end.
    duration : float > 0 or None
        Read at most this many seconds (``None``: up to the end). An excerpt that
        runs past the end returns what is there, as librosa does.
    dtype : torch.float32 or torch.float64
        Decoding and output dtype.

    Returns
    -------
    y : torch.Tensor [shape=(samples,) if mono else (channels, samples)]
        Audio in [-1, 1] for PCM files. ``channels`` is 1 or 2 (see ``mono``); with
        ``mono=False`` a 1-channel file gives shape ``(1, samples)`` (librosa
        returns ``(samples,)``; the values are the same).
    sr : int
        Sample rate of ``y``.

    Raises
    ------
    AudioFileError
        Missing path, directory, empty, truncated, corrupt, non-audio or
        unsupported file; a symbolic link that loops; a NaN/Inf sample (the message
        gives its time). A missing path has ``errno.ENOENT`` but is not a
        ``FileNotFoundError``: catch ``AudioFileError`` (or ``OSError``).
    ParameterError
        Invalid ``sr``, ``offset < 0``, offset at or past the end of the file,
        ``duration <= 0`` (or shorter than one sample), or an invalid ``dtype``.

    Examples
    --------
    >>> y, sr = load("song.ogg", sr=22050, offset=30.0, duration=10.0)  # doctest: +SKIP
    >>> y.shape, sr  # doctest: +SKIP
    (torch.Size([220500]), 22050)
    """
    p = check_path(path)
    if sr is not None:
        sr = check_sr(sr, path=p)
    offset, duration = check_excerpt(offset, duration, path=p)
    np_dtype = check_dtype(dtype, path=p)

    with open_audio(p) as f:
        sr_native = f.samplerate
        start, n = excerpt_frames(f, p, offset=offset, duration=duration)
        seek_to(f, p, start)
        # soundfile gives (frames, channels); librosa transposes to (channels, frames).
        y = read_frames(f, p, start=start, n=n, dtype=np_dtype).T

    if mono:
        y = to_mono_numpy(y)
    elif y.ndim == 2 and y.shape[0] > 2:
        y = downmix_to_stereo(y)
    elif y.ndim == 1:
        # librosa returns 1-D for a 1-channel file even with mono=False; a fixed
        # (channels, samples) layout is easier to batch.
        y = y[np.newaxis]
    if sr is None:
        sr = sr_native
    else:
        y = resample_numpy(y, sr_native, sr, "HQ")
    return torch.from_numpy(np.ascontiguousarray(y)), sr
