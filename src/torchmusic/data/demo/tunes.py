"""Dance tunes of known type from music21's bundled ABC collections.

Three collections in music21's corpus label their tunes' dance type:

* ``oneills1850`` -- O'Neill's *Music of Ireland* (1850 tunes), ``R:`` field;
* ``ryansMammoth`` -- *Ryan's Mammoth Collection* (1883), ``R:`` field;
* ``airdsAirs`` -- Aird's *Airs* (1778-1803), the type only in titles
  ("Miss Gordon's Strathspey").

:func:`scan_tunes` reads the ABC headers of all of them (a fraction of a second)
and keeps the tunes whose type is clear *and* whose metre agrees with it;
:func:`tune_notes` parses one tune with music21 into timed notes. music21 is
imported only inside these functions so that importing this module stays cheap.
"""

from __future__ import annotations

import dataclasses
import re
import string
import unicodedata
import warnings
from pathlib import Path

from torchmusic.errors import DependencyError

COLLECTIONS: tuple[str, ...] = ("oneills1850", "ryansMammoth", "airdsAirs")


@dataclasses.dataclass(frozen=True)
class TuneType:
    """How a dance type is recognised and how fast it is played.

    Tempo is given in *bars* per minute because that is what is comparable across
    these collections: Ryan's writes many reels in 2/4 with semiquavers where
    O'Neill's uses C| with quavers, but one bar holds the same music in both.
    """

    name: str
    meters: tuple[str, ...]  # accepted ABC ``M:`` values
    bars_per_minute: float  # typical dance tempo
    beats_per_bar: int  # felt beats per bar, for ``tempo_bpm``
    beat_unit: str  # what one beat is in standard notation (documentation)


# Typical dance tempos (RSCDS / Irish session practice): reels and jigs ~56-58
# bars a minute, hornpipes slower, slip jigs in three, strathspeys at ~32 bars.
TUNE_TYPES: dict[str, TuneType] = {
    t.name: t
    for t in (
        TuneType("reel", ("C|", "2/2", "C", "4/4", "2/4"), 56.0, 2, "half note"),
        TuneType("jig", ("6/8",), 58.0, 2, "dotted quarter"),
        TuneType("hornpipe", ("C|", "2/2", "C", "4/4", "2/4"), 44.0, 2, "half note"),
        TuneType("strathspey", ("C", "4/4", "C|", "2/2"), 32.0, 4, "quarter note"),
        TuneType("slip_jig", ("9/8",), 40.0, 3, "dotted quarter"),
    )
}
DEFAULT_TUNE_TYPES: tuple[str, ...] = tuple(TUNE_TYPES)

_FIELD = re.compile(r"^([A-Za-z]):(.*)$")
_TUNE_START = re.compile(r"(?m)^(?=X:)")
# Longest names first so "slip jig" is not read as "jig".
_TYPE_WORDS = (
    ("slip_jig", r"slip[ -]?jig"),
    ("jig", r"(?:double |single )?jig"),
    ("reel", r"reel"),
    ("hornpipe", r"hornpipe"),
    ("strathspey", r"strathspey"),
)


@dataclasses.dataclass(frozen=True)
class Tune:
    """One tune of a known type, with its ABC text (one ``X:`` block)."""

    collection: str
    source: str  # "<collection>/<file>#<X number>", unique within the corpus
    title: str
    tune_type: str
    meter: str
    abc: str


def corpus_root() -> Path:
    """Folder of music21's bundled corpus; :class:`DependencyError` without music21."""
    try:
        from music21 import common
    except ImportError as err:  # pragma: no cover - music21 is a declared extra
        raise DependencyError(
            "building the demo corpus needs music21: pip install 'torchmusic[demo]'"
        ) from err
    return Path(common.getCorpusFilePath())


def music21_version() -> str:
    """Version of the installed music21 (its corpus is part of the corpus's provenance)."""
    import music21

    return str(music21.__version__)


def _header(block: str) -> dict[str, str]:
    """The first value of each ABC header field, up to and including ``K:``."""
    fields: dict[str, str] = {}
    for line in block.splitlines():
        match = _FIELD.match(line)
        if match is None:
            continue
        key, value = match.group(1), match.group(2).split("%", 1)[0].strip()
        fields.setdefault(key, value)
        if key == "K":
            break
    return fields


def _type_in(text: str) -> str | None:
    """The single dance type named in ``text``, or None when none or several are."""
    found = {name for name, pattern in _TYPE_WORDS if re.search(rf"\b{pattern}\b", text.lower())}
    # "slip jig" also matches the "jig" pattern's word boundary test: prefer it.
    if "slip_jig" in found:
        found.discard("jig")
    return found.pop() if len(found) == 1 else None


def classify(fields: dict[str, str]) -> str | None:
    """Dance type of a tune from its ABC header, or None when unclear or inconsistent.

    The ``R:`` (rhythm) field wins over the title; the metre must agree with the
    type (a "jig" in 9/8 is a slip jig; a 2/4 reel must be written in semiquavers,
    ``L:1/16`` or the ABC default for 2/4, so that one bar is one reel bar).

    Parameters
    ----------
    fields : dict of str to str
        ABC header fields, e.g. ``{"T": "Acacia -- Reel", "M": "2/4", "L": "1/16"}``.

    Returns
    -------
    str or None
        A key of :data:`TUNE_TYPES`.

    Examples
    --------
    >>> classify({"T": "The Kid on the Mountain", "R": "slip jig", "M": "9/8"})
    'slip_jig'
    >>> classify({"T": "Drowsy Maggie", "R": "reel", "M": "6/8"}) is None
    True
    """
    rhythm = fields.get("R", "").strip()
    tune_type = _type_in(rhythm) if rhythm else _type_in(fields.get("T", ""))
    if tune_type is None:
        return None
    meter = fields.get("M", "").replace(" ", "")
    if tune_type == "jig" and meter == "9/8":
        tune_type = "slip_jig"
    if meter not in TUNE_TYPES[tune_type].meters:
        return None
    if meter == "2/4" and fields.get("L", "1/16").replace(" ", "") != "1/16":
        return None
    return tune_type


def title_key(title: str) -> str:
    """Normalised title used to drop the same tune printed twice.

    Examples
    --------
    >>> title_key("The Acacia -- Reel.") == title_key("Acacia")
    True
    """
    text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower()
    text = re.sub(r"\b(the|a|an|slip|double|single|reel|jig|hornpipe|strathspey)\b", " ", text)
    return " ".join(re.findall(r"[a-z0-9]+", text))


def scan_tunes(*, collections: tuple[str, ...] = COLLECTIONS) -> list[Tune]:
    """All typed, metre-consistent, de-duplicated tunes of the collections.

    Only ABC headers are read (music21's parser would take minutes for the
    ~4000 tunes; it is run later on the few tunes actually rendered).

    Parameters
    ----------
    collections : tuple of str
        Sub-folders of music21's corpus, in priority order: of two tunes of one
        type with the same normalised title, the first one found is kept.

    Returns
    -------
    list of Tune
        In a fixed order (collection, file name, position in file).

    Examples
    --------
    >>> tunes = scan_tunes()  # doctest: +SKIP
    >>> sorted({t.tune_type for t in tunes})  # doctest: +SKIP
    ['hornpipe', 'jig', 'reel', 'slip_jig', 'strathspey']
    """
    root = corpus_root()
    tunes: list[Tune] = []
    seen: set[str] = set()
    for collection in collections:
        for path in sorted((root / collection).glob("*.abc")):
            text = path.read_text(encoding="utf-8", errors="replace")
            for block in _TUNE_START.split(text)[1:]:
                fields = _header(block)
                tune_type = classify(fields)
                if tune_type is None:
                    continue
                title = fields.get("T", "").strip().rstrip(".").strip() or "untitled"
                if title.isupper():  # Ryan's prints titles in capitals
                    title = string.capwords(title.lower())
                if title.endswith(", The"):  # O'Neill's "First of June, The"
                    title = "The " + title[: -len(", The")]
                source = f"{collection}/{path.name}#{fields.get('X', '?')}"
                # Per type: "Miss Gordon's Reel" and "Miss Gordon's Strathspey" differ.
                key = f"{tune_type}:{title_key(title) or source}"
                if key in seen:
                    continue
                seen.add(key)
                tunes.append(Tune(collection, source, title, tune_type, fields.get("M", ""), block))
    return tunes


@dataclasses.dataclass(frozen=True)
class TuneNotes:
    """A parsed tune: its notes once through (repeats played), in quarter notes.

    ``notes`` holds ``(onset, duration, midi_pitches, accent)``; ``accent`` is 2 on
    a bar's downbeat, 1 on another beat and 0 off the beat.
    """

    notes: tuple[tuple[float, float, tuple[int, ...], int], ...]
    length: float  # quarter notes until the tune starts again
    bar_length: float  # quarter notes in one bar of the opening metre


def _on_grid(position: float, step: float) -> bool:
    # Triplets make offsets inexact fractions; compare with a tolerance.
    remainder = position % step
    return min(remainder, step - remainder) < 1e-6


def tune_notes(abc: str) -> TuneNotes:
    """Parse one ABC tune with music21 into timed notes, repeats expanded.

    Parameters
    ----------
    abc : str
        One ABC tune (an ``X:`` block).

    Returns
    -------
    TuneNotes

    Raises
    ------
    Exception
        Whatever music21 raises on ABC it cannot read; ``ValueError`` for a tune
        without notes. The caller counts these tunes as skipped.

    Examples
    --------
    >>> abc = "X:1\\nT:Scale\\nM:2/4\\nL:1/8\\nK:C\\nCDEF|GABc|]\\n"
    >>> parsed = tune_notes(abc)  # doctest: +SKIP
    >>> parsed.length, parsed.bar_length, len(parsed.notes)  # doctest: +SKIP
    (4.0, 2.0, 8)
    """
    from music21 import converter, harmony, meter

    with warnings.catch_warnings():
        # music21 warns about every ABC construct it approximates; the tune is
        # still usable, and failures surface as exceptions.
        warnings.simplefilter("ignore")
        score = converter.parseData(abc, format="abc")
        if hasattr(score, "scores"):  # an Opus: several tunes in one block
            score = score.scores[0]
        written = float(score.highestTime)
        try:
            expanded = score.expandRepeats()
        except Exception:
            # Malformed repeats/endings raise assorted errors: play the written
            # notes once instead; the tune is looped to the clip length anyway.
            expanded = None
        # A tune played with its repeats is at most about twice as long as
        # written. music21 reads ABC's part-wise ":|" (no "|:") as "back to the
        # very start", and D.S./Fine marks as jumps, which can make a 32-bar tune
        # hundreds of bars long: keep the written form then.
        if expanded is not None and float(expanded.highestTime) <= 2.05 * written:
            score = expanded
        part = score.parts[0] if score.parts else score
        if not part.getElementsByClass("Measure"):
            # music21 leaves very short tunes (two bars) without measures.
            part = part.makeMeasures()
        part = part.stripTies()

        notes = []
        signature = meter.TimeSignature("4/4")
        bar_length = None
        for measure in part.getElementsByClass("Measure"):
            signature = measure.timeSignature or signature
            bar = float(signature.barDuration.quarterLength)
            beat = float(signature.beatDuration.quarterLength)
            if bar_length is None:
                bar_length = bar
            start = float(measure.offset)
            pickup = float(measure.paddingLeft)
            for item in measure.flatten().notes:
                duration = float(item.quarterLength)
                if isinstance(item, harmony.Harmony) or item.duration.isGrace or duration <= 0:
                    continue
                position = pickup + float(item.offset)
                accent = 2 if _on_grid(position, bar) else 1 if _on_grid(position, beat) else 0
                pitches = tuple(int(p.midi) for p in item.pitches)
                if not pitches:  # an unpitched (percussion) note
                    continue
                notes.append((start + float(item.offset), duration, pitches, accent))
        length = float(part.highestTime)
    if not notes or length <= 0:
        raise ValueError("the tune has no notes")
    return TuneNotes(tuple(notes), length, bar_length or 4.0)
