"""Audio file metadata read from the header, without decoding the audio."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from torchmusic.audio._checks import check_path
from torchmusic.audio._reader import open_audio


@dataclasses.dataclass(frozen=True)
class AudioInfo:
    """What :func:`info` reports about an audio file.

    Attributes
    ----------
    path : Path
        The file.
    sample_rate : int
        Native sample rate (Hz).
    channels : int
        Number of channels (may exceed 2; :func:`load` accepts only 1 or 2).
    frames : int
        Number of samples per channel.
    duration : float
        ``frames / sample_rate`` (seconds).
    format, subtype : str
        libsndfile's container and encoding names, e.g. ``"WAV"``/``"PCM_16"``,
        ``"OGG"``/``"VORBIS"``, ``"MP3"``/``"MPEG_LAYER_III"``.
    """

    path: Path
    sample_rate: int
    channels: int
    frames: int
    duration: float
    format: str
    subtype: str


def info(path: str | os.PathLike[str]) -> AudioInfo:
    """Read an audio file's sample rate, channels, length and encoding.

    Only the header is parsed (libsndfile may scan an MP3's frame headers to
    count its samples, but decodes no audio).

    Parameters
    ----------
    path : str or os.PathLike
        Audio file.

    Returns
    -------
    AudioInfo

    Raises
    ------
    AudioFileError
        The file is missing, a directory, empty, truncated, corrupt, not audio or
        in an unsupported format (the same checks as :func:`load`, except the
        channel count, which is only reported).

    Examples
    --------
    >>> meta = info("song.flac")  # doctest: +SKIP
    >>> meta.sample_rate, meta.channels, round(meta.duration, 2)  # doctest: +SKIP
    (44100, 2, 183.46)
    """
    p = check_path(path)
    with open_audio(p, check_channels=False) as f:
        return AudioInfo(
            path=p,
            sample_rate=int(f.samplerate),
            channels=int(f.channels),
            frames=int(f.frames),
            duration=f.frames / f.samplerate,
            format=f.format,
            subtype=f.subtype,
        )
