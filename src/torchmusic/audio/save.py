"""Write audio atomically: a crash or error never leaves a half-written file."""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from torchmusic.audio._checks import MAX_CHANNELS, check_sr
from torchmusic.errors import AudioFileError, ParameterError

# dtypes libsndfile writes directly; float16 goes through float32.
_WRITE_DTYPES = (np.float32, np.float64, np.int16, np.int32)


def _as_frames(y: torch.Tensor | np.ndarray, path: Path) -> np.ndarray:
    """Validate ``y`` and return it in soundfile's ``(samples, channels)`` layout."""
    if isinstance(y, torch.Tensor):
        y = y.detach().cpu()
        if y.dtype in (torch.float16, torch.bfloat16):
            y = y.float()  # numpy has no bfloat16
        y = y.numpy()
    if not isinstance(y, np.ndarray):
        raise ParameterError(
            f"'{path}': y must be a torch.Tensor or numpy.ndarray, got {type(y).__name__}"
        )
    if y.dtype == np.float16:
        y = y.astype(np.float32)
    if y.dtype.type not in _WRITE_DTYPES:
        raise ParameterError(
            f"'{path}': y must be float32, float64, int16 or int32 audio, got dtype {y.dtype}"
        )
    if y.ndim not in (1, 2) or y.shape[-1] == 0:
        raise ParameterError(
            f"'{path}': y must have shape (samples,) or (channels, samples) with samples > 0, "
            f"got {y.shape}"
        )
    if y.ndim == 2 and not 1 <= y.shape[0] <= MAX_CHANNELS:
        hint = " (did you pass (samples, channels)?)" if y.shape[1] <= MAX_CHANNELS else ""
        raise ParameterError(
            f"'{path}': y has shape {y.shape}: expected (channels, samples) with 1 or 2 "
            f"channels{hint}"
        )
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise ParameterError(f"'{path}': y contains NaN or Inf; expected finite audio samples")
    return y.T if y.ndim == 2 else y


def _format_for(path: Path, format: str | None, subtype: str | None) -> tuple[str, str | None]:
    """Resolve the container from ``format`` or the file extension; check the pair."""
    ext = path.suffix[1:].upper()
    if format is None:
        if ext == "OPUS":  # Ogg Opus: soundfile would not infer it from ".opus"
            format, subtype = "OGG", subtype or "OPUS"
        elif ext in sf.available_formats():
            format = ext
        else:
            raise ParameterError(
                f"'{path}': cannot infer the audio format from the extension "
                f"'{path.suffix}'; pass format= (one of {', '.join(sorted(sf.available_formats()))})"
            )
    format = format.upper()
    if not sf.check_format(format, subtype):
        raise ParameterError(
            f"'{path}': format={format!r} with subtype={subtype!r} is not writable; expected "
            f"a format from soundfile.available_formats() and one of its available_subtypes()"
        )
    return format, subtype


def save(
    path: str | os.PathLike[str],
    y: torch.Tensor | np.ndarray,
    sr: int,
    *,
    subtype: str | None = None,
    format: str | None = None,
) -> None:
    """Write audio to a file, atomically.

    The audio is written to a temporary file in the same folder, flushed to disk,
    then renamed over ``path`` (:func:`os.replace`), so ``path`` is either the old
    file or the complete new one, never a partial write.

    Parameters
    ----------
    path : str or os.PathLike
        Destination; its folder must exist. An existing file is replaced (its
        permission bits are kept).
    y : torch.Tensor or np.ndarray [shape=(samples,) or (channels, samples)]
        Audio, 1 or 2 channels; float (nominally in [-1, 1]) or int16/int32 PCM.
    sr : int > 0
        Sample rate (Hz).
    subtype : str or None
        libsndfile encoding, e.g. ``"PCM_16"``, ``"FLOAT"``, ``"VORBIS"``,
        ``"OPUS"``; ``None`` uses soundfile's default for the format (WAV, FLAC,
        AIFF: ``"PCM_16"``, which clips float samples outside [-1, 1]).
    format : str or None
        libsndfile container, e.g. ``"WAV"``, ``"FLAC"``, ``"OGG"``, ``"MP3"``;
        ``None`` infers it from the extension (``.opus`` means Ogg Opus).

    Raises
    ------
    ParameterError
        Bad ``y`` (shape, dtype, NaN/Inf), ``sr``, or format/subtype.
    AudioFileError
        The folder is missing, ``path`` is a directory, or libsndfile fails to
        write (e.g. Opus at a sample rate other than 8/12/16/24/48 kHz).

    Examples
    --------
    >>> y = torch.zeros(2, 22050)
    >>> save("silence.flac", y, 22050)  # doctest: +SKIP
    """
    if not isinstance(path, str | os.PathLike):
        raise ParameterError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    p = Path(path)
    sr = check_sr(sr, path=p)
    frames = _as_frames(y, p)
    format, subtype = _format_for(p, format, subtype)
    if not p.parent.is_dir():
        raise AudioFileError(
            f"'{p}': folder '{p.parent}' does not exist; expected an existing folder"
        )
    if p.is_dir():
        raise AudioFileError(f"'{p}': is a directory; expected a file path")

    # Hidden, unique name beside the target: os.replace is atomic only within one
    # file system. O_EXCL never clobbers anything; mode 0o666 honours the umask.
    tmp = p.with_name(f".{p.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    os.close(fd)
    try:
        with contextlib.suppress(FileNotFoundError):
            os.chmod(tmp, stat.S_IMODE(p.stat().st_mode))
        try:
            sf.write(tmp, frames, sr, subtype=subtype, format=format)
        except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
            raise AudioFileError(
                f"'{p}': could not write {format}/{subtype or sf.default_subtype(format)} "
                f"audio at {sr} Hz ({exc})"
            ) from exc
        # Make the bytes durable before the rename makes them visible.
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(p.parent)


def _fsync_dir(folder: Path) -> None:
    """Persist the rename itself (best effort: not possible on every OS)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
