"""The demo corpus: synthesised Irish and Scottish dance tunes with two labels.

Tunes of five types (reel, jig, hornpipe, strathspey, slip jig) from music21's
bundled ABC collections are played on seeded General MIDI instruments and
rendered offline with FluidSynth into a balanced, deterministic corpus: labels
``tune_type`` and ``instrument_family``, with a stratified train/valid/test split.

Examples
--------
>>> from torchmusic.data.demo import build_demo_corpus
>>> manifest = build_demo_corpus("demo_out")  # doctest: +SKIP
"""

from torchmusic.audio.fluidsynth import find_fluidsynth, find_soundfont
from torchmusic.data.demo.build import MANIFEST_COLUMNS, build_demo_corpus
from torchmusic.data.demo.instruments import GM_PROGRAM_NAMES, INSTRUMENT_FAMILIES, program_family
from torchmusic.data.demo.tunes import DEFAULT_TUNE_TYPES, TUNE_TYPES

__all__ = [
    "DEFAULT_TUNE_TYPES",
    "GM_PROGRAM_NAMES",
    "INSTRUMENT_FAMILIES",
    "MANIFEST_COLUMNS",
    "TUNE_TYPES",
    "build_demo_corpus",
    "find_fluidsynth",
    "find_soundfont",
    "program_family",
]
