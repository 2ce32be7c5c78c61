"""Opening and reading audio files with soundfile, with every failure made clear.

libsndfile reports problems as terse codes ("Format not recognised.") and
silently papers over a truncated WAV/AIFF (it reads what is there). This module
turns those into :class:`~torchmusic.errors.AudioFileError` messages that name
the file and say what was expected, and is the one place :func:`load` and
:func:`stream` share for seeking and reading an excerpt.
"""

from __future__ import annotations

import contextlib
import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile as sf

from torchmusic.audio._checks import MAX_CHANNELS, SUPPORTED_FORMATS
from torchmusic.errors import AudioFileError, ParameterError

# Extensions of common audio formats libsndfile cannot decode: for these the
# message says "unsupported format" rather than "corrupt or not audio".
_UNSUPPORTED_EXTENSIONS = frozenset(
    {".m4a", ".mp4", ".aac", ".alac", ".wma", ".ape", ".webm", ".mka", ".amr", ".ac3", ".mid"}
)

# libsndfile's header log has a line like "data : 88200 (should be 956)" when a
# WAV/W64/RF64 'data' or AIFF 'SSND' chunk claims more bytes than the file holds:
# it then reads only what is there without raising, so we check the log.
_CHUNK_SIZE_RE = re.compile(r"^\s*(?:data|SSND)\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)
# Placeholder sizes written by streaming recorders or RF64 (real size elsewhere):
# a valid file, not a truncated one.
_UNKNOWN_SIZE = frozenset({0xFFFFFFFF, 0x7FFFFFFF, 0x7FFFFFFE, 0xFFFFFFFE})


def _open_error(path: Path, exc: sf.LibsndfileError) -> AudioFileError:
    reason = exc.error_string.strip() or str(exc)
    if exc.code == 1:  # SF_ERR_UNRECOGNISED_FORMAT
        if path.suffix.lower() in _UNSUPPORTED_EXTENSIONS:
            what = f"format '{path.suffix}' is not supported"
        else:
            what = "not a recognised audio file (corrupt, or not audio)"
    elif exc.code == 4:  # SF_ERR_UNSUPPORTED_ENCODING
        what = "audio encoding is not supported"
    else:
        what = "could not be opened: file is corrupt, truncated or unsupported"
    return AudioFileError(
        f"'{path}': {what} (libsndfile: {reason}); expected a {SUPPORTED_FORMATS} file"
    )


def check_not_truncated(f: sf.SoundFile, path: Path) -> None:
    """Raise if the header log shows a data chunk cut short (truncated WAV/AIFF)."""
    for declared, present in _CHUNK_SIZE_RE.findall(f.extra_info):
        declared_n, present_n = int(declared), int(present)
        if declared_n > present_n and declared_n not in _UNKNOWN_SIZE:
            raise AudioFileError(
                f"'{path}': file is truncated: its header announces {declared_n} bytes of "
                f"audio data but only {present_n} are present; expected a complete file"
            )


@contextlib.contextmanager
def open_audio(path: Path, *, check_channels: bool = False) -> Iterator[sf.SoundFile]:
    """Open ``path`` for reading; translate every libsndfile failure.

    Parameters
    ----------
    path : Path
        An existing, non-empty file (see ``_checks.check_path``).
    check_channels : bool
        Reject files with more than ``MAX_CHANNELS`` channels (off by default:
        :func:`load` and :func:`stream` mix such files down, :func:`info` reports them).
    """
    try:
        f = sf.SoundFile(path)
    except sf.LibsndfileError as exc:
        raise _open_error(path, exc) from exc
    except (sf.SoundFileError, RuntimeError, OSError) as exc:
        raise AudioFileError(f"'{path}': could not be opened ({exc})") from exc
    with f:
        check_not_truncated(f, path)
        if f.frames <= 0:
            raise AudioFileError(f"'{path}': contains no audio frames; expected audio")
        if check_channels and f.channels > MAX_CHANNELS:
            raise AudioFileError(
                f"'{path}': has {f.channels} channels; expected 1 (mono) or 2 (stereo)"
            )
        yield f


#: Gain of the centre and surround channels in a stereo downmix (-3 dB, ITU-R BS.775).
SURROUND_GAIN = 0.7071067811865476


def downmix_to_stereo(y: np.ndarray) -> np.ndarray:
    """``(channels, n)`` audio with more than 2 channels -> ``(2, n)``.

    The rule (documented in :func:`torchmusic.audio.load`): channels 0 and 1 are
    left and right; every other channel is added to both at -3 dB
    (:data:`SURROUND_GAIN`), except that a 6-channel (5.1, WAV order L R C LFE Ls
    Rs) file follows ITU-R BS.775: the LFE channel is dropped and Ls / Rs go to
    their own side only. Each output channel is divided by the sum of its gains, so
    a full-scale input never clips.
    """
    n = y.shape[0]
    weights = np.zeros((2, n), dtype=y.dtype)
    weights[0, 0] = weights[1, 1] = 1.0
    weights[:, 2:] = SURROUND_GAIN
    if n == 6:  # 5.1: L R C LFE Ls Rs
        weights[:, 3] = 0.0
        weights[1, 4] = weights[0, 5] = 0.0
    weights /= weights.sum(axis=1, keepdims=True)
    return weights @ y


def excerpt_frames(
    f: sf.SoundFile, path: Path, *, offset: float, duration: float | None
) -> tuple[int, int]:
    """Convert ``offset``/``duration`` (s) to ``(start_frame, n_frames)`` like librosa 0.11.

    librosa's soundfile loader seeks to ``int(offset * sr)`` and reads
    ``int(duration * sr)`` frames (all remaining ones when ``duration`` is None);
    a read past the end returns what is there. We reproduce that exactly, but
    reject an offset at or past the end, where librosa would return nothing.
    """
    sr_native = f.samplerate
    start = int(offset * sr_native)
    if start >= f.frames:
        raise ParameterError(
            f"'{path}': offset={offset} s is at or beyond the end of the file "
            f"({f.frames / sr_native:.6g} s); expected 0 <= offset < duration of the file"
        )
    remaining = f.frames - start
    if duration is None:
        return start, remaining
    n = int(duration * sr_native)
    if n <= 0:
        raise ParameterError(
            f"'{path}': duration={duration} s is shorter than one sample at the file's "
            f"{sr_native} Hz; expected at least {1 / sr_native:.3g} s"
        )
    return start, min(n, remaining)


def seek_to(f: sf.SoundFile, path: Path, start: int) -> None:
    """Seek to frame ``start`` (librosa skips the seek for offset 0; so do we)."""
    if not start:
        return
    try:
        f.seek(start)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioFileError(
            f"'{path}': could not seek to frame {start}: file is corrupt or truncated ({exc})"
        ) from exc


def read_frames(
    f: sf.SoundFile, path: Path, *, start: int, n: int, dtype: type[np.floating]
) -> np.ndarray:
    """Read ``n`` frames from the current position (frame ``start``); check them.

    Returns
    -------
    np.ndarray [shape=(n,) or (n, channels)]
        soundfile's layout; every sample finite.

    Raises
    ------
    AudioFileError
        If decoding fails, fewer than ``n`` frames could be decoded (truncated
        or corrupt stream), or a sample is NaN/Inf (the message gives its time).
    """
    try:
        y = f.read(frames=n, dtype=dtype, always_2d=False)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioFileError(
            f"'{path}': could not be decoded after frame {start}: file is corrupt or "
            f"truncated ({exc}); expected a complete {SUPPORTED_FORMATS} file"
        ) from exc
    missing = n - y.shape[0]
    if 0 < missing <= _tolerated_shortfall(f):
        warnings.warn(
            f"'{path}': decoding stopped {missing} frames ({missing / f.samplerate:.3f} s) "
            f"before the {f.frames} frames the header announces; returning what was decoded",
            stacklevel=3,
        )
    elif missing > 0:
        raise AudioFileError(
            f"'{path}': file is truncated or corrupt: the header announces {f.frames} frames "
            f"but decoding stopped at frame {start + y.shape[0]}"
        )
    check_finite(y, path, start=start, sr=f.samplerate)
    return y


# Lossy streams (Ogg, MP3) announce a length estimated from the last page's granule
# position or a VBR header; real files in the wild (e.g. a Wesnoth soundtrack) decode a
# few thousand frames short of it and play fine everywhere, and librosa reads them.
# A shortfall this small is a warning; a cut-off file loses far more and is an error.
_LOSSY_FORMATS = {"OGG", "MPEG"}
_TOLERATED_SHORTFALL = 0.01  # fraction of the announced frames


def _tolerated_shortfall(f: sf.SoundFile) -> int:
    if f.format not in _LOSSY_FORMATS:
        return 0
    return int(f.frames * _TOLERATED_SHORTFALL)


def check_finite(y: np.ndarray, path: Path, *, start: int, sr: int) -> None:
    """Raise if ``y`` (frames first) holds a NaN or Inf; name its time in the file."""
    finite = np.isfinite(y)
    if finite.all():
        return
    if finite.ndim > 1:
        finite = finite.all(axis=1)
    frame = start + int(np.flatnonzero(~finite)[0])
    raise AudioFileError(
        f"'{path}': non-finite sample (NaN or Inf) at {frame / sr:.6f} s (frame {frame}); "
        "expected finite audio samples"
    )
