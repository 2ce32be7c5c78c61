"""miditok tokenizers: defaults, JSON form, exact round trips (incl. real music21 tunes)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from torchmusic.errors import DataError, ParameterError
from torchmusic.symbolic import (
    TOKENIZERS,
    build_tokenizer,
    decode,
    encode,
    pitched_notes,
    read_midi,
    tokenizer_from_dict,
    tokenizer_to_dict,
    write_midi,
)
from torchmusic.symbolic.abc_score import abc_to_score
from torchmusic.symbolic.folk_meta import scan_collection


def _quarters(score, grid=None):
    """(onset, pitch, duration) in quarter notes, onsets relative to the first note."""
    notes = pitched_notes(score)
    tpq = score.ticks_per_quarter
    onset, dur = notes["time"] / tpq, notes["duration"] / tpq
    if grid is not None:
        onset = np.round(onset * grid) / grid
        dur = np.maximum(np.round(dur * grid) / grid, 1 / grid)
    onset = onset - onset.min()
    return sorted(
        zip(onset.round(6).tolist(), notes["pitch"].tolist(), dur.round(6).tolist(), strict=True)
    )


def test_build_tokenizer_rejects_unknown_names_and_parameters():
    with pytest.raises(ParameterError, match="REMI, TSD, MIDILike, Structured"):
        build_tokenizer("Octuple")
    with pytest.raises(ParameterError, match="use_velocitys"):
        build_tokenizer(use_velocitys=True)


def test_default_vocabulary_is_88_keys_without_velocity_or_drum_tokens(tok):
    kinds = {t.split("_")[0] for t in tok.vocab}
    pitches = sorted(int(t.split("_")[1]) for t in tok.vocab if t.startswith("Pitch_"))
    assert pitches == list(range(21, 109))
    assert "Velocity" not in kinds and "PitchDrum" not in kinds and "Program" not in kinds
    assert {"PAD", "BOS", "EOS", "Bar", "Position", "Duration", "TimeSig"} <= kinds
    assert tok.pad_token_id == 0


@pytest.mark.parametrize("name", TOKENIZERS)
def test_tokenizer_dict_is_json_and_rebuilds_the_same_tokenizer(name, melody):
    tok = build_tokenizer(name)
    d = tokenizer_to_dict(tok)
    again = tokenizer_from_dict(json.loads(json.dumps(d)))
    assert type(again).__name__ == name
    assert again.vocab == tok.vocab
    score = melody()
    assert encode(score, again) == encode(score, tok)


def test_tokenizer_from_dict_rejects_other_dicts():
    with pytest.raises(DataError, match="tokenizer description"):
        tokenizer_from_dict({"architecture": "transformer"})
    with pytest.raises(DataError, match="unknown miditok tokenization"):
        tokenizer_from_dict({"tokenization": "NoSuchTokenizer", "config": {}})


@pytest.mark.parametrize("name", TOKENIZERS)
def test_round_trip_exact_on_16ths_and_triplets(name, melody, tok):
    tok = build_tokenizer(name)
    onsets = [0, 1 / 3, 2 / 3, 1.0, 1.25, 1.5, 1.75, 2.0, 3.0]
    durs = [1 / 3] * 3 + [0.25] * 4 + [1.0, 2.5]
    pitches = [60, 62, 64, 65, 67, 69, 71, 72, 48]
    from torchmusic.symbolic import notes_to_score

    score = notes_to_score(onsets, durs, pitches, time_signature=(4, 4))
    assert _quarters(decode(encode(score, tok), tok)) == _quarters(score)


def test_two_two_reels_keep_the_fine_grid_and_the_bar_length(tok):
    from torchmusic.symbolic import notes_to_score

    # A reel bar in C| with a triplet: 2/2 is tokenised as 4/4 (same bar length),
    # so the triplet survives where miditok's per-beat grid for x/2 would round it.
    score = notes_to_score(
        [0, 1 / 3, 2 / 3, 1, 2, 4], [1 / 3] * 3 + [1, 2, 1], [67] * 6, time_signature=(2, 2)
    )
    ids = encode(score, tok)
    tokens = [tok[i] for i in ids]
    assert tokens.count("Bar_None") == 2 and "TimeSig_4/4" in tokens
    assert _quarters(decode(ids, tok)) == _quarters(score)
    assert score.time_signatures[0].denominator == 2  # the caller's score is unchanged


def test_encode_errors_name_the_problem(tok, drums_only):
    with pytest.raises(DataError, match="only drum tracks"):
        encode(drums_only(), tok, source="kit.mid")
    from torchmusic.symbolic import notes_to_score

    with pytest.raises(
        DataError, match=r"kit\.mid has no notes in the tokenizer's pitch range 21\.\.108"
    ):
        encode(notes_to_score([0.0], [1.0], [10]), tok, source="kit.mid")


def test_decode_ignores_special_and_condition_ids(tok, melody):
    ids = encode(melody(), tok)
    noisy = [tok["BOS_None"], len(tok) + 3, *ids, tok["EOS_None"], tok.pad_token_id, len(tok)]
    assert _quarters(decode(noisy, tok)) == _quarters(decode(ids, tok))


# Real tunes of music21's corpus, none with repeat marks (music21's MIDI writer
# expands repeats; the folk corpus keeps tunes as written): two Essen songs, an
# O'Neill's reel in C| with triplets, an O'Neill's jig in 6/8.
REAL_TUNES = [
    ("essen", "essenFolksong/erk10.abc#125"),
    ("essen", "essenFolksong/ballad50.abc#127"),
    ("oneills", "oneills1850/1176-1275.abc#59"),
    ("oneills", "oneills1850/0401-0486.abc#61"),
]


@pytest.mark.parametrize(("collection", "source"), REAL_TUNES)
def test_music21_tune_comes_back_with_the_same_notes(collection, source, tok, tmp_path):
    from music21 import converter

    tune = next(t for t in scan_collection(collection) if t.source == source)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exported = converter.parseData(tune.abc, format="abc").write(
            "midi", fp=tmp_path / "m21.mid"
        )
    reference = read_midi(exported)  # music21's own MIDI export of the tune
    den = reference.time_signatures[0].denominator if len(reference.time_signatures) else 4
    grid = 12 * max(den, 4) // 4  # the tokenizer's positions per quarter note in this metre
    want = _quarters(reference, grid)
    assert len(want) >= 20

    # 1. The exported MIDI through the tokenizer and back.
    assert _quarters(decode(encode(reference, tok), tok)) == want
    # 2. The folk corpus's own MIDI file of the tune: the same notes, and the same
    #    again after the tokenizer.
    ours = read_midi(
        write_midi(abc_to_score(tune.abc, meter=tune.meter).score, tmp_path / "ours.mid")
    )
    assert _quarters(ours, grid) == want
    assert _quarters(decode(encode(ours, tok), tok)) == want


def test_ids_survive_a_model_file_round_trip_whatever_the_metre_order():
    # Model files store the tokenizer as JSON with sorted keys; miditok numbers
    # time-signature tokens in dict order, so the order must not matter.
    import json

    from torchmusic.symbolic import build_tokenizer, tokenizer_from_dict, tokenizer_to_dict

    for tsr in ({8: [3, 6, 9], 4: [2, 3, 4]}, {4: [2, 3, 4], 8: [3, 6, 9]}):
        tok = build_tokenizer(time_signature_range=tsr)
        stored = json.loads(json.dumps(tokenizer_to_dict(tok), sort_keys=True))
        assert tokenizer_from_dict(stored).vocab == tok.vocab
