"""JSB Chorales in the Boulanger-Lewandowski (2012) JSON form, as piano rolls.

The file (``jsb-chorales-quarter.json``, one frame per quarter note) maps each
split (``train``/``valid``/``test``: 229/76/77 chorales) to a list of pieces, each a
list of frames, each the list of sounding MIDI pitches. This is the split of the
published likelihood tables.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from torchmusic.errors import DataError
from torchmusic.symbolic.pianoroll import LOWEST_PITCH, N_KEYS

SPLITS: tuple[str, ...] = ("train", "valid", "test")


def load_jsb(path: str | os.PathLike[str]) -> dict[str, list[np.ndarray]]:
    """Read a JSB Chorales JSON file into piano rolls.

    Parameters
    ----------
    path : path-like
        e.g. ``jsb-chorales-quarter.json``.

    Returns
    -------
    dict of str to list of np.ndarray
        ``"train"``, ``"valid"``, ``"test"`` -> pieces, each of shape (T, 88),
        bool; column ``k`` is MIDI pitch ``21 + k``. Empty frames stay (rests).

    Raises
    ------
    DataError
        If the file is missing, not JSON, lacks a split, or holds a frame that is
        not a list of MIDI pitches in 21..108 (the message says where).

    Examples
    --------
    >>> rolls = load_jsb("jsb-chorales-quarter.json")  # doctest: +SKIP
    >>> len(rolls["train"]), rolls["train"][0].shape  # doctest: +SKIP
    (229, (129, 88))
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such JSB Chorales file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise DataError(f"{path} is not valid JSON: {err}") from err
    if not isinstance(data, dict) or any(s not in data for s in SPLITS):
        found = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise DataError(f"{path}: expected an object with keys {list(SPLITS)}, found {found}")
    rolls: dict[str, list[np.ndarray]] = {}
    for split in SPLITS:
        pieces = data[split]
        if not isinstance(pieces, list):
            raise DataError(f"{path}: {split!r} must be a list of pieces")
        rolls[split] = [
            _piece_roll(piece, f"{path}: {split}[{i}]") for i, piece in enumerate(pieces)
        ]
    return rolls


def _piece_roll(piece: object, where: str) -> np.ndarray:
    if not isinstance(piece, list) or not piece:
        raise DataError(f"{where} must be a non-empty list of frames")
    roll = np.zeros((len(piece), N_KEYS), dtype=bool)
    for t, frame in enumerate(piece):
        if not isinstance(frame, list) or not all(
            isinstance(p, int | float) and float(p).is_integer() for p in frame
        ):
            raise DataError(f"{where} frame {t} must be a list of MIDI pitches, got {frame!r}")
        keys = np.asarray(frame, dtype=np.int64) - LOWEST_PITCH
        if keys.size and (keys.min() < 0 or keys.max() >= N_KEYS):
            raise DataError(f"{where} frame {t} has pitch(es) outside 21..108: {sorted(frame)}")
        roll[t, keys] = True
    return roll
