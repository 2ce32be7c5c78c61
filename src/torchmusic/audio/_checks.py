"""Argument validation shared by :mod:`torchmusic.audio` (run before any work is done).

Every error raised here is a :class:`~torchmusic.errors.ParameterError` (bad
argument) or an :class:`~torchmusic.errors.AudioFileError` (bad path) whose
message names the file and says what was expected.
"""

from __future__ import annotations

import errno
import math
import numbers
import os
from pathlib import Path

import numpy as np
import torch

from torchmusic.errors import AudioFileError, ParameterError

# torch dtypes that audio can be loaded as, and their numpy twins (what libsndfile
# and soxr compute in, exactly as librosa does for the same dtype).
LOAD_DTYPES: dict[torch.dtype, type[np.floating]] = {
    torch.float32: np.float32,
    torch.float64: np.float64,
}

# Decoding is delegated to libsndfile, so "supported" means what it reads; this
# list only feeds error messages.
SUPPORTED_FORMATS = "WAV, FLAC, OGG Vorbis, Opus (Ogg), MP3 or AIFF"

# Arrays handed to save() are mono or stereo: a (channels, samples) layout with more
# channels is far more often a transposed (samples, channels) array than music.
# Files with more channels are read and mixed down by load() / stream() (the rule is
# in load's docstring and _reader.downmix_to_stereo).
MAX_CHANNELS = 2


def check_path(path: str | os.PathLike[str]) -> Path:
    """Return ``path`` as a :class:`~pathlib.Path` if it is an existing, non-empty file.

    Raises
    ------
    ParameterError
        If ``path`` is not a ``str`` or ``os.PathLike``.
    AudioFileError
        If the file is missing (``errno`` ``ENOENT``), a directory (``EISDIR``),
        unreadable (``EACCES``) or empty (0 bytes).
    """
    if not isinstance(path, str | os.PathLike):
        raise ParameterError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    p = Path(path)
    if p.is_symlink() and not p.exists():
        raise AudioFileError(
            errno.ELOOP,
            "Symbolic link that loops or points nowhere (expected a link to an audio file)",
            str(p),
        )
    if not p.exists():
        # OSError's (errno, strerror, filename) form: str() reads
        # "[Errno 2] ...: '<path>'" and .errno / .filename are set like open()'s.
        raise AudioFileError(
            errno.ENOENT,
            f"No such audio file (expected an existing {SUPPORTED_FORMATS} file)",
            str(p),
        )
    if p.is_dir():
        raise AudioFileError(
            errno.EISDIR, f"Is a directory (expected a {SUPPORTED_FORMATS} file)", str(p)
        )
    if not os.access(p, os.R_OK):
        raise AudioFileError(
            errno.EACCES, "Permission denied (expected a readable audio file)", str(p)
        )
    if p.stat().st_size == 0:
        raise AudioFileError(f"'{p}': file is empty (0 bytes); expected a {SUPPORTED_FORMATS} file")
    return p


def check_sr(sr: object, *, name: str = "sr", path: Path | None = None) -> int:
    """Return ``sr`` as an ``int`` if it is a positive integer (``bool`` excluded)."""
    if isinstance(sr, bool) or not isinstance(sr, numbers.Integral) or sr <= 0:
        where = f"'{path}': " if path is not None else ""
        raise ParameterError(f"{where}{name} must be a positive int (Hz), got {sr!r}")
    return int(sr)


def check_rate(rate: object, *, name: str) -> float:
    """Return ``rate`` as a float if it is a positive, finite real number."""
    if not _is_finite_real(rate) or rate <= 0:  # type: ignore[operator]
        raise ParameterError(f"{name} must be a positive, finite number (Hz), got {rate!r}")
    return float(rate)  # type: ignore[arg-type]


def _is_finite_real(value: object) -> bool:
    """A real number that is not a bool, NaN or infinite."""
    return not isinstance(value, bool) and isinstance(value, numbers.Real) and math.isfinite(value)


def check_excerpt(offset: object, duration: object, *, path: Path) -> tuple[float, float | None]:
    """Validate ``offset >= 0`` (seconds) and ``duration > 0`` or ``None`` (seconds)."""
    if not _is_finite_real(offset) or offset < 0:  # type: ignore[operator]
        raise ParameterError(
            f"'{path}': offset must be a finite number of seconds >= 0, got {offset!r}"
        )
    if duration is None:
        return float(offset), None  # type: ignore[arg-type]
    return float(offset), check_positive_seconds(duration, name="duration", path=path)  # type: ignore[arg-type]


def check_dtype(dtype: object, *, path: Path) -> type[np.floating]:
    """Map a torch float dtype to the numpy dtype the file is decoded in."""
    if dtype not in LOAD_DTYPES:
        raise ParameterError(
            f"'{path}': dtype must be torch.float32 or torch.float64, got {dtype!r}"
        )
    return LOAD_DTYPES[dtype]  # type: ignore[index]


def check_positive_seconds(value: object, *, name: str, path: Path) -> float:
    """Validate a strictly positive, finite number of seconds."""
    if not _is_finite_real(value) or value <= 0:  # type: ignore[operator]
        raise ParameterError(
            f"'{path}': {name} must be a finite number of seconds > 0, got {value!r}"
        )
    return float(value)  # type: ignore[arg-type]
