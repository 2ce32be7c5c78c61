"""Symbolic music data: MIDI, tokens, piano rolls, corpora and training windows.

Names are loaded lazily (``from torchmusic.symbolic import read_midi`` imports
symusic only; miditok, torch and music21 load with the parts that need them).

Examples
--------
>>> from torchmusic.symbolic import build_tokenizer, encode, read_midi
>>> ids = encode(read_midi("tune.mid"), build_tokenizer())  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    # midi.py
    "read_midi": "midi",
    "write_midi": "midi",
    "pitched_notes": "midi",
    "merge_tracks": "midi",
    "notes_to_score": "midi",
    # tokenize.py
    "TOKENIZERS": "tokenize",
    "DEFAULT_PARAMS": "tokenize",
    "build_tokenizer": "tokenize",
    "tokenizer_to_dict": "tokenize",
    "tokenizer_from_dict": "tokenize",
    "encode": "tokenize",
    "decode": "tokenize",
    # conditions.py
    "ANY": "conditions",
    "ConditionVocab": "conditions",
    # pianoroll.py, render.py
    "score_to_pianoroll": "pianoroll",
    "pianoroll_to_score": "pianoroll",
    "plot_pianoroll": "pianoroll",
    "render_wav": "render",
    # augment.py
    "transpose_score": "augment",
    "transpose_tokens": "augment",
    "transpose_key": "augment",
    "key_name": "augment",
    "PitchShifter": "augment",
    # jsb.py
    "load_jsb": "jsb",
    # folk.py
    "build_folk_corpus": "folk",
    "load_folk_metadata": "folk",
    "FolkReport": "folk",
    "METADATA_COLUMNS": "folk",
    # corpus.py, tokenized.py, chunks.py
    "MidiCorpus": "corpus",
    "hash_split": "corpus",
    "TokenizedCorpus": "tokenized",
    "tokenize_corpus": "tokenized",
    "TokenChunks": "chunks",
    "IGNORE_INDEX": "chunks",
    # generate.py (imports torch and the generator networks when first used)
    "generate_pieces": "generate",
    "interpolate_pieces": "generate",
    "EmptyPieceError": "generate",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'torchmusic.symbolic' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"torchmusic.symbolic.{module}"), name)
    globals()[name] = value  # cache: later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
