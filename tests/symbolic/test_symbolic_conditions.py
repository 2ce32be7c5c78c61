"""Condition tokens after the tokenizer vocabulary."""

from __future__ import annotations

import json

import pytest

from torchmusic.errors import DataError, ParameterError
from torchmusic.symbolic import ANY, ConditionVocab


@pytest.fixture
def vocab():
    return ConditionVocab({"tune_type": ["jig", "reel"], "key": ["D", "G", "Ador"]}, offset=330)


def test_ids_follow_the_tokenizer_one_per_field_with_any_first(vocab):
    assert vocab.size == 3 + 4
    assert vocab.encode({"tune_type": "reel", "key": "Ador"}) == [332, 336]
    assert vocab.encode({"key": "D"}) == [330, 334]  # tune_type left out -> "*"
    assert vocab.encode() == [330, 333]
    assert vocab.encode({"tune_type": ANY}) == [330, 333]
    assert all(vocab.is_condition(i) for i in range(330, 337))
    assert not vocab.is_condition(329) and not vocab.is_condition(337)
    assert vocab.decode([5, 331, 335, 900]) == {"tune_type": "jig", "key": "G"}


def test_unknown_field_or_value_lists_the_valid_ones(vocab):
    with pytest.raises(ParameterError, match="unknown tune_type 'polka'; valid values: jig, reel"):
        vocab.encode({"tune_type": "polka"})
    with pytest.raises(
        ParameterError, match="unknown condition mode; this model is conditioned on tune_type, key"
    ):
        vocab.encode({"mode": "minor"})
    # Not strict (training rows with rare values): unknown values become "*".
    assert vocab.encode({"tune_type": "polka"}, strict=False) == [330, 333]


def test_dict_round_trip_through_json(vocab):
    again = ConditionVocab.from_dict(json.loads(json.dumps(vocab.to_dict())))
    assert again == vocab
    assert again.encode({"tune_type": "jig"}) == vocab.encode({"tune_type": "jig"})
    with pytest.raises(DataError, match="not a condition vocabulary"):
        ConditionVocab.from_dict({"offset": 3})
    with pytest.raises(DataError, match="malformed"):
        ConditionVocab.from_dict({"fields": {"k": []}, "offset": 3})


def test_from_metadata_sorts_values_and_drops_rare_ones():
    rows = [{"tune_type": t, "key": "D"} for t in ("reel", "jig", "reel", "hornpipe", "jig")]
    vocab = ConditionVocab.from_metadata(rows, ["tune_type", "key"], 100, min_count=2)
    assert vocab.fields == {"tune_type": ["jig", "reel"], "key": ["D"]}
    with pytest.raises(DataError, match="region"):
        ConditionVocab.from_metadata(rows, ["region"], 100)


def test_constructor_validation():
    with pytest.raises(ParameterError, match="offset"):
        ConditionVocab({"k": ["a"]}, offset=-1)
    with pytest.raises(ParameterError, match="twice"):
        ConditionVocab({"k": ["a", "a"]}, offset=0)
    with pytest.raises(ParameterError, match="non-empty"):
        ConditionVocab({}, offset=0)
