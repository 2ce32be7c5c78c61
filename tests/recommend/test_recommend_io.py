"""Recommender files: safetensors + JSON only; damage is detected, pickles are refused."""

from __future__ import annotations

import numpy as np
import pytest
import safetensors.numpy

from torchmusic.errors import DataError, ParameterError
from torchmusic.recommend import PopularityRecommender, load_recommender, recommender_class


@pytest.fixture(scope="module")
def saved(warm, tmp_path_factory):
    path = tmp_path_factory.mktemp("io") / "pop.safetensors"
    PopularityRecommender().fit(warm.train).save(path)
    return path


def test_file_is_plain_safetensors(saved):
    arrays = safetensors.numpy.load_file(saved)
    assert {"data.plays.indptr", "model.counts"} <= set(arrays)
    with safetensors.safe_open(saved, "np") as f:
        meta = f.metadata()
    assert meta["format"] == "torchmusic.recommender" and meta["kind"] == "popularity"


def test_flipped_byte_is_detected(saved, tmp_path):
    raw = bytearray(saved.read_bytes())
    raw[-10] ^= 0xFF
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(bytes(raw))
    with pytest.raises(DataError, match="corrupt"):
        load_recommender(bad)


def test_truncated_file(saved, tmp_path):
    bad = tmp_path / "short.safetensors"
    bad.write_bytes(saved.read_bytes()[:100])
    with pytest.raises(DataError, match="truncated"):
        load_recommender(bad)


def test_pickle_is_refused(tmp_path):
    import pickle

    bad = tmp_path / "model.pt"
    bad.write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    with pytest.raises(DataError, match="pickle"):
        load_recommender(bad)


def test_foreign_safetensors_and_missing_file(tmp_path):
    other = tmp_path / "other.safetensors"
    safetensors.numpy.save_file({"x": np.zeros(3, np.float32)}, other)
    with pytest.raises(DataError, match="not a torchmusic recommender"):
        load_recommender(other)
    with pytest.raises(DataError, match="cannot read"):
        load_recommender(tmp_path / "missing.safetensors")


def test_unknown_kind():
    with pytest.raises(ParameterError, match="unknown recommender 'svd'"):
        recommender_class("svd")
