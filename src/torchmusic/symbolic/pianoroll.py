"""88-key piano rolls: scores to boolean (time, key) grids and back, and plots.

Convention (the JSB Chorales / Boulanger-Lewandowski one): row ``t`` is time step
``t`` (``steps_per_quarter`` steps per quarter note), column ``k`` is MIDI pitch
``21 + k`` (A0..C8); a cell is True while the key sounds. Notes outside 21..108 are
dropped. Converting back, a run of consecutive True cells is ONE held note, so a
note repeated without a gap merges with its neighbour: rolls do not keep
re-articulations.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import symusic

from torchmusic.errors import ParameterError
from torchmusic.symbolic._mode import FILE_MODE
from torchmusic.symbolic.midi import DEFAULT_VELOCITY, merge_tracks, notes_to_score

LOWEST_PITCH = 21
N_KEYS = 88


def _check_steps(steps_per_quarter: int) -> int:
    if isinstance(steps_per_quarter, bool) or int(steps_per_quarter) != steps_per_quarter:
        raise ParameterError(f"steps_per_quarter={steps_per_quarter!r} must be an int")
    if steps_per_quarter < 1:
        raise ParameterError(f"steps_per_quarter={steps_per_quarter!r} must be >= 1")
    return int(steps_per_quarter)


def score_to_pianoroll(score: symusic.Score, *, steps_per_quarter: int = 4) -> np.ndarray:
    """Boolean piano roll of a score's pitched notes.

    Parameters
    ----------
    score : symusic.Score
    steps_per_quarter : int >= 1
        Time resolution (4 = 16th notes, 1 = the JSB "quarter" resolution).
        Onsets and ends are rounded to the grid; a note keeps at least one step.

    Returns
    -------
    np.ndarray, shape (T, 88), bool
        ``T`` = end of the last note in steps.

    Raises
    ------
    DataError
        If the score has no pitched notes (e.g. drums only).

    Examples
    --------
    >>> from torchmusic.symbolic.midi import notes_to_score
    >>> roll = score_to_pianoroll(notes_to_score([0.0, 1.0], [1.0, 0.5], [60, 64]))
    >>> roll.shape, int(roll[:, 60 - 21].sum()), int(roll[4:, 64 - 21].sum())
    ((6, 88), 4, 2)
    """
    steps = _check_steps(steps_per_quarter)
    merged = merge_tracks(score).resample(steps, min_dur=1)
    arrays = merged.tracks[0].notes.numpy()
    end = int((arrays["time"].astype(np.int64) + arrays["duration"]).max())
    grid = merged.tracks[0].pianoroll(modes=["frame"], pitch_range=(21, 21 + N_KEYS))
    roll = np.zeros((end, N_KEYS), dtype=bool)
    frames = grid[0, :, :end].T.astype(bool)  # (time, key)
    roll[: frames.shape[0]] = frames
    return roll


def _as_roll(roll: np.ndarray) -> np.ndarray:
    roll = np.asarray(roll)
    if roll.ndim != 2 or roll.shape[1] != N_KEYS:
        raise ParameterError(f"expected a piano roll of shape (T, 88), got {roll.shape}")
    return roll.astype(bool)


def pianoroll_to_score(
    roll: np.ndarray,
    *,
    steps_per_quarter: int = 4,
    tempo: float = 120.0,
    velocity: int = DEFAULT_VELOCITY,
    program: int = 0,
) -> symusic.Score:
    """A one-track score from a boolean piano roll (runs of True = held notes).

    Parameters
    ----------
    roll : array-like, shape (T, 88)
        Nonzero = sounding; column ``k`` is MIDI pitch ``21 + k``.
    steps_per_quarter : int >= 1
    tempo : float
        Quarter notes per minute.
    velocity : int in [1, 127]
    program : int in [0, 127]
        General MIDI program.

    Returns
    -------
    symusic.Score
        Tick-based (480 per quarter); no notes for an all-False roll.

    Examples
    --------
    >>> roll = np.zeros((4, 88), dtype=bool)
    >>> roll[0:3, 39] = True  # middle C held three steps
    >>> note = pianoroll_to_score(roll).tracks[0].notes[0]
    >>> note.pitch, note.time, note.duration
    (60, 0, 360)
    """
    roll = _as_roll(roll)
    steps = _check_steps(steps_per_quarter)
    padded = np.zeros((N_KEYS, roll.shape[0] + 2), dtype=np.int8)
    padded[:, 1:-1] = roll.T
    change = np.diff(padded, axis=1)
    # np.nonzero walks key by key, then in time: starts and ends pair up in order.
    keys, starts = np.nonzero(change == 1)
    _, ends = np.nonzero(change == -1)
    order = np.lexsort((keys, starts))
    return notes_to_score(
        starts[order] / steps,
        (ends[order] - starts[order]) / steps,
        keys[order] + LOWEST_PITCH,
        velocity,
        tempo=tempo,
        program=program,
    )


def plot_pianoroll(
    roll_or_score: np.ndarray | symusic.Score,
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
    steps_per_quarter: int = 4,
) -> Path:
    """Save a piano-roll image (PNG) of a roll or a score.

    Uses matplotlib's Agg canvas directly (no pyplot state), so it is safe in
    worker processes and without a display.

    Parameters
    ----------
    roll_or_score : array-like (T, 88) or symusic.Score
    path : path-like
        Image file; the format follows the suffix (``.png``, ``.pdf``, ``.svg``).
    title : str or None
    steps_per_quarter : int
        Resolution of the roll (for the time axis in quarter notes).

    Returns
    -------
    Path

    Examples
    --------
    >>> plot_pianoroll(np.eye(88, dtype=bool), "roll.png")  # doctest: +SKIP
    PosixPath('roll.png')
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    steps = _check_steps(steps_per_quarter)
    if isinstance(roll_or_score, symusic.core.ScoreTick | symusic.core.ScoreQuarter):
        if roll_or_score.note_num() == 0:
            # A silent piece (e.g. one step of a VAE interpolation) is drawn as one
            # empty bar rather than refused: the image sequence stays complete.
            roll = np.zeros((4 * steps, N_KEYS), dtype=bool)
        else:
            roll = score_to_pianoroll(roll_or_score, steps_per_quarter=steps)
    else:
        roll = _as_roll(roll_or_score)
    sounding = np.nonzero(roll.any(axis=0))[0]
    lo, hi = (sounding.min(), sounding.max()) if sounding.size else (39 - 12, 39 + 12)
    lo, hi = max(0, lo - 2), min(N_KEYS - 1, hi + 2)

    fig = Figure(figsize=(max(4.0, min(16.0, roll.shape[0] / 16 + 2)), 3.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.imshow(
        roll[:, lo : hi + 1].T,
        origin="lower",
        aspect="auto",
        interpolation="nearest",
        cmap="Greys",
        extent=(0, roll.shape[0] / steps, lo + LOWEST_PITCH - 0.5, hi + LOWEST_PITCH + 0.5),
    )
    c_notes = [p for p in range(lo + LOWEST_PITCH, hi + LOWEST_PITCH + 1) if p % 12 == 0]
    ax.set_yticks(c_notes, [f"C{p // 12 - 1}" for p in c_notes])
    ax.set_xlabel("quarter notes")
    ax.set_ylabel("pitch")
    if title:
        ax.set_title(title)
    fig.tight_layout()

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp)
        # mkstemp makes the file private (0600): give it the usual mode.
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
