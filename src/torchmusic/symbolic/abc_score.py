"""One ABC tune -> a symusic score, through music21's ABC parser.

The score is built directly from music21's notes (not through music21's MIDI
writer, which is several times slower and would have to be read back anyway).
Choices, all of them for language modelling:

* the tune is kept as written: repeats are NOT expanded (expanding would give the
  model the same eight bars twice, and music21 misreads some ABC repeat marks);
* a pickup (anacrusis) is placed at the end of an empty first bar, so bar lines
  fall where the notation has them and REMI's Bar/Position tokens agree with the
  metre;
* grace notes and chord symbols (guitar chords) are dropped; tied notes are merged;
* one time signature from the ``M:`` field at time 0 (free metre: none), the key
  from music21's reading of ``K:``, the tempo from ``Q:`` (else 120 quarters/min).
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import warnings
from collections.abc import Iterator

import numpy as np
import symusic

from torchmusic.symbolic.augment import key_name
from torchmusic.symbolic.midi import notes_to_score

_MODES = {"major", "minor", "dorian", "mixolydian", "lydian", "phrygian", "locrian"}


@dataclasses.dataclass(frozen=True)
class ParsedTune:
    score: symusic.Score
    key: str  # e.g. "D", "Gm", "Ador"; "" if the tune has none
    n_notes: int


@contextlib.contextmanager
def _without_beaming() -> Iterator[None]:
    """Skip music21's ``makeBeams`` while its ABC reader runs.

    The reader beams every tune, which is about 60 % of its parse time; beams are
    notation only and never reach the notes or the MIDI file (the tests check that
    the notes are identical). Patched for the duration of one parse, restored after.
    """
    from music21 import stream

    original = stream.Stream.makeBeams
    stream.Stream.makeBeams = lambda self, *args, inPlace=False, **kwargs: (  # type: ignore[method-assign]
        None if inPlace else self
    )
    try:
        yield
    finally:
        stream.Stream.makeBeams = original  # type: ignore[method-assign]


def _meter_signature(meter: str) -> tuple[int, int] | None:
    match = re.match(r"^(\d+)/(\d+)$", meter)
    if match is None:
        return None
    num, den = int(match.group(1)), int(match.group(2))
    # MIDI stores the denominator as a power of two.
    return (num, den) if num > 0 and den in (1, 2, 4, 8, 16, 32) else None


def abc_to_score(abc: str, *, meter: str = "free", tpq: int = 480) -> ParsedTune:
    """Parse one ABC tune (an ``X:`` block) into a one-track score.

    Parameters
    ----------
    abc : str
        One tune.
    meter : str
        Normalised metre ("6/8", "free", ...; see
        :func:`~torchmusic.symbolic.folk_meta.normalise_meter`).
    tpq : int
        Ticks per quarter of the score.

    Returns
    -------
    ParsedTune

    Raises
    ------
    ValueError
        For a tune without notes. music21 raises its own exceptions for ABC it
        cannot read; callers count such tunes as skipped.

    Examples
    --------
    >>> tune = abc_to_score("X:1\\nT:Scale\\nM:2/4\\nL:1/8\\nK:D\\nDEFG|ABcd|]\\n", meter="2/4")
    >>> tune.n_notes, tune.key
    (8, 'D')
    """
    from music21 import converter, harmony, key, tempo

    with warnings.catch_warnings(), _without_beaming():
        # music21 warns about every ABC construct it approximates.
        warnings.simplefilter("ignore")
        parsed = converter.parseData(abc, format="abc")
    if hasattr(parsed, "scores"):  # an Opus (several tunes in one block): keep the first
        if not parsed.scores:
            raise ValueError("the ABC block holds no tune")
        parsed = parsed.scores[0]

    parts = list(parsed.parts) or [parsed]
    measures = parts[0].getElementsByClass("Measure")
    # paddingLeft = the part of the first bar the pickup does not fill.
    shift = float(measures[0].paddingLeft) if len(measures) else 0.0
    onsets: list[float] = []
    durations: list[float] = []
    pitches: list[int] = []
    for part in parts:
        part.stripTies(inPlace=True)  # a copy would cost half the parse time
        for item in part.flatten().notes:
            duration = float(item.quarterLength)
            if isinstance(item, harmony.Harmony) or item.duration.isGrace or duration <= 0:
                continue
            for p in item.pitches:
                if 0 <= p.midi <= 127:
                    onsets.append(float(item.offset) + shift)
                    durations.append(duration)
                    pitches.append(int(p.midi))
    if not pitches:
        raise ValueError("the tune has no notes")

    flat = parts[0].flatten()
    signatures = list(flat.getElementsByClass(key.KeySignature))
    name, key_signature = "", None
    if signatures:
        first = signatures[0]
        k = first if isinstance(first, key.Key) else first.asKey("major")
        mode = k.mode if k.mode in _MODES else "major"
        name = key_name(k.tonic.pitchClass, mode)
        key_signature = (int(first.sharps), 1 if mode == "minor" else 0)
    marks = list(flat.getElementsByClass(tempo.MetronomeMark))
    qpm = marks[0].getQuarterBPM() if marks else None
    score = notes_to_score(
        np.asarray(onsets),
        np.asarray(durations),
        np.asarray(pitches),
        tpq=tpq,
        tempo=float(qpm) if qpm and qpm > 0 else 120.0,
        time_signature=_meter_signature(meter),
        key_signature=key_signature,
    )
    return ParsedTune(score=score, key=name, n_notes=len(pitches))
