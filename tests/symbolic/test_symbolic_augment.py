"""Transposition of scores, token ids and key names."""

from __future__ import annotations

import pytest

from torchmusic.errors import ParameterError
from torchmusic.symbolic import (
    build_tokenizer,
    decode,
    encode,
    pitched_notes,
    transpose_key,
    transpose_score,
    transpose_tokens,
)
from torchmusic.symbolic.augment import PitchShifter, key_name, parse_key


def test_transpose_score_moves_pitches_and_key_but_not_drums(melody, drums_only):
    score = melody((60, 64, 67), key_signature=(2, 0))  # D major: 2 sharps
    score.tracks.append(drums_only().tracks[0])
    up = transpose_score(score, 3)
    assert pitched_notes(up)["pitch"].tolist() == [63, 67, 70]
    assert up.tracks[1].notes[0].pitch == 36  # the kick drum stays a kick drum
    assert up.key_signatures[0].key == -1  # F major: 1 flat
    assert transpose_score(score, -2).key_signatures[0].key == 0  # C major
    assert pitched_notes(score)["pitch"].tolist() == [60, 64, 67]  # input untouched
    with pytest.raises(ParameterError, match=r"outside MIDI 0\.\.127"):
        transpose_score(score, 70)


@pytest.mark.parametrize("name", ["REMI", "MIDILike"])
def test_transposed_tokens_decode_to_the_transposed_score(name, melody):
    tok = build_tokenizer(name)
    score = melody((60, 62, 64, 72, 48))
    ids = encode(score, tok)
    up = transpose_tokens(ids, 5, tok)
    assert len(up) == len(ids)
    changed = [(tok[a], tok[b]) for a, b in zip(ids, up, strict=True) if a != b]
    assert changed and all(a.split("_")[0] == b.split("_")[0] for a, b in changed)
    want = pitched_notes(transpose_score(score, 5))["pitch"].tolist()
    assert pitched_notes(decode(up, tok))["pitch"].tolist() == want


def test_transpose_tokens_out_of_range_gives_none_and_keeps_other_ids(tok):
    ids = [tok["Bar_None"], tok["Pitch_100"], len(tok) + 2]  # last: a condition token
    assert transpose_tokens(ids, 8, tok) == [tok["Bar_None"], tok["Pitch_108"], len(tok) + 2]
    assert transpose_tokens(ids, 9, tok) is None
    assert transpose_tokens([tok["Pitch_21"]], -1, tok) is None
    assert transpose_tokens(ids, 0, tok) == ids


def test_pitch_shifter_refuses_trained_tokenizers(tok, monkeypatch):
    monkeypatch.setattr(type(tok), "is_trained", property(lambda self: True))
    with pytest.raises(ParameterError, match="BPE"):
        PitchShifter(tok)


def test_key_names_round_trip_and_transpose():
    assert [key_name(pc) for pc in range(12)] == [
        "C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B",
    ]  # fmt: skip
    for name in ("D", "F#m", "Ador", "Bbmix", "Ebm", "Clyd"):
        assert key_name(*parse_key(name)) == name
    assert transpose_key("D", 2) == "E"
    assert transpose_key("Em", 1) == "Fm"
    assert transpose_key("Gm", -1) == "F#m"
    assert transpose_key("Emix", 12) == "Emix"
    with pytest.raises(ParameterError, match="key name"):
        parse_key("H")
