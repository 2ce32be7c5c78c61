"""Loading Last.fm-2k and the leak-free warm and cold-start splits."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from torchmusic.errors import DataError, ParameterError
from torchmusic.recommend import ListeningData, cold_split, load_lastfm, warm_split


def test_lastfm_sizes_and_text(lastfm):
    assert lastfm.summary()["users"] == 1892
    assert lastfm.n_items == 17632
    assert lastfm.nnz == 92834
    assert lastfm.n_tags == 11946
    # Tag assignments naming artists missing from artists.dat (~0.8 %) are dropped.
    assert 184_000 < len(lastfm.tag_assignments) < 186_479
    assert lastfm.plays.dtype == np.float32 and lastfm.plays.data.min() >= 1
    col = lastfm.item_index("Metallica")
    assert lastfm.items[col] == "707"
    assert "tropicália" in lastfm.tags.tolist()  # a Latin-1 line of tags.dat


def test_ids_and_names(lastfm):
    assert lastfm.user_index("2") == lastfm.user_index(2) == 0
    assert lastfm.item_index("707") == lastfm.item_index("metallica")
    with pytest.raises(ParameterError, match="unknown user '999999'"):
        lastfm.user_index("999999")
    with pytest.raises(DataError, match=r"unknown item 'Metalica'.*'Metallica'"):
        lastfm.item_index("Metalica")


def test_missing_files_are_named(tmp_path):
    (tmp_path / "artists.dat").write_text("1\tA\n")
    with pytest.raises(DataError, match=r"user_artists\.dat"):
        load_lastfm(tmp_path)
    with pytest.raises(DataError, match="does not exist"):
        load_lastfm(tmp_path / "nope")


def test_malformed_file(tmp_path):
    for name in ("artists.dat", "tags.dat"):
        (tmp_path / name).write_text("id\tname\n1\tx\n")
    (tmp_path / "user_artists.dat").write_text("userID\tartistID\tweight\n2\tone\t3\n")
    (tmp_path / "user_taggedartists.dat").write_text("userID\tartistID\ttagID\n")
    with pytest.raises(DataError, match=r"user_artists\.dat is malformed"):
        load_lastfm(tmp_path)


def test_head_keeps_a_consistent_slice(lastfm, lastfm_slice):
    s = lastfm_slice
    assert s.n_users == 200
    assert (s.listeners > 0).all()  # only items the slice's users played
    row, col = 5, s.plays[5].indices[0]
    assert s.plays[row, col] == lastfm.plays[row, lastfm.item_index(s.items[col])]
    assert s.tag_assignments[:, 0].max() < 200


def test_invalid_construction():
    with pytest.raises(DataError, match="shape"):
        ListeningData(
            users=["a"], items=["x", "y"], item_names=["X", "Y"], plays=sp.csr_matrix((2, 2))
        )
    with pytest.raises(DataError, match="duplicate"):
        ListeningData(users=["a", "a"], items=["x"], item_names=["X"], plays=sp.csr_matrix((2, 1)))


def _pairs(m):
    coo = sp.coo_matrix(m)
    return set(zip(coo.row.tolist(), coo.col.tolist(), strict=True))


def test_warm_split_never_leaks(lastfm_slice):
    split = warm_split(lastfm_slice, seed=3)
    train, test = _pairs(split.train.plays), _pairs(split.test)
    assert not train & test
    assert train | test == _pairs(lastfm_slice.plays)
    assert split.test.nnz == pytest.approx(0.2 * lastfm_slice.nnz, rel=0.02)
    assert (np.diff(split.train.plays.indptr) >= 1).all()  # every user keeps an item
    # No tag assignment of a held-out pair remains; all others do.
    ta = split.train.tag_assignments
    assert not {(u, i) for u, i, _ in ta.tolist()} & test
    leaked = [t for t in lastfm_slice.tag_assignments.tolist() if (t[0], t[1]) in test]
    assert len(ta) + len(leaked) == len(lastfm_slice.tag_assignments)
    assert split.candidates is None


def test_warm_split_is_seeded(lastfm_slice):
    a, b = warm_split(lastfm_slice, seed=1), warm_split(lastfm_slice, seed=1)
    c = warm_split(lastfm_slice, seed=2)
    assert _pairs(a.test) == _pairs(b.test) != _pairs(c.test)


def test_cold_split_holds_out_whole_items(lastfm_slice):
    split = cold_split(lastfm_slice, seed=0)
    cold = split.candidates
    eligible = int((lastfm_slice.listeners >= 2).sum())
    assert len(cold) == round(0.2 * eligible)
    assert (lastfm_slice.listeners[cold] >= 2).all()
    assert (split.train.listeners[cold] == 0).all()
    test_items = set(sp.coo_matrix(split.test).col.tolist())
    assert test_items == set(cold.tolist())
    # Cold items keep the tags of users who did not listen to them, and only those.
    test = _pairs(split.test)
    ta = split.train.tag_assignments
    assert not {(u, i) for u, i, _ in ta.tolist()} & test


def test_cold_split_keeps_non_listener_tags(lastfm):
    split = cold_split(lastfm, seed=0)
    assert len(split.candidates) == 1391  # 20 % of the 6,953 artists with >= 2 listeners
    before = lastfm.item_tags[split.candidates].sum()
    after = split.train.item_tags[split.candidates].sum()
    assert 0 < after < before  # the listeners' own tags (the leak) are gone, others stay


def test_split_arguments():
    data = ListeningData(
        users=["a"], items=["x"], item_names=["X"], plays=sp.csr_matrix(np.ones((1, 1)))
    )
    with pytest.raises(ParameterError, match="test_fraction"):
        warm_split(data, test_fraction=1.5)
    with pytest.raises(DataError, match="single interaction"):
        warm_split(data)
    with pytest.raises(DataError, match="at least 2 items"):
        cold_split(data)
