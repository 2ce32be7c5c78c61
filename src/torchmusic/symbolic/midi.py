"""MIDI files in and out through symusic, plus note-level helpers.

symusic (a C++ MIDI library) reads a file in well under a millisecond, which is
what makes tokenising a corpus of thousands of files cheap; every other module
here works on its ``Score`` objects. Times in a ``Score`` are integer ticks,
``score.ticks_per_quarter`` of them per quarter note.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import symusic

from torchmusic.errors import DataError, ParameterError
from torchmusic.symbolic._mode import FILE_MODE

Score = symusic.Score
DEFAULT_TPQ = 480
DEFAULT_VELOCITY = 80


def read_midi(path: str | os.PathLike[str]) -> symusic.Score:
    """Read a Standard MIDI File.

    Parameters
    ----------
    path : path-like
        A ``.mid``/``.midi`` file.

    Returns
    -------
    symusic.Score
        Tick-based score, with the file's own ticks per quarter note.

    Raises
    ------
    DataError
        If the file is missing, empty, not a readable MIDI file, or holds no notes.
        The message names the file.

    Examples
    --------
    >>> score = read_midi("tune.mid")  # doctest: +SKIP
    >>> score.note_num()  # doctest: +SKIP
    212
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such MIDI file")
    if path.stat().st_size == 0:
        raise DataError(f"{path} is empty (0 bytes); expected a Standard MIDI File")
    try:
        score = symusic.Score.from_file(str(path), format="midi")
    except Exception as err:  # symusic raises RuntimeError/ValueError with C++ text
        raise DataError(f"{path} is not a readable MIDI file: {err}") from err
    if score.note_num() == 0:
        raise DataError(f"{path} holds no notes")
    return score


def write_midi(score: symusic.Score, path: str | os.PathLike[str]) -> Path:
    """Write a score as a Standard MIDI File, atomically.

    The file is written next to ``path`` under a temporary name and renamed, so an
    interrupted job never leaves a truncated file behind.

    Parameters
    ----------
    score : symusic.Score
        Any time unit; it is written in ticks.
    path : path-like
        Destination; parent folders are created.

    Returns
    -------
    Path

    Examples
    --------
    >>> write_midi(notes_to_score([0.0], [1.0], [60]), "c.mid")  # doctest: +SKIP
    PosixPath('c.mid')
    """
    if not isinstance(score, symusic.core.ScoreTick | symusic.core.ScoreQuarter):
        raise ParameterError(f"score must be a symusic.Score, got {type(score).__name__}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    try:
        _as_ticks(score).dump_midi(tmp)
        # mkstemp makes the file private (0600): give it the usual mode.
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _as_ticks(score: symusic.Score) -> symusic.Score:
    return score if isinstance(score, symusic.core.ScoreTick) else score.to("tick")


def merge_tracks(score: symusic.Score, *, source: str | None = None) -> symusic.Score:
    """All pitched (non-drum) notes of a score in one track.

    Tempo, time and key signatures are kept; drum tracks are dropped.

    Parameters
    ----------
    score : symusic.Score
    source : str or None
        Name of the file the score came from, for error messages.

    Returns
    -------
    symusic.Score
        Tick-based, one track (program of the first pitched track), notes sorted.

    Raises
    ------
    DataError
        If the score has no pitched notes: "... has only drum tracks" when it has
        drum notes, "... holds no notes" otherwise.

    Examples
    --------
    >>> merge_tracks(read_midi("quartet.mid")).tracks[0].note_num()  # doctest: +SKIP
    1204
    """
    score = _as_ticks(score)
    pitched = [t for t in score.tracks if not t.is_drum and t.note_num() > 0]
    name = source or "the score"
    if not pitched:
        if any(t.is_drum and t.note_num() > 0 for t in score.tracks):
            raise DataError(f"{name} has only drum tracks; expected pitched notes")
        raise DataError(f"{name} holds no notes")
    # A deep copy: symusic's list .copy() shares the event objects, and callers
    # (encode) edit the merged score's time signatures.
    merged = score.copy(deep=True)
    track = symusic.Track(name="merged", program=pitched[0].program, is_drum=False)
    for t in merged.tracks:
        if not t.is_drum:
            track.notes.extend(t.notes)
    track.sort(inplace=True)
    merged.tracks.clear()
    merged.tracks.append(track)
    return merged


def pitched_notes(score: symusic.Score, *, source: str | None = None) -> dict[str, np.ndarray]:
    """The pitched notes of a score as arrays, in ticks, sorted by (time, pitch).

    Parameters
    ----------
    score : symusic.Score
    source : str or None
        File name for error messages.

    Returns
    -------
    dict of str to np.ndarray, each shape (n_notes,)
        ``time``, ``duration`` (ticks, int32), ``pitch``, ``velocity`` (int8).

    Raises
    ------
    DataError
        If there are no pitched notes (e.g. "... has only drum tracks").

    Examples
    --------
    >>> notes = pitched_notes(notes_to_score([0.0, 1.0], [1.0, 1.0], [60, 64]))
    >>> notes["pitch"].tolist(), notes["time"].tolist()
    ([60, 64], [0, 480])
    """
    track = merge_tracks(score, source=source).tracks[0]
    arrays = track.notes.numpy()
    order = np.lexsort((arrays["pitch"], arrays["time"]))
    return {k: np.asarray(v)[order] for k, v in arrays.items()}


def notes_to_score(
    onsets: Sequence[float] | np.ndarray,
    durations: Sequence[float] | np.ndarray,
    pitches: Sequence[int] | np.ndarray,
    velocities: Sequence[int] | np.ndarray | int = DEFAULT_VELOCITY,
    *,
    tpq: int = DEFAULT_TPQ,
    tempo: float = 120.0,
    time_signature: tuple[int, int] | None = None,
    key_signature: tuple[int, int] | None = None,
    program: int = 0,
) -> symusic.Score:
    """A one-track score from note arrays given in quarter notes.

    Parameters
    ----------
    onsets, durations : array-like of float, shape (n_notes,)
        Quarter notes; durations are rounded to at least one tick.
    pitches : array-like of int in [0, 127], shape (n_notes,)
    velocities : int or array-like of int in [1, 127]
    tpq : int > 0
        Ticks per quarter note of the score.
    tempo : float > 0
        Quarter notes per minute.
    time_signature : (numerator, denominator) or None
        Placed at time 0; None writes none (readers assume 4/4).
    key_signature : (sharps, minor) or None
        ``sharps`` in [-7, 7] (negative = flats), ``minor`` 0 or 1.
    program : int in [0, 127]
        General MIDI program of the track.

    Returns
    -------
    symusic.Score
        Tick-based.

    Examples
    --------
    >>> s = notes_to_score([0.0, 0.5], [0.5, 0.5], [62, 66], time_signature=(6, 8))
    >>> s.note_num(), s.time_signatures[0].numerator
    (2, 6)
    """
    onsets = np.asarray(onsets, dtype=np.float64)
    durations = np.asarray(durations, dtype=np.float64)
    pitches = np.asarray(pitches, dtype=np.int64)
    velocities = np.broadcast_to(np.asarray(velocities, dtype=np.int64), pitches.shape)
    if not (onsets.shape == durations.shape == pitches.shape) or onsets.ndim != 1:
        raise ParameterError(
            f"onsets, durations and pitches must be 1-D and equally long, got shapes "
            f"{onsets.shape}, {durations.shape}, {pitches.shape}"
        )
    if tpq <= 0 or not tempo > 0:
        raise ParameterError(f"tpq={tpq!r} and tempo={tempo!r} must be positive")
    if pitches.size and (pitches.min() < 0 or pitches.max() > 127):
        raise ParameterError(f"pitches must lie in [0, 127], got {pitches.min()}..{pitches.max()}")
    if velocities.size and (velocities.min() < 1 or velocities.max() > 127):
        raise ParameterError("velocities must lie in [1, 127]")
    if onsets.size and (not np.all(np.isfinite(onsets)) or onsets.min() < 0):
        raise ParameterError("onsets must be finite and >= 0")
    if not 0 <= program <= 127:
        raise ParameterError(f"program={program!r} must be in [0, 127]")
    start = np.rint(onsets * tpq).astype(np.int32)
    stop = np.rint((onsets + durations) * tpq).astype(np.int32)
    track = symusic.Track(name="notes", program=program, is_drum=False)
    track.notes = symusic.Note.from_numpy(
        time=start,
        duration=np.maximum(stop - start, 1).astype(np.int32),
        pitch=pitches.astype(np.int8),
        velocity=velocities.astype(np.int8),
    )
    track.sort(inplace=True)
    score = symusic.Score(tpq)
    score.tracks.append(track)
    score.tempos.append(symusic.Tempo(0, float(tempo)))
    if time_signature is not None:
        score.time_signatures.append(symusic.TimeSignature(0, *map(int, time_signature)))
    if key_signature is not None:
        score.key_signatures.append(symusic.KeySignature(0, *map(int, key_signature)))
    return score
