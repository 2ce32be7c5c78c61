"""MIDI tokenizers (miditok) with music defaults, their JSON form, encode/decode.

Every piece is encoded as ONE token stream: the pitched tracks are merged into a
single track first (:func:`~torchmusic.symbolic.midi.merge_tracks`), so a melody,
a chorale and a piano piece all look alike to a language model, and the
vocabulary has no program tokens. Drum tracks are dropped.

Defaults (:data:`DEFAULT_PARAMS`, REMI): pitches 21..108 (the 88 piano keys);
12 positions per beat for durations up to 4 beats (16th notes and 8th/16th-note
triplets are exact; 32nd notes are rounded), 4 per beat from 4 to 12 beats
(miditok's ``beat_res``); no velocity tokens (a note is Position, Pitch, Duration:
a quarter fewer tokens, and folk/chorale data carry no dynamics; decoded notes get
velocity 100); time-signature tokens so that 6/8, 9/8 and 2/2 bars come out the
right length; no tempo, chord or rest tokens; special tokens PAD, BOS, EOS.
"""

from __future__ import annotations

import inspect
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import miditok
import symusic

from torchmusic.errors import DataError, ParameterError
from torchmusic.symbolic.midi import merge_tracks

TOKENIZERS: tuple[str, ...] = ("REMI", "TSD", "MIDILike", "Structured")

DEFAULT_PARAMS: dict[str, Any] = {
    "pitch_range": (21, 108),  # inclusive in miditok: the 88 piano keys
    "beat_res": {(0, 4): 12, (4, 12): 4},
    "num_velocities": 16,
    "use_velocities": False,
    "special_tokens": ["PAD", "BOS", "EOS"],
    "use_chords": False,
    "use_rests": False,
    "use_tempos": False,
    "use_time_signatures": True,
    # miditok's default lacks 9/8 (slip jigs). No x/2 metres: miditok's grid is per
    # beat, so 2/2 would get half the resolution of 4/4; encode() writes 2/2 as 4/4
    # and 3/2 as 6/4 instead (same bar length).
    "time_signature_range": {4: [1, 2, 3, 4, 5, 6, 7, 8], 8: [3, 5, 6, 7, 9, 12]},
    "use_programs": False,
    "use_pitchdrum_tokens": False,  # drum tracks are dropped before encoding
}

_CONFIG_PARAMS = frozenset(inspect.signature(miditok.TokenizerConfig.__init__).parameters) - {
    "self",
    "kwargs",
}


def build_tokenizer(name: str = "REMI", **params: Any) -> miditok.MusicTokenizer:
    """A miditok tokenizer with :data:`DEFAULT_PARAMS`, overridden by ``params``.

    Parameters
    ----------
    name : {"REMI", "TSD", "MIDILike", "Structured"}
        Tokenization scheme (miditok class name).
    **params
        Any ``miditok.TokenizerConfig`` argument, e.g. ``use_velocities=True``.

    Returns
    -------
    miditok.MusicTokenizer

    Raises
    ------
    ParameterError
        For an unknown name or parameter (the message lists the valid ones).

    Examples
    --------
    >>> tok = build_tokenizer()
    >>> type(tok).__name__, tok["BOS_None"]
    ('REMI', 1)
    """
    if name not in TOKENIZERS:
        raise ParameterError(f"unknown tokenizer {name!r}; expected one of {', '.join(TOKENIZERS)}")
    unknown = sorted(set(params) - _CONFIG_PARAMS)
    if unknown:
        raise ParameterError(
            f"unknown tokenizer parameter(s) {', '.join(unknown)}; valid ones are "
            f"{', '.join(sorted(_CONFIG_PARAMS))}"
        )
    merged = {**DEFAULT_PARAMS, **params}
    if isinstance(merged.get("time_signature_range"), dict):
        # miditok numbers time-signature tokens in the dict's order, and model files
        # store the description as JSON with sorted (string) keys: build in that order
        # so a tokenizer rebuilt from a model file has the very same ids.
        tsr = merged["time_signature_range"]
        merged["time_signature_range"] = {k: tsr[k] for k in sorted(tsr, key=str)}
    if name == "Structured":
        # Structured has no time-signature tokens; miditok would warn and drop them.
        merged["use_time_signatures"] = False
    try:
        config = miditok.TokenizerConfig(**merged)
        return getattr(miditok, name)(tokenizer_config=config)
    except (TypeError, ValueError, AssertionError) as err:
        raise ParameterError(f"invalid {name} tokenizer parameters {params!r}: {err}") from err


def tokenizer_to_dict(tok: miditok.MusicTokenizer) -> dict[str, Any]:
    """JSON-able description of a tokenizer (miditok's own ``to_dict`` form).

    Embed it in a model file so that generation decodes with exactly the tokenizer
    the model was trained with.

    Examples
    --------
    >>> d = tokenizer_to_dict(build_tokenizer())
    >>> d["tokenization"], json.loads(json.dumps(d)) == d
    ('REMI', True)
    """
    if not isinstance(tok, miditok.MusicTokenizer):
        raise ParameterError(f"expected a miditok tokenizer, got {type(tok).__name__}")
    # Round-trip through JSON: to_dict() can hold tuples, which JSON turns into lists.
    return json.loads(json.dumps(tok.to_dict()))


def tokenizer_from_dict(d: dict[str, Any]) -> miditok.MusicTokenizer:
    """Rebuild a tokenizer from :func:`tokenizer_to_dict`'s output.

    miditok's own JSON loader does the work (through a temporary file: it only
    reads files), so every miditok version's format is understood.

    Raises
    ------
    DataError
        If ``d`` is not a tokenizer description.

    Examples
    --------
    >>> tok = build_tokenizer("TSD")
    >>> tokenizer_from_dict(tokenizer_to_dict(tok)).vocab == tok.vocab
    True
    """
    if not isinstance(d, dict) or "tokenization" not in d or "config" not in d:
        raise DataError(
            "not a tokenizer description: expected a dict with 'tokenization' and "
            f"'config' keys (from tokenizer_to_dict), got {str(d)[:80]!r}"
        )
    name = d["tokenization"]
    cls = getattr(miditok, str(name), None)
    if not (isinstance(cls, type) and issubclass(cls, miditok.MusicTokenizer)):
        raise DataError(f"unknown miditok tokenization {name!r} in tokenizer description")
    with tempfile.TemporaryDirectory(prefix="torchmusic-tok-") as tmp:
        path = Path(tmp) / "tokenizer.json"
        path.write_text(json.dumps(d))
        try:
            return cls(params=path)
        except Exception as err:
            raise DataError(f"cannot rebuild the {name} tokenizer: {err}") from err


def encode(
    score: symusic.Score, tok: miditok.MusicTokenizer, *, source: str | None = None
) -> list[int]:
    """Token ids of a score: all pitched tracks merged into one stream.

    No BOS/EOS are added (:class:`~torchmusic.symbolic.chunks.TokenChunks` adds them).

    Parameters
    ----------
    score : symusic.Score
    tok : miditok.MusicTokenizer
        With ``use_programs=False`` (the default of :func:`build_tokenizer`).
    source : str or None
        File name for error messages.

    Returns
    -------
    list of int

    Raises
    ------
    DataError
        If the score has no pitched notes, or none inside the tokenizer's pitch range.

    Examples
    --------
    >>> from torchmusic.symbolic.midi import notes_to_score
    >>> tok = build_tokenizer()
    >>> ids = encode(notes_to_score([0.0, 1.0], [1.0, 1.0], [60, 64]), tok)
    >>> [tok[i] for i in ids[:4]]
    ['Bar_None', 'TimeSig_4/4', 'Position_0', 'Pitch_60']
    """
    merged = _fit_time_signatures(merge_tracks(score, source=source), tok)
    try:
        seq = tok.encode(merged)
    except Exception as err:
        raise DataError(f"{source or 'the score'} cannot be tokenized: {err}") from err
    if isinstance(seq, list):
        seq = seq[0] if seq else None
    ids = [] if seq is None else list(seq.ids)
    # seq.tokens are the base tokens even when a trained (BPE) tokenizer merged ids.
    if seq is None or not any(str(t).startswith(("Pitch", "NoteOn")) for t in seq.tokens):
        lo, hi = tok.config.pitch_range
        raise DataError(
            f"{source or 'the score'} has no notes in the tokenizer's pitch range {lo}..{hi}"
        )
    return ids


def _fit_time_signatures(score: symusic.Score, tok: miditok.MusicTokenizer) -> symusic.Score:
    """Write x/2 and x/1 metres the tokenizer lacks as x/4 (2/2 -> 4/4): same bars."""
    if not tok.config.use_time_signatures:
        return score
    supported = set(tok.time_signatures)
    for ts in score.time_signatures:
        num, den = int(ts.numerator), int(ts.denominator)
        if (num, den) not in supported and den in (1, 2) and (num * 4 // den, 4) in supported:
            ts.numerator, ts.denominator = num * 4 // den, 4
    return score


def decode(ids: Sequence[int], tok: miditok.MusicTokenizer) -> symusic.Score:
    """A score from token ids (the inverse of :func:`encode`, up to quantisation).

    Special tokens (PAD/BOS/EOS/...) and ids beyond the tokenizer's vocabulary
    (condition tokens, see :class:`~torchmusic.symbolic.conditions.ConditionVocab`)
    are dropped first, so a model's raw output can be passed as is.

    Returns
    -------
    symusic.Score
        Tick-based at the tokenizer's resolution, one track (program 0).

    Raises
    ------
    DataError
        If miditok cannot decode the sequence.

    Examples
    --------
    >>> from torchmusic.symbolic.midi import notes_to_score
    >>> tok = build_tokenizer()
    >>> decode(encode(notes_to_score([0.0], [1.0], [60]), tok), tok).note_num()
    1
    """
    special = set(tok.special_tokens_ids)
    size = len(tok)
    kept = [int(i) for i in ids if 0 <= int(i) < size and int(i) not in special]
    try:
        if tok.one_token_stream:
            return tok.decode(kept)
        return tok.decode([kept])
    except Exception as err:
        raise DataError(f"cannot decode {len(kept)} tokens: {err}") from err
