"""Tunes and their labels from the ABC headers of music21's folk collections.

Reading only the headers takes a fraction of a second for the ~12,600 tunes, so
the tune list, the labels and the ``limit`` subset are known before any tune is
parsed. Labels, in order of precedence (see ``docs/symbolic-data.md``):

* **tune type** -- the ABC ``R:`` (rhythm) field, then the title ("Acacia --
  Reel"), then, for O'Neill's, the section of the book the tune number falls in
  (the file names are number ranges); Essen songs get a song genre from their
  German ``R:`` field ("Tanz" -> dance, "Ballade" -> ballad, ...) or "song";
  anything else is "other". Clogs count as hornpipes, quicksteps as marches.
* **region** -- Essen's ``O:`` origin field ("Europa, Mitteleuropa,
  Deutschland" -> germany); Ryan's/Aird's ``O:`` or a nationality in the title;
  otherwise where the collection was compiled (O'Neill's: ireland, Aird's:
  scotland, Ryan's: usa), with strathspeys and flings counted as scotland.
* **meter** -- the ``M:`` field (``C`` -> 4/4, ``C|`` -> 2/2, none -> free).
"""

from __future__ import annotations

import dataclasses
import re
import string
import unicodedata
from pathlib import Path

from torchmusic.errors import DependencyError, ParameterError

# CLI name -> folder of music21's corpus.
COLLECTIONS: dict[str, str] = {
    "essen": "essenFolksong",
    "oneills": "oneills1850",
    "ryans": "ryansMammoth",
    "aird": "airdsAirs",
}

_TUNE_START = re.compile(r"(?m)^(?=X:)")
_FIELD = re.compile(r"^([A-Za-z]):(.*)$")

# (label, regex), longest names first so "slip jig" is not read as "jig".
_DANCE_WORDS: tuple[tuple[str, str], ...] = (
    ("slip_jig", r"slip[ -]?jigs?|hop[ -]?jigs?"),
    ("set_dance", r"set[ -]dances?|long[ -]dances?"),
    ("fling", r"(?:highland )?flings?"),
    ("march", r"marche?s?|quick[ -]?steps?"),
    ("jig", r"(?:double |single )?jigs?"),
    ("reel", r"reels?"),
    ("hornpipe", r"hornpipes?|clogs?"),
    ("strathspey", r"strathspeys?"),
    ("waltz", r"waltz(?:es)?"),
    ("polka", r"polkas?"),
    ("slide", r"slides?"),
    ("minuet", r"minuets?"),
    ("gavotte", r"gavottes?"),
    ("air", r"airs?|laments?"),
)

# O'Neill's Music of Ireland (1903) is ordered by tune type; tune numbers are in
# the X: field and in the file names of music21's copy.
_ONEILLS_SECTIONS: tuple[tuple[int, int, str], ...] = (
    (1, 700, "air"),  # airs, songs and O'Carolan's compositions
    (701, 1115, "jig"),  # double jigs
    (1116, 1175, "slip_jig"),
    (1176, 1555, "reel"),
    (1556, 1780, "hornpipe"),
    (1781, 1800, "set_dance"),  # "long dances"
    (1801, 1850, "march"),
)

# Essen's R: field is a German genre list; first keyword (by position) wins.
_ESSEN_GENRES: tuple[tuple[str, str], ...] = (
    ("dance", r"tanz"),
    ("children", r"kinder"),
    ("lullaby", r"wiegen"),
    ("ballad", r"ballade|romanze"),
    ("religious", r"religi|geistlich|kirch|weihnacht|choral"),
    ("love_song", r"liebe"),
    ("work_song", r"arbeit|haozi"),
)

# Essen O: field -> region. Checked piece by piece ("Europa, Mitteleuropa,
# Deutschland" -> germany); the continent pieces match nothing.
_REGIONS: dict[str, str] = {
    "deutschland": "germany",
    "schwaben": "germany",
    "china": "china",
    "yunnan": "china",
    "hunan": "china",
    "xinjiang": "china",
    "taiwan": "china",
    "luxemburg": "luxembourg",
    "lothringen": "lorraine",
    "elsass": "france",
    "frankreich": "france",
    "jugoslawien": "yugoslavia",
    "oesterreich": "austria",
    "unteroesterreich": "austria",
    "niederoesterreich": "austria",
    "oberoesterreich": "austria",
    "tirol": "austria",
    "steiermark": "austria",
    "schweiz": "switzerland",
    "schweizland": "switzerland",
    "franzoesischeschweiz": "switzerland",
    "emmenthal": "switzerland",
    "entlebug": "switzerland",
    "appenzell": "switzerland",
    "oberhaslithal": "switzerland",
    "siebethal": "switzerland",
    "niederlande": "netherlands",
    "flamen": "netherlands",
    "flaemisch": "netherlands",
    "brabant": "netherlands",
    "belgien": "belgium",
    "irland": "ireland",
    "udssr": "ussr",
    "russland": "ussr",
    "ungarn": "hungary",
    "tschechoslowakei": "czechoslovakia",
    "rumaenien": "romania",
    "polen": "poland",
    "schweden": "sweden",
    "daenemark": "denmark",
    "norwegen": "norway",
    "finnland": "finland",
    "island": "iceland",
    "italien": "italy",
    "griechenland": "greece",
    "england": "england",
    "mexiko": "mexico",
    "usa": "usa",
    "nordamerika": "usa",
    "suedamerika": "south_america",
    "vordererorient": "middle_east",
    "japan": "japan",
    # Ryan's Mammoth writes the origin of some tunes in O:.
    "scotch": "scotland",
    "scottish": "scotland",
    "irish": "ireland",
}
_TITLE_NATIONS: tuple[tuple[str, str], ...] = (
    ("scotland", r"scotch|scots|scottish|highland"),
    ("ireland", r"irish"),
    ("wales", r"welsh"),
    ("england", r"english"),
)
_COLLECTION_REGION = {"oneills": "ireland", "aird": "scotland", "ryans": "usa"}


@dataclasses.dataclass(frozen=True)
class TuneRef:
    """One ABC tune of a collection, with the labels its header gives."""

    collection: str  # CLI name: essen, oneills, ryans, aird
    source: str  # "<music21 folder>/<file>#<position in file>"
    name: str  # output file stem, unique within the collection
    number: str  # the X: field
    title: str
    tune_type: str
    region: str
    meter: str
    abc: str


def corpus_root() -> Path:
    """Folder of music21's bundled corpus; :class:`DependencyError` without music21."""
    try:
        from music21 import common
    except ImportError as err:  # pragma: no cover - music21 is a declared extra
        raise DependencyError(
            "the folk corpus is built from music21's corpus: pip install 'torchmusic[symbolic]'"
        ) from err
    return Path(common.getCorpusFilePath())


def header(block: str) -> dict[str, list[str]]:
    """All values of each ABC header field up to ``K:`` (comments stripped)."""
    fields: dict[str, list[str]] = {}
    for line in block.splitlines():
        match = _FIELD.match(line.strip())
        if match is None:
            continue
        key, value = match.group(1), match.group(2).split("%", 1)[0].strip()
        fields.setdefault(key, []).append(value)
        if key == "K":
            break
    return fields


def _fold(text: str) -> str:
    """Lower-case ASCII letters only (umlauts folded, mis-decoded bytes dropped)."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z]", "", text.lower())


def _first_match(text: str, table: tuple[tuple[str, str], ...]) -> str | None:
    """Label of the table pattern that occurs earliest in ``text`` (ties: table order)."""
    best: tuple[int, int, str] | None = None
    low = text.lower()
    for rank, (label, pattern) in enumerate(table):
        match = re.search(rf"\b(?:{pattern})\b", low)
        if match and (best is None or (match.start(), rank) < best[:2]):
            best = (match.start(), rank, label)
    return None if best is None else best[2]


def dance_type(text: str) -> str | None:
    """The dance/tune type named in a rhythm field or title, or None.

    Examples
    --------
    >>> dance_type("Acacia -- Reel"), dance_type("slipjig"), dance_type("Jackson's Cravat")
    ('reel', 'slip_jig', None)
    """
    text = re.sub(r"slipjig", "slip jig", text, flags=re.IGNORECASE)
    if re.search(r"\b(?:slip[ -]?jigs?|hop[ -]?jigs?)\b", text.lower()):
        return "slip_jig"  # before "jig" wherever it appears
    return _first_match(text, _DANCE_WORDS)


def essen_genre(rhythm: str) -> str:
    """Song genre of an Essen tune from its German ``R:`` field ("song" if none).

    Examples
    --------
    >>> essen_genre("Kinder - Lied, Reigen, Tanz - Spiel"), essen_genre("Xiaodiao]")
    ('children', 'song')
    """
    low = rhythm.lower()
    best: tuple[int, str] | None = None
    for label, pattern in _ESSEN_GENRES:
        match = re.search(pattern, low)
        if match and (best is None or match.start() < best[0]):
            best = (match.start(), label)
    return "song" if best is None else best[1]


def oneills_section(number: int) -> str | None:
    """Tune type of O'Neill's tune ``number`` from the book's sections."""
    for lo, hi, label in _ONEILLS_SECTIONS:
        if lo <= number <= hi:
            return label
    return None


def essen_region(origin: str) -> str:
    """Region of an Essen ``O:`` field, or "other".

    Examples
    --------
    >>> essen_region("Europa, Mitteleuropa, Deutschland (BRD), Hessen")
    'germany'
    >>> essen_region("China, Shaanxi, Zizhou"), essen_region("Asien, Ostasien, China")
    ('china', 'china')
    """
    for piece in re.split(r"[,;/()]", origin):
        label = _REGIONS.get(_fold(piece))
        if label is not None:
            return label
    return "other"


def normalise_meter(value: str | None) -> str:
    """Canonical metre of an ABC ``M:`` value.

    Examples
    --------
    >>> normalise_meter("C|"), normalise_meter("C"), normalise_meter("none"), normalise_meter("6/8")
    ('2/2', '4/4', 'free', '6/8')
    """
    text = (value or "").strip().rstrip("]").replace(" ", "")
    text = re.sub(r"(?i)^frei", "", text)  # Essen's "FREI4/4": free rhythm notated in 4/4
    if text == "C":
        return "4/4"
    if text == "C|":
        return "2/2"
    match = re.match(r"^(\d+)/(\d+)", text)
    return f"{int(match.group(1))}/{int(match.group(2))}" if match else "free"


def clean_title(title: str) -> str:
    """Readable title: "First of June, The" -> "The First of June", capitals fixed.

    Examples
    --------
    >>> clean_title("ACACIA -- REEL."), clean_title("Night Cap, The")
    ('Acacia -- Reel', 'The Night Cap')
    """
    title = " ".join(title.split()).rstrip(".").strip()
    if title.isupper():
        title = string.capwords(title.lower())
    if title.endswith(", The"):
        title = "The " + title[: -len(", The")]
    return title or "untitled"


def _tune_type(
    collection: str, fields: dict[str, list[str]], title: str, number: int | None
) -> str:
    rhythm = " ".join(fields.get("R", []))
    if collection == "essen":
        return essen_genre(rhythm)
    found = dance_type(rhythm) if rhythm else None
    found = found or dance_type(" ".join(fields.get("T", [title])))
    if found is None and collection == "oneills" and number is not None:
        found = oneills_section(number)
    return found or "other"


def _region(collection: str, fields: dict[str, list[str]], tune_type: str) -> str:
    origin = " ".join(fields.get("O", []))
    if collection == "essen":
        return essen_region(origin)
    if origin and (label := essen_region(origin)) != "other":
        return label
    if collection != "oneills":
        nation = _first_match(" ".join(fields.get("T", [])), _TITLE_NATIONS)
        if nation is not None:
            return nation
        if tune_type in ("strathspey", "fling"):
            return "scotland"
    return _COLLECTION_REGION[collection]


def _number_range(stem: str) -> tuple[int, int] | None:
    """O'Neill's files are named by tune-number range: "0732-0758_bs" -> (732, 758)."""
    match = re.match(r"^(\d+)-(\d+)", stem)
    return (int(match.group(1)), int(match.group(2))) if match else None


def scan_collection(collection: str, *, root: Path | None = None) -> list[TuneRef]:
    """All tunes of one collection with their header labels, in a fixed order.

    O'Neill's is shipped with some tunes transcribed twice (files with
    overlapping number ranges, e.g. ``0732-0758_bs`` and ``0732-0758_mh``): of two
    tunes with the same number inside their files' ranges the first is kept, so
    the same tune cannot land in both train and test.

    Parameters
    ----------
    collection : {"essen", "oneills", "ryans", "aird"}
    root : Path or None
        music21's corpus folder (default: the installed one).

    Returns
    -------
    list of TuneRef
        Ordered by file name, then position in the file.

    Examples
    --------
    >>> tunes = scan_collection("oneills")  # doctest: +SKIP
    >>> tunes[0].title, tunes[0].tune_type, tunes[0].region  # doctest: +SKIP
    ('The Enchanted Valley', 'air', 'ireland')
    """
    if collection not in COLLECTIONS:
        raise ParameterError(
            f"unknown folk collection {collection!r}; expected one of {', '.join(COLLECTIONS)}"
        )
    folder = (root or corpus_root()) / COLLECTIONS[collection]
    if not folder.is_dir():
        raise DependencyError(f"music21's corpus has no {folder.name}/ folder at {folder.parent}")
    tunes: list[TuneRef] = []
    seen_numbers: set[int] = set()
    for path in sorted(folder.glob("*.abc")):
        # Essen files mix encodings (UTF-8, Latin-1, CP437); only titles suffer.
        text = path.read_text(encoding="utf-8", errors="replace")
        span = _number_range(path.stem) if collection == "oneills" else None
        for position, block in enumerate(_TUNE_START.split(text)[1:], start=1):
            fields = header(block)
            x = (fields.get("X") or [""])[0]
            number = int(x) if x.isdigit() else None
            if span is not None and number is not None and span[0] <= number <= span[1]:
                if number in seen_numbers:
                    continue  # a second transcription of the same tune
                seen_numbers.add(number)
            title = clean_title((fields.get("T") or ["untitled"])[0])
            tune_type = _tune_type(collection, fields, title, number)
            tunes.append(
                TuneRef(
                    collection=collection,
                    source=f"{folder.name}/{path.name}#{position}",
                    name=f"{path.stem}_{position:04d}",
                    number=x,
                    title=title,
                    tune_type=tune_type,
                    region=_region(collection, fields, tune_type),
                    meter=normalise_meter((fields.get("M") or [None])[0]),
                    abc=block,
                )
            )
    return tunes


def subset(tunes: list[TuneRef], limit: int | None) -> list[TuneRef]:
    """At most ``limit`` tunes, evenly spaced over the list (all files represented)."""
    if limit is None or limit >= len(tunes):
        return list(tunes)
    if limit < 1:
        raise ParameterError(f"limit={limit!r} must be >= 1")
    step = len(tunes) / limit
    return [tunes[int(i * step)] for i in range(limit)]
