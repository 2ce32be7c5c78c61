"""Audio I/O: load, inspect, save, resample and stream audio files as tensors.

Decoding and encoding use libsndfile (through :mod:`soundfile`; WAV, FLAC, OGG
Vorbis, Opus, MP3, AIFF, ...) and resampling uses soxr, exactly as librosa 0.11
does, so :func:`load` returns the same samples as ``librosa.load``.

Every bad file or argument raises :class:`~torchmusic.errors.AudioFileError` or
:class:`~torchmusic.errors.ParameterError` with the file named in the message.

Examples
--------
>>> from torchmusic.audio import load, info
>>> meta = info("song.wav")  # doctest: +SKIP
>>> y, sr = load("song.wav", sr=22050, offset=10.0, duration=5.0)  # doctest: +SKIP
"""

from __future__ import annotations

from torchmusic.audio.info import AudioInfo, info
from torchmusic.audio.load import load
from torchmusic.audio.resample import resample
from torchmusic.audio.save import save
from torchmusic.audio.stream import stream

__all__ = ["AudioInfo", "info", "load", "resample", "save", "stream"]
