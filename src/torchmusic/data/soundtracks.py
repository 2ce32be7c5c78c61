"""Recorded game music from Debian packages: the vocoder's training and test tracks.

Four Debian packages whose main content is recorded music, each read against its
``/usr/share/doc/<package>/copyright`` (and, for Wesnoth, upstream's per-file
``copyrights.csv``, whose MD5 sums match the installed 1.16.9 files), give about
7.6 hours of freely licensed music (:data:`PACKAGES`):

============================  ======  ==============================================
package                       tracks  licence
============================  ======  ==============================================
``wesnoth-1.16-music``        40      GPL-2+ (``return_to_wesnoth``: CC BY-SA 4.0)
``warzone2100-music``         30      GPL-2+ (1999 score); CC BY-SA 3.0+ or GPL-2+
``singularity-music``         16      CC BY-SA 3.0
``hyperrogue-music``          17      CC BY-SA 3.0 (``music/`` only, not ``sounds/``)
============================  ======  ==============================================

Wesnoth's ``silence.ogg`` (10 s of digital silence) is left out. Every licence
allows redistributing a model trained on the tracks with attribution; the
share-alike question for model weights is written out by :func:`write_licences`.

:func:`soundtrack_tracks` finds the installed files, :func:`split_tracks` splits
them by track (tracks derived from one another share a ``group`` and a side),
:func:`write_vocoder_manifest` writes ``path,split,package,licence,seconds`` and
:func:`write_licences` the ``LICENSES.md`` to ship beside trained weights. No audio
is copied: the manifest points at the installed files.
"""

from __future__ import annotations

import csv
import dataclasses
import fnmatch
import hashlib
import json
import math
import os
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from torchmusic.errors import DataError, ParameterError

DEFAULT_ROOT = Path("/usr/share")
MANIFEST_COLUMNS: tuple[str, ...] = ("path", "split", "package", "licence", "seconds")
SPLITS: tuple[str, ...] = ("train", "valid", "test")


@dataclasses.dataclass(frozen=True)
class SoundtrackPackage:
    """One Debian package of recorded music and its default licence.

    Attributes
    ----------
    name : str
        Debian package name (``apt-get install <name>``).
    patterns : tuple of str
        Globs of its audio files, relative to the root (``/usr/share``).
    licence : str
        Licence of its tracks unless :data:`TRACK_RULES` says otherwise.
    holders : str
        Copyright holders of its tracks unless :data:`TRACK_RULES` says otherwise.
    source : str
        Upstream home page.
    exclude : tuple of str
        File names (fnmatch patterns) left out, each for a reason given in a comment.
    note : str
        Where the per-track licences and authors come from, for ``LICENSES.md``.
    """

    name: str
    patterns: tuple[str, ...]
    licence: str
    holders: str
    source: str
    exclude: tuple[str, ...] = ()
    note: str = ""

    @property
    def copyright_file(self) -> Path:
        """Debian's copyright file of the package, on the machine it is installed on."""
        return Path("/usr/share/doc") / self.name / "copyright"

    @property
    def copyright_url(self) -> str:
        """``file://`` URL of :attr:`copyright_file`."""
        return self.copyright_file.as_uri()


PACKAGES: tuple[SoundtrackPackage, ...] = (
    SoundtrackPackage(
        "wesnoth-1.16-music",
        ("games/wesnoth/1.16/data/core/music/*.ogg",),
        "GPL-2+",
        "The Battle for Wesnoth project and its composers",
        "https://www.wesnoth.org/",
        exclude=("silence.ogg",),  # 10 s of digital silence, a game placeholder
        note="Debian's copyright file gives GPL-2+ for the whole package; the per-track "
        "authors and return_to_wesnoth's CC BY-SA 4.0 come from upstream's copyrights.csv, "
        "whose MD5 sums match the files of wesnoth-1.16-music 1:1.16.9-1.",
    ),
    SoundtrackPackage(
        "warzone2100-music",
        ("games/warzone2100/music/*.opus", "games/warzone2100/music/albums/*/*.opus"),
        "CC-BY-SA-3.0+ or GPL-2+",
        "2019-2022 LupusMechanicus",
        "https://wz2100.net/",
        note="The 1999 score (original_soundtrack, menu.opus) falls under Debian's "
        "'Files: *' GPL-2+; the albums' license.txt gives LupusMechanicus' tracks as "
        "CC BY-SA 3.0 or later, or GPL-2+, and track3_enhanced (derived from track 3) GPL-2+.",
    ),
    SoundtrackPackage(
        "singularity-music",
        ("games/singularity/music/*.ogg", "games/singularity/music/*/*.ogg"),
        "CC-BY-SA-3.0",
        "2007-2008, 2012 Max McCracken",
        "https://emhsoft.com/singularity/",
    ),
    SoundtrackPackage(
        "hyperrogue-music",
        ("hyperrogue/music/*.ogg",),  # not sounds/: effects, not music
        "CC-BY-SA-3.0",
        "Shawn Parrotte (http://www.shawnparrotte.com)",
        "https://www.roguetemple.com/z/hyper/",
    ),
)
_BY_NAME = {p.name: p for p in PACKAGES}

_WZ_SEVERN = "1999-2004 Eidos Interactive, 2005-2013 Warzone 2100 Project; music by Martin Severn"
_WESNOTH_AUTHORS = {
    "Aleksi Aubry-Carlson (Aleksi)": "battle elf-land frantic-old main_menu transience underground",
    "Doug Kaufman (dkaufman)": "battle-epic elvish-theme heroes_rite siege_of_laurelmor "
    "the_city_falls weight_of_revenge",
    "Gianmarco Leone (gmlion)": "the_dangerous_symphony the_deep_path",
    "Jeremy Nicoll (jeremy2/eltiare)": "nunc_dimittis vengeful",
    "Joseph G. Toscano (Zhaytee)": "loyalists revelation",
    "Mattias Westlund (West)": "breaking_the_chains journeys_end legends_of_the_north "
    "northern_mountains return_to_wesnoth silvan_sanctuary the_king_is_dead traveling_minstrels",
    "Ryan Reilly (Rain)": "defeat2 knalgan_theme love_theme suspense victory2",
    "Stephen Rozanc (TreizeCouleurs)": "frantic northerners",
    "Timothy Pinkham (TimothyP)": "defeat knolls victory wanderer",
    "Tyler Johnson": "casualties_of_war into_the_shadows sad",
}

#: Per-track exceptions to the package defaults: ``package -> ((pattern, licence,
#: holders, group), ...)``; ``pattern`` is matched (fnmatch) against the path relative
#: to the root, the first match wins, and an empty field keeps the default. ``group``
#: names tracks derived from one another, which :func:`split_tracks` keeps together.
TRACK_RULES: dict[str, tuple[tuple[str, str, str, str], ...]] = {
    # Upstream copyrights.csv: every core track GPL-2+ except return_to_wesnoth
    # (CC BY-SA 4.0; Debian's copyright file says GPL-2+ for the whole package).
    "wesnoth-1.16-music": (
        ("*/return_to_wesnoth.ogg", "CC-BY-SA-4.0", "Mattias Westlund (West)", ""),
        *(
            (f"*/music/{stem}.ogg", "", author, "")
            for author, stems in _WESNOTH_AUTHORS.items()
            for stem in stems.split()
        ),
    ),
    # Debian: "Files: *" GPL-2+ covers the 1999 score (track1-3, menu); the albums'
    # license.txt: LupusMechanicus' tracks CC BY-SA 3.0+ or GPL-2+, and track3_enhanced,
    # derived from Severn's track 3, GPL-2+. The "enhanced" versions are grouped with
    # their originals so the two never sit on both sides of a split.
    "warzone2100-music": (
        ("*/original_soundtrack/track3.opus", "GPL-2+", _WZ_SEVERN, "warzone-track3"),
        ("*/original_soundtrack/*", "GPL-2+", _WZ_SEVERN, ""),
        (
            "*/track3_enhanced.opus",
            "GPL-2+",
            f"{_WZ_SEVERN}; enhanced by LupusMechanicus",
            "warzone-track3",
        ),
        ("*/music/menu.opus", "GPL-2+", _WZ_SEVERN, "warzone-menu"),
        ("*/menu_enhanced.opus", "", "", "warzone-menu"),
    ),
    "hyperrogue-music": (
        ("*/hr-domina-*", "", "Lincoln Domina", ""),
        ("*/hr-savino-*", "", "Will Savino (http://www.willsavino.net)", ""),
    ),
}


@dataclasses.dataclass(frozen=True)
class SoundtrackTrack:
    """One installed music file and the terms it is used under.

    Attributes
    ----------
    path : pathlib.Path
        Absolute path of the file (OGG Vorbis or Opus).
    package : str
        Debian package it comes from.
    title : str
        Track title (from Warzone's ``album.json``, else the file name).
    licence : str
        Licence of this track (e.g. ``"GPL-2+"``, ``"CC-BY-SA-3.0"``).
    attribution : str
        Copyright holders / authors to credit.
    group : str
        Tracks with the same group (a remaster and its original) are split together;
        otherwise the package and file path.
    """

    path: Path
    package: str
    title: str
    licence: str
    attribution: str
    group: str


def _packages(packages: Iterable[str] | None) -> list[SoundtrackPackage]:
    if packages is None:
        return list(PACKAGES)
    if isinstance(packages, str):
        packages = [packages]
    chosen = []
    for name in packages:
        if name not in _BY_NAME:
            raise ParameterError(
                f"unknown soundtrack package {name!r}; expected some of {sorted(_BY_NAME)}"
            )
        chosen.append(_BY_NAME[name])
    return chosen


def _album_titles(folder: Path) -> dict[str, str]:
    """``file name -> title`` from a Warzone ``album.json`` beside the tracks, if any."""
    try:
        album = json.loads((folder / "album.json").read_text(encoding="utf-8"))
        return {t["filename"]: t["title"] for t in album.get("tracks", [])}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def _track(
    path: Path, rel: str, package: SoundtrackPackage, titles: dict[str, str]
) -> SoundtrackTrack:
    licence, holders, group = package.licence, package.holders, ""
    for pattern, rule_licence, rule_holders, rule_group in TRACK_RULES.get(package.name, ()):
        if fnmatch.fnmatchcase(rel, pattern):
            licence = rule_licence or licence
            holders = rule_holders or holders
            group = rule_group
            break
    title = titles.get(path.name) or path.stem.replace("_", " ")
    return SoundtrackTrack(
        path, package.name, title, licence, holders, group or f"{package.name}/{rel}"
    )


def soundtrack_tracks(
    root: str | os.PathLike[str] = DEFAULT_ROOT, packages: Iterable[str] | None = None
) -> list[SoundtrackTrack]:
    """The installed tracks of the soundtrack packages, with licence and attribution.

    Parameters
    ----------
    root : path
        Folder the package globs are relative to (``/usr/share``; a test can pass a
        fake tree laid out the same way).
    packages : iterable of str, optional
        Package names out of :data:`PACKAGES` (default: all). Packages that are not
        installed are skipped, as long as one of them is.

    Returns
    -------
    list of SoundtrackTrack
        Sorted by package (in :data:`PACKAGES` order), then path.

    Raises
    ------
    DataError
        None of the packages is installed; the message gives the ``apt-get`` command.
    ParameterError
        An unknown package name.

    Examples
    --------
    >>> tracks = soundtrack_tracks()  # doctest: +SKIP
    >>> len(tracks), tracks[0].title, tracks[0].licence  # doctest: +SKIP
    (103, 'battle-epic', 'GPL-2+')
    """
    root = Path(root)
    chosen = _packages(packages)
    tracks: list[SoundtrackTrack] = []
    for package in chosen:
        files = sorted(
            {p for pattern in package.patterns for p in root.glob(pattern) if p.is_file()}
        )
        titles: dict[Path, dict[str, str]] = {}
        for path in files:
            if any(fnmatch.fnmatchcase(path.name, x) for x in package.exclude):
                continue
            if path.parent not in titles:
                titles[path.parent] = _album_titles(path.parent)
            rel = path.relative_to(root).as_posix()
            tracks.append(_track(path, rel, package, titles[path.parent]))
    if not tracks:
        names = " ".join(p.name for p in chosen)
        raise DataError(
            f"no soundtrack files under {str(root)!r}: install the Debian packages "
            f"(apt-get install {names}) or pass root= a folder laid out like /usr/share"
        )
    return tracks


# -- splits ------------------------------------------------------------------------------
def _check_fraction(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
        raise ParameterError(f"{name}={value!r} must be a fraction in [0, 1)")
    return float(value)


def _hash_key(seed: int, group: str) -> str:
    # The file name (group), not a random state: a track's side never depends on
    # which other tracks are installed or on the library's random generators.
    return hashlib.sha256(f"{seed}:{group}".encode()).hexdigest()


def track_seconds(
    tracks: Iterable[SoundtrackTrack], seconds: Mapping[str, float] | None = None
) -> dict[str, float]:
    """``str(path) -> duration (s)``, from ``seconds`` where given, else the file header."""
    from torchmusic import audio

    known = {str(k): float(v) for k, v in (seconds or {}).items()}
    return {str(t.path): known.get(str(t.path)) or audio.info(t.path).duration for t in tracks}


def split_tracks(
    tracks: Sequence[SoundtrackTrack],
    *,
    valid: float = 0.1,
    test: float = 0.1,
    seed: int = 0,
    min_test_segments: int = 36,
    segment_seconds: float = 5.0,
    seconds: Mapping[str, float] | None = None,
) -> dict[str, list[SoundtrackTrack]]:
    """Split tracks into train / valid / test by track, deterministically.

    Each ``group`` (a track, or a track and its remaster) goes to one side. Within
    each package the groups are ordered by the SHA-256 of ``"{seed}:{group}"`` and the
    first ``round(test * n)`` go to test, the next ``round(valid * n)`` to valid, so
    every package is in every held-out split once it has enough tracks. Then, while
    the test tracks hold fewer than ``min_test_segments`` whole ``segment_seconds``
    segments, more groups move from train to test (hash order over all packages): the
    benchmark needs at least 30 held-out 5 s segments, and the default asks 36 (180 s).

    Parameters
    ----------
    tracks : sequence of SoundtrackTrack
        From :func:`soundtrack_tracks`.
    valid, test : float in [0, 1)
        Fractions of each package's groups; ``valid + test < 1``.
    seed : int
        Changes the hash order, hence the split.
    min_test_segments : int >= 0
        Least number of whole ``segment_seconds`` segments in the test tracks.
    segment_seconds : float > 0
        Segment length of that count.
    seconds : mapping of str to float, optional
        Known durations by ``str(path)``; others are read from the file headers
        (only when ``min_test_segments > 0``).

    Returns
    -------
    dict
        ``{"train": [...], "valid": [...], "test": [...]}``, each sorted by path.

    Raises
    ------
    DataError
        No tracks, or too little audio for ``min_test_segments``.
    ParameterError
        Bad fractions, seed or counts.

    Examples
    --------
    >>> splits = split_tracks(soundtrack_tracks())  # doctest: +SKIP
    >>> {name: len(t) for name, t in splits.items()}  # doctest: +SKIP
    {'train': 82, 'valid': 10, 'test': 11}
    """
    valid, test = _check_fraction("valid", valid), _check_fraction("test", test)
    if valid + test >= 1:
        raise ParameterError(f"valid={valid} + test={test} must be < 1, to leave training tracks")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ParameterError(f"seed={seed!r} must be an int")
    if (
        isinstance(min_test_segments, bool)
        or not isinstance(min_test_segments, int)
        or min_test_segments < 0
    ):
        raise ParameterError(f"min_test_segments={min_test_segments!r} must be an int >= 0")
    if (
        isinstance(segment_seconds, bool)
        or not isinstance(segment_seconds, int | float)
        or not segment_seconds > 0
    ):
        raise ParameterError(f"segment_seconds={segment_seconds!r} must be a positive number")
    if not tracks:
        raise DataError("no tracks to split")
    groups: dict[str, list[SoundtrackTrack]] = defaultdict(list)
    for track in tracks:
        if not isinstance(track, SoundtrackTrack):
            raise ParameterError(
                f"tracks must be SoundtrackTrack objects, got {type(track).__name__}"
            )
        groups[track.group].append(track)
    by_package: dict[str, list[str]] = defaultdict(list)
    for group, members in groups.items():
        by_package[members[0].package].append(group)
    side: dict[str, str] = {}
    for names in by_package.values():
        names.sort(key=lambda g: _hash_key(seed, g))
        n_test, n_valid = round(test * len(names)), round(valid * len(names))
        for i, group in enumerate(names):
            side[group] = "test" if i < n_test else "valid" if i < n_test + n_valid else "train"
    if min_test_segments:
        durations = track_seconds(tracks, seconds)

        def n_segments(group: str) -> int:
            return sum(math.floor(durations[str(t.path)] / segment_seconds) for t in groups[group])

        have = sum(n_segments(g) for g, s in side.items() if s == "test")
        for group in sorted(groups, key=lambda g: _hash_key(seed, g)):
            if have >= min_test_segments:
                break
            if side[group] == "train":
                side[group], have = "test", have + n_segments(group)
        if have < min_test_segments:
            raise DataError(
                f"the tracks hold {have} whole {segment_seconds} s segments outside the "
                f"validation split; min_test_segments={min_test_segments} asks for more"
            )
    out: dict[str, list[SoundtrackTrack]] = {name: [] for name in SPLITS}
    for group, members in groups.items():
        out[side[group]].extend(members)
    return {name: sorted(items, key=lambda t: str(t.path)) for name, items in out.items()}


# -- files ---------------------------------------------------------------------------------
def _check_splits(tracks_by_split: Mapping[str, Sequence[SoundtrackTrack]]) -> None:
    seen: dict[str, str] = {}
    for split, items in tracks_by_split.items():
        for track in items:
            if not isinstance(track, SoundtrackTrack):
                raise ParameterError(
                    f"split {split!r} holds a {type(track).__name__}, not a SoundtrackTrack"
                )
            for key in (str(track.path), f"group:{track.group}"):
                if seen.setdefault(key, split) != split:
                    raise DataError(f"{key} is in both the {seen[key]!r} and {split!r} splits")


def write_vocoder_manifest(
    out_csv: str | os.PathLike[str],
    tracks_by_split: Mapping[str, Sequence[SoundtrackTrack]],
    *,
    seconds: Mapping[str, float] | None = None,
) -> Path:
    """Write the CSV manifest ``path,split,package,licence,seconds`` (one row per track).

    Parameters
    ----------
    out_csv : path
        CSV file to write (atomically; parent folders are made).
    tracks_by_split : mapping of str to sequence of SoundtrackTrack
        E.g. :func:`split_tracks`' result. A track, or a group, in two splits is an error.
    seconds : mapping of str to float, optional
        Known durations by ``str(path)``; others come from :func:`torchmusic.audio.info`.

    Returns
    -------
    pathlib.Path
        ``out_csv``.

    Examples
    --------
    >>> write_vocoder_manifest("vocoder/manifest.csv", split_tracks(soundtrack_tracks()))  # doctest: +SKIP
    PosixPath('vocoder/manifest.csv')
    """
    _check_splits(tracks_by_split)
    all_tracks = [t for items in tracks_by_split.values() for t in items]
    durations = track_seconds(all_tracks, seconds)
    out = Path(out_csv)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(MANIFEST_COLUMNS))
        writer.writeheader()
        for split, items in tracks_by_split.items():
            for t in items:
                writer.writerow(
                    {"path": str(t.path), "split": split, "package": t.package,
                     "licence": t.licence, "seconds": f"{durations[str(t.path)]:.3f}"}
                )  # fmt: skip
    os.replace(tmp, out)
    return out


LICENCE_URLS = {
    "GPL-2+": "https://www.gnu.org/licenses/old-licenses/gpl-2.0.html",
    "CC-BY-SA-3.0": "https://creativecommons.org/licenses/by-sa/3.0/",
    "CC-BY-SA-4.0": "https://creativecommons.org/licenses/by-sa/4.0/",
    "CC-BY-SA-3.0+ or GPL-2+": "https://creativecommons.org/licenses/by-sa/3.0/ "
    "(or https://www.gnu.org/licenses/old-licenses/gpl-2.0.html)",
}

_REDISTRIBUTION = """\
## Redistributing models trained on these tracks

This is not legal advice. Every licence above allows copying, modifying and
redistributing the recordings, commercially too, so training on them is allowed.
Whether trained weights are a *derivative* ("Adaptation", "work based on the
Program") of the training audio is legally unsettled. Whoever publishes weights
trained on these tracks should therefore:

1. **Attribute**: ship this file with the weights. It names every track, its
   authors / copyright holders, its licence and a link to the licence text.
   State the change made: *the recordings were decoded, resampled, cut into
   segments and used to fit the parameters of a neural network; the weights are
   not meant to contain or reproduce any recording.*
2. **Share alike**: if the weights are a derivative, the share-alike terms of the
   GPL and of CC BY-SA apply to them. GPL-2+ allows GPL-3.0. A CC BY-SA 3.0
   Adaptation may be released under a later CC BY-SA version (3.0 section 4(b)),
   and CC declares CC BY-SA 4.0 one-way compatible with GPL-3.0. GPL-2 and CC BY-SA
   3.0 are *not* compatible with each other, and the two-step path from CC BY-SA
   3.0 to GPL-3.0 is not explicitly endorsed by CC. So:
   - safest: train on one licence family and release the weights under it: the
     GPL family (`GPL-2+` and the dual-licensed `CC-BY-SA-3.0+ or GPL-2+` tracks;
     weights under GPL-2.0-or-later) or the CC family (`CC-BY-SA-3.0`,
     `CC-BY-SA-4.0` and the dual-licensed tracks; weights under CC BY-SA 4.0).
     Filter the manifest's `licence` column.
   - a model trained on all tracks: release the weights under GPL-3.0 with this
     attribution, and get legal advice first.
3. **Do not imply endorsement** by the authors or the game projects (CC BY-SA 3.0
   section 4(c), 4.0 section 3(a)(1)).

The licence texts are in each package's Debian copyright file (and the GPL in
`/usr/share/common-licenses/`).
"""


def write_licences(out_md: str | os.PathLike[str], tracks: Iterable[SoundtrackTrack]) -> Path:
    """Write the ``LICENSES.md`` that must accompany models trained on ``tracks``.

    It lists each package (licence, copyright holders, upstream and Debian copyright
    file), every track used with its licence and authors, and the notice for
    redistributing derived weights (attribution, statement of changes, share-alike).

    Parameters
    ----------
    out_md : path
        Markdown file to write (parent folders are made).
    tracks : iterable of SoundtrackTrack
        The tracks a model was, or will be, trained or evaluated on.

    Returns
    -------
    pathlib.Path
        ``out_md``.

    Examples
    --------
    >>> write_licences("vocoder/LICENSES.md", soundtrack_tracks())  # doctest: +SKIP
    PosixPath('vocoder/LICENSES.md')
    """
    tracks = sorted(tracks, key=lambda t: (t.package, str(t.path)))
    if not tracks:
        raise DataError("no tracks to list in the licences file")
    by_package: dict[str, list[SoundtrackTrack]] = defaultdict(list)
    for t in tracks:
        by_package[t.package].append(t)
    lines = [
        "# Licences of the training and evaluation audio",
        "",
        f"{len(tracks)} recorded music tracks from {len(by_package)} Debian packages. "
        "No audio is redistributed with this file; the tracks are read where the "
        "packages install them.",
        "",
    ]
    for name, items in by_package.items():
        package = _BY_NAME.get(name)
        licences = sorted({t.licence for t in items})
        lines += [f"## {name}", ""]
        if package is not None:
            lines += [
                f"- Install: `apt-get install {name}`",
                f"- Upstream: {package.source}",
                f"- Debian copyright file: {package.copyright_url}",
                *([f"- Note: {package.note}"] if package.note else []),
            ]
        holders = "; ".join(sorted({t.attribution for t in items}))
        lines += [
            f"- Copyright: {holders}",
            f"- Licences: {', '.join(f'{x} ({LICENCE_URLS.get(x, x)})' for x in licences)}",
            "",
        ]
        lines += ["| file | title | licence | authors / copyright |", "| --- | --- | --- | --- |"]
        lines += [f"| `{t.path.name}` | {t.title} | {t.licence} | {t.attribution} |" for t in items]
        lines.append("")
    lines.append(_REDISTRIBUTION)
    out = Path(out_md)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines), encoding="utf-8")
    return out
