"""Transposition: of scores, of token sequences, and of key names.

Transposing tokens directly (a lookup table over the vocabulary) costs
microseconds, so training windows can be transposed on the fly without
re-tokenising the MIDI.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import miditok
import numpy as np
import symusic

from torchmusic.errors import ParameterError

# Token types that carry a MIDI pitch in miditok's vocabularies.
_PITCH_TYPES = ("Pitch", "NoteOn", "NoteOff")

# One spelling per pitch class, as key signatures spell them (Bb major, F# minor).
_MAJOR_NAMES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_MINOR_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B")
_MODE_SUFFIX = {
    "major": "",
    "minor": "m",
    "dorian": "dor",
    "mixolydian": "mix",
    "lydian": "lyd",
    "phrygian": "phr",
    "locrian": "loc",
}
_LETTER_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_KEY_RE = re.compile(r"^([A-G])([#b]?)(m|dor|mix|lyd|phr|loc)?$")


def key_name(tonic_pc: int, mode: str = "major") -> str:
    """Canonical key name: tonic spelled as in key signatures, plus a mode suffix.

    Major has no suffix, minor ``m``, other modes ``dor``/``mix``/``lyd``/``phr``/``loc``.

    Examples
    --------
    >>> key_name(2), key_name(10, "minor"), key_name(9, "dorian")
    ('D', 'Bbm', 'Ador')
    """
    if mode not in _MODE_SUFFIX:
        raise ParameterError(f"unknown mode {mode!r}; expected one of {', '.join(_MODE_SUFFIX)}")
    names = _MINOR_NAMES if mode == "minor" else _MAJOR_NAMES
    return names[int(tonic_pc) % 12] + _MODE_SUFFIX[mode]


def parse_key(name: str) -> tuple[int, str]:
    """``(tonic pitch class, mode)`` of a key name such as ``"F#m"`` or ``"Ador"``.

    Examples
    --------
    >>> parse_key("Bbm"), parse_key("Emix")
    ((10, 'minor'), (4, 'mixolydian'))
    """
    match = _KEY_RE.match(str(name))
    if match is None:
        raise ParameterError(f"cannot read key name {name!r}; expected e.g. 'D', 'Bbm', 'Ador'")
    letter, accidental, suffix = match.groups()
    pc = (_LETTER_PC[letter] + {"#": 1, "b": -1, "": 0}[accidental]) % 12
    mode = {v: k for k, v in _MODE_SUFFIX.items()}[suffix or ""]
    return pc, mode


def transpose_key(name: str, semitones: int) -> str:
    """A key name moved by ``semitones`` (canonical spelling).

    Examples
    --------
    >>> transpose_key("D", 2), transpose_key("Em", -1), transpose_key("Ador", 5)
    ('E', 'Ebm', 'Ddor')
    """
    pc, mode = parse_key(name)
    return key_name(pc + int(semitones), mode)


def _shift_key_signature(sharps: int, semitones: int) -> int:
    # Moving the tonic by a fifth (7 semitones) adds one sharp, and 7 is its own
    # inverse mod 12, so the new signature is sharps + 7 * semitones (mod 12),
    # written with at most 6 sharps or 5 flats.
    shifted = (sharps + 7 * semitones) % 12
    return shifted - 12 if shifted > 6 else shifted


def transpose_score(score: symusic.Score, semitones: int) -> symusic.Score:
    """A copy of the score with every pitched note moved by ``semitones``.

    Drum tracks stay as they are; key signatures move with the notes.

    Raises
    ------
    ParameterError
        If a note would leave the MIDI range 0..127.

    Examples
    --------
    >>> from torchmusic.symbolic.midi import notes_to_score
    >>> transpose_score(notes_to_score([0.0], [1.0], [60]), 3).tracks[0].notes[0].pitch
    63
    """
    semitones = int(semitones)
    out = score.copy()
    for track in out.tracks:
        if track.is_drum or track.note_num() == 0:
            continue
        pitches = track.notes.numpy()["pitch"].astype(np.int64) + semitones
        if pitches.min() < 0 or pitches.max() > 127:
            raise ParameterError(
                f"transposing by {semitones} moves notes outside MIDI 0..127 "
                f"(lowest {pitches.min()}, highest {pitches.max()})"
            )
        track.shift_pitch(semitones, inplace=True)
    for ks in out.key_signatures:
        ks.key = _shift_key_signature(int(ks.key), semitones)
    return out


class PitchShifter:
    """Vectorised transposition of token ids for one tokenizer.

    Built once per tokenizer (a table of the vocabulary's pitch-carrying tokens),
    then :meth:`__call__` shifts an id array with two NumPy lookups.

    Parameters
    ----------
    tok : miditok.MusicTokenizer
        Not trained with BPE (merged ids hide their pitches).
    """

    def __init__(self, tok: miditok.MusicTokenizer) -> None:
        if tok.is_trained:
            raise ParameterError(
                "cannot transpose ids of a trained (BPE) tokenizer; transpose the scores"
            )
        size = len(tok)
        self.pitch = np.full(size, -1, dtype=np.int64)  # MIDI pitch of each id, -1 = none
        self.kind = np.full(size, -1, dtype=np.int64)  # index into _PITCH_TYPES
        self.table = np.full((len(_PITCH_TYPES), 128), -1, dtype=np.int64)  # (kind, pitch) -> id
        for token, i in tok.vocab.items():
            kind, _, value = str(token).partition("_")
            if kind in _PITCH_TYPES and value.lstrip("-").isdigit():
                k, p = _PITCH_TYPES.index(kind), int(value)
                if 0 <= p < 128:
                    self.pitch[i], self.kind[i], self.table[k, p] = p, k, i

    def __call__(self, ids: Sequence[int] | np.ndarray, semitones: int) -> np.ndarray | None:
        ids = np.asarray(ids, dtype=np.int64)
        if semitones == 0:
            return ids.copy()
        # Ids beyond the tokenizer (condition tokens) carry no pitch.
        inside = (ids >= 0) & (ids < self.pitch.size)
        where = np.zeros(ids.shape, dtype=bool)
        where[inside] = self.pitch[ids[inside]] >= 0
        if not where.any():
            return ids.copy()
        target = self.pitch[ids[where]] + int(semitones)
        if target.min() < 0 or target.max() > 127:
            return None
        new = self.table[self.kind[ids[where]], target]
        if (new < 0).any():
            return None
        out = ids.copy()
        out[where] = new
        return out


def transpose_tokens(
    ids: Sequence[int] | np.ndarray, semitones: int, tok: miditok.MusicTokenizer
) -> list[int] | None:
    """Token ids with every pitch moved by ``semitones``, or None if one leaves the range.

    Pitch-carrying tokens (``Pitch_*``, ``NoteOn_*``, ``NoteOff_*``) are replaced
    through a lookup table; all other ids (time, special, condition tokens) are kept.
    For many calls with one tokenizer, build a :class:`PitchShifter` once.

    Returns
    -------
    list of int or None
        None when a shifted pitch is outside the tokenizer's ``pitch_range``.

    Examples
    --------
    >>> from torchmusic.symbolic.tokenize import build_tokenizer
    >>> tok = build_tokenizer()
    >>> [tok[i] for i in transpose_tokens([tok["Pitch_60"], tok["Bar_None"]], 2, tok)]
    ['Pitch_62', 'Bar_None']
    >>> transpose_tokens([tok["Pitch_108"]], 1, tok) is None
    True
    """
    shifted = PitchShifter(tok)(ids, int(semitones))
    return None if shifted is None else shifted.tolist()
