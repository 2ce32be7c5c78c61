"""JSB Chorales JSON -> piano rolls."""

from __future__ import annotations

import json

import numpy as np
import pytest

from torchmusic.errors import DataError
from torchmusic.symbolic import load_jsb


def _write(tmp_path, data, name="jsb.json"):
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def test_tiny_file_to_rolls(tmp_path):
    data = {"train": [[[60, 64, 67], [], [21, 108]]], "valid": [[[62]]], "test": [[[43], [43]]]}
    rolls = load_jsb(_write(tmp_path, data))
    assert [len(rolls[s]) for s in ("train", "valid", "test")] == [1, 1, 1]
    piece = rolls["train"][0]
    assert piece.shape == (3, 88) and piece.dtype == bool
    assert np.flatnonzero(piece[0]).tolist() == [39, 43, 46]
    assert not piece[1].any()  # a rest frame stays
    assert np.flatnonzero(piece[2]).tolist() == [0, 87]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"train": [], "valid": []}, "expected an object with keys"),
        (
            {"train": [[[60]]], "valid": [[[20]]], "test": []},
            r"valid\[0\] frame 0 has pitch\(es\) outside 21\.\.108",
        ),
        ({"train": [[60, 64]], "valid": [], "test": []}, r"train\[0\] frame 0 must be a list"),
        ({"train": [[]], "valid": [], "test": []}, r"train\[0\] must be a non-empty list"),
        ({"train": {}, "valid": [], "test": []}, "must be a list of pieces"),
    ],
)
def test_malformed_files_say_where(tmp_path, data, message):
    with pytest.raises(DataError, match=message):
        load_jsb(_write(tmp_path, data))


def test_not_json_or_missing(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(DataError, match="not valid JSON"):
        load_jsb(bad)
    with pytest.raises(DataError, match="no such JSB"):
        load_jsb(tmp_path / "none.json")


def test_real_file_standard_split(shared_data):
    rolls = load_jsb(shared_data / "jsb_chorales" / "jsb-chorales-quarter.json")
    assert [len(rolls[s]) for s in ("train", "valid", "test")] == [229, 76, 77]
    first = rolls["train"][0]
    assert first.shape == (129, 88)
    assert np.flatnonzero(first[0]).tolist() == [60 - 21, 72 - 21, 79 - 21, 88 - 21]
    assert sum(p.shape[0] for p in rolls["test"]) == 4725
    assert 1 <= max(int(p.sum(axis=1).max()) for p in rolls["train"]) <= 4
