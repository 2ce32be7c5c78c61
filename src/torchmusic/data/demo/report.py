"""The description a demo corpus carries: ``corpus.json`` and ``README.md``."""

from __future__ import annotations

import collections
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from torchmusic.data.demo.instruments import INSTRUMENT_FAMILIES
from torchmusic.data.demo.plan import TEMPO_VARIATION
from torchmusic.data.demo.track import FADE_SECONDS
from torchmusic.data.demo.tunes import TUNE_TYPES

COLLECTION_NOTES = {
    "oneills1850": "Francis O'Neill, The Music of Ireland (Chicago, 1903), ABC transcriptions "
    "by several volunteers (see each tune's Z: field)",
    "ryansMammoth": "Ryan's Mammoth Collection (Boston, 1883), ABC transcriptions "
    "contributed by Ray Davies and others",
    "airdsAirs": "James Aird, A Selection of Scotch, English, Irish and Foreign Airs "
    "(Glasgow, 1778-1803), ABC transcriptions by Jack Campin",
}
SCORE_LICENCE = (
    "Tunes from music21's bundled corpus (music21 is BSD-licensed; its corpus/license.txt: "
    "encodings are distributed with the permission of the encoders and, to the best of the "
    "music21 authors' knowledge, are out of copyright in the US or licensed for use, some "
    "possibly not for commercial use). The printed sources are 18th-19th century and in "
    "the public domain."
)
SOUNDFONT_LICENCES = {
    "TimGM6mb.sf2": "GPL-2: (c) 2004 Tim Brechbill, 2010 David Bolton (Debian package "
    "timgm6mb-soundfont, /usr/share/doc/timgm6mb-soundfont/copyright)",
    "FluidR3_GM.sf2": "MIT: (c) 2000-2002, 2008 Frank Wen, 2008 Toby Smithe (Debian package "
    "fluid-soundfont-gm, /usr/share/doc/fluid-soundfont-gm/copyright)",
}
AUDIO_NOTE = (
    "The audio is synthesised from these scores with the soundfont's samples. With a "
    "GPL-2 soundfont (TimGM6mb) it is unsettled whether rendered audio is a derivative "
    "work: use the corpus for research and demos, and rebuild it with the MIT-licensed "
    "FluidR3_GM.sf2 (soundfont=...) before redistributing audio."
)


def _counts(rows: Sequence[Mapping[str, Any]], column: str) -> dict[str, int]:
    return dict(sorted(collections.Counter(str(row[column]) for row in rows).items()))


def describe(
    rows: Sequence[Mapping[str, Any]],
    *,
    settings: Mapping[str, Any],
    skipped: Sequence[Mapping[str, str]],
    candidates: Mapping[str, Mapping[str, int]],
    soundfont: Path,
    fluidsynth: str,
    music21_version: str,
) -> dict[str, Any]:
    """The ``corpus.json`` content of a corpus (no timestamps: it is reproducible).

    Parameters
    ----------
    rows : sequence of mapping
        Manifest rows.
    settings : mapping
        Build settings; a later build with equal settings reuses the corpus.
    skipped : sequence of mapping
        Tunes that failed to parse (``source``, ``title``, ``tune_type``, ``error``).
    candidates : mapping
        ``{tune_type: {collection: number of usable tunes}}`` found by the scan.
    soundfont : Path
        The soundfont used.
    fluidsynth, music21_version : str
        Tool versions.

    Returns
    -------
    dict
    """
    by_split: dict[str, dict[str, int]] = {}
    for tune_type in settings["tune_types"]:
        of_type = [row for row in rows if row["tune_type"] == tune_type]
        by_split[tune_type] = _counts(of_type, "split")
    return {
        "name": "torchmusic demo corpus",
        "settings": dict(settings),
        "tracks": len(rows),
        "counts": {
            "tune_type": _counts(rows, "tune_type"),
            "instrument_family": _counts(rows, "instrument_family"),
            "instrument": _counts(rows, "instrument"),
            "split": _counts(rows, "split"),
            "tune_type_by_split": by_split,
            "collection": _counts(rows, "collection"),
        },
        "tune_types": {
            name: {
                "meters": list(TUNE_TYPES[name].meters),
                "bars_per_minute": TUNE_TYPES[name].bars_per_minute,
                "beats_per_bar": TUNE_TYPES[name].beats_per_bar,
                "tempo_bpm_beat": TUNE_TYPES[name].beat_unit,
                "tempo_variation": TEMPO_VARIATION,
            }
            for name in settings["tune_types"]
        },
        "instrument_families": {k: list(v) for k, v in INSTRUMENT_FAMILIES.items()},
        "audio": {
            "format": "WAV PCM_16 mono",
            "sample_rate": settings["sample_rate"],
            "clip_seconds": settings["clip_seconds"],
            "content": "the tune from its start, repeats played, looped to the clip length",
            "fade_out_seconds": FADE_SECONDS,
            "normalisation": "peak at -1 dBFS",
        },
        "sources": {
            "music21_version": music21_version,
            "collections": {
                name: {
                    "description": note,
                    "usable_tunes": {t: counts.get(name, 0) for t, counts in candidates.items()},
                }
                for name, note in COLLECTION_NOTES.items()
            },
        },
        "soundfont": {
            "file": soundfont.name,
            "path": str(soundfont),
            "bytes": soundfont.stat().st_size,
            "licence": SOUNDFONT_LICENCES.get(soundfont.name, "unknown: check its licence"),
        },
        "fluidsynth": fluidsynth,
        "skipped_tunes": {"count": len(skipped), "tunes": list(skipped)},
        "licence": {"scores": SCORE_LICENCE, "audio": AUDIO_NOTE},
    }


def _table(counts: Mapping[str, int], header: str) -> list[str]:
    lines = [f"| {header} | tracks |", "|---|---:|"]
    lines += [f"| {name} | {count} |" for name, count in counts.items()]
    return [*lines, ""]


def readme(info: Mapping[str, Any]) -> str:
    """A human-readable ``README.md`` for a corpus from its :func:`describe` output."""
    settings = info["settings"]
    lines = [
        "# torchmusic demo corpus",
        "",
        f"{info['tracks']} synthesised clips of Irish and Scottish dance tunes, labelled by "
        "tune type and by General MIDI instrument family. Built by "
        "`torchmusic.data.demo.build_demo_corpus` "
        f"(seed={settings['seed']}, per_class={settings['per_class']}); rebuilding with the "
        "same settings, soundfont and FluidSynth gives identical files.",
        "",
        "`manifest.csv` lists one clip per row: `path` (relative to this folder), "
        "`tune_type`, `instrument_family`, `instrument`, `program` (0-based GM), `title`, "
        "`collection`, `source` (ABC file#X), `meter`, `tempo_bpm` (felt beats a minute, "
        "see below), `duration_s` and `split` (seeded, stratified by tune type, 70/15/15).",
        "",
        f"Audio: {info['audio']['format']}, {settings['sample_rate']} Hz, "
        f"{settings['clip_seconds']} s each: "
        f"{info['audio']['content']}; {info['audio']['normalisation']}.",
        "",
        "## Tune types",
        "",
        "| type | metres | bars/min | beat | tracks |",
        "|---|---|---:|---|---:|",
    ]
    for name, spec in info["tune_types"].items():
        meters = " ".join(spec["meters"]).replace("|", "\\|")  # "C|" inside a table
        lines.append(
            f"| {name} | {meters} | {spec['bars_per_minute']:g} "
            f"(±{spec['tempo_variation']:.0%}) | {spec['tempo_bpm_beat']} | "
            f"{info['counts']['tune_type'].get(name, 0)} |"
        )
    lines += ["", "## Instrument families", ""]
    lines += _table(info["counts"]["instrument_family"], "family")
    lines += ["## Splits", ""]
    lines += _table(info["counts"]["split"], "split")
    lines += ["## Sources", ""]
    for name, source in info["sources"]["collections"].items():
        lines.append(f"- `{name}`: {source['description']}.")
    lines += [
        "",
        f"Rendered with {info['fluidsynth']} and the soundfont `{info['soundfont']['file']}`. "
        f"{info['skipped_tunes']['count']} tune(s) that music21 could not parse were skipped "
        "(listed in corpus.json).",
        "",
        "## Licences",
        "",
        f"- Scores: {info['licence']['scores']}",
        f"- Soundfont: {info['soundfont']['licence']}.",
        f"- Audio: {info['licence']['audio']}",
        "",
    ]
    return "\n".join(lines)


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and :func:`os.replace`."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.part")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def write_json_atomic(path: Path, data: Mapping[str, Any]) -> None:
    """Write ``data`` as indented JSON, atomically."""
    write_text_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
