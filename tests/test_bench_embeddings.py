"""The embedding evaluation suite's pure parts (benchmarks/embeddings.py) on hand-checkable cases.

The suite itself needs the built corpora and minutes; here: excerpt cutting, the partner
rank of same-track retrieval, the grouped stratified split, the model list, the cache.
"""

from __future__ import annotations

import importlib.util
import zipfile
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def bench():
    import sys

    sys.path.insert(0, str(BENCH))  # the script imports _common beside it
    try:
        spec = importlib.util.spec_from_file_location("bench_embeddings", BENCH / "embeddings.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCH))
    yield module
    sys.modules.pop("bench_embeddings", None)


def test_excerpts_are_centred_when_they_fit(bench):
    # 100 s, 10 s excerpts centred at 30 s and 70 s start at 25 s and 65 s.
    assert bench.excerpt_offsets(100.0, 10.0, (0.3, 0.7)) == [25.0, 65.0]
    # 25 s: centres 7.5 s and 17.5 s -> starts 2.5 s and 12.5 s, just apart.
    assert bench.excerpt_offsets(25.0, 10.0, (0.3, 0.7)) == [2.5, 12.5]


def test_excerpts_are_clamped_then_spread(bench):
    # Centres near the ends are moved inside the track.
    assert bench.excerpt_offsets(100.0, 10.0, (0.01, 0.99)) == [0.0, 90.0]
    # 20 s: centred starts (1 s, 9 s) would overlap -> spread over the whole track.
    assert bench.excerpt_offsets(20.0, 10.0, (0.3, 0.7)) == [0.0, 10.0]
    assert bench.excerpt_offsets(30.0, 10.0, (0.25, 0.5, 0.75)) == [0.0, 10.0, 20.0]


def test_too_short_tracks_give_no_excerpts(bench):
    assert bench.excerpt_offsets(19.9, 10.0, (0.3, 0.7)) is None
    items = bench.retrieval_items(
        [bench.Track(Path("a.ogg"), "s", 100.0), bench.Track(Path("b.ogg"), "s", 15.0)], 10.0
    )
    excerpts, owner, _ = items
    assert [e.offset for e in excerpts] == [25.0, 65.0] and owner == [0, 0]


def test_partner_ranks_by_hand(bench):
    # Tracks 0 (rows 0, 1) and 1 (rows 2, 3). Row 0's partner (row 1) is its nearest;
    # row 2 is closer to row 0 than to its partner row 3.
    v = np.array([[1.0, 0.0], [0.9, 0.1], [0.8, 0.6], [-0.6, 0.8]])
    owner = np.array([0, 0, 1, 1])
    ranks = bench.partner_ranks(v, owner)
    # cos(0,1)=.994 > cos(0,2)=.8 -> 1; row 1: cos(1,0) best -> 1;
    # row 2: cos(2,0)=.8, cos(2,1)=.86, cos(2,3)=0 -> 3; row 3: cos(3,2)=0 vs
    # cos(3,1)=-.51, cos(3,0)=-.6 -> 1.
    assert ranks.tolist() == [1, 1, 3, 1]
    scores = bench.retrieval_scores(ranks, np.array(["x", "x", "y", "y"]))
    assert scores["top1"] == 0.75 and scores["top5"] == 1.0
    assert scores["mrr"] == pytest.approx((1 + 1 + 1 / 3 + 1) / 4)
    assert scores["top5_by_source"] == {"x": 1.0, "y": 1.0}


def test_ties_count_against_the_query(bench):
    v = np.ones((4, 3))  # a constant embedding ranks every partner last
    assert bench.partner_ranks(v, np.array([0, 0, 1, 1])).tolist() == [3, 3, 3, 3]


def test_grouped_split_keeps_groups_whole_and_every_class_in_test(bench):
    labels = ["a"] * 6 + ["b"] * 4 + ["c"] * 2
    groups = ["a1", "a1", "a2", "a2", "a3", "a3", "b1", "b2", "b3", "b4", "c1", "c2"]
    for seed in range(5):
        train, test = bench.stratified_group_split(labels, groups, test_size=0.3, seed=seed)
        assert sorted([*train, *test]) == list(range(12))
        assert not {groups[i] for i in train} & {groups[i] for i in test}
        assert {labels[i] for i in test} == {"a", "b", "c"}
        # round(0.3 * n groups) per class, at least one: a 1 group, b 1, c 1.
        assert len({groups[i] for i in test}) == 3


def test_model_list(bench):
    assert bench.parse_models(["mfcc", "v1=mfcc-v1", "random=enc.safetensors"]) == {
        "mfcc": "mfcc",
        "v1": "mfcc-v1",
        "random": "random:enc.safetensors",
    }


def test_recordings_filter(bench):
    assert bench.is_music("Vibe Ace by Kevin MacLeod")
    assert not bench.is_music("From the LibriSpeech SLR12 collection")
    assert not bench.is_music("Glacier Bay humpback whale song")


def test_pk3_extraction(bench, tmp_path):
    pk3 = tmp_path / "music.pk3"
    with zipfile.ZipFile(pk3, "w") as z:
        z.writestr("music/a.ogg", b"A")
        z.writestr("music/readme.txt", b"x")
        z.writestr("maps/b.ogg", b"B")
    out = bench.extract_pk3(pk3, "music/", tmp_path / "cache")
    assert [p.name for p in out] == ["a.ogg"] and out[0].read_bytes() == b"A"


def test_cache_round_trip(bench, tmp_path):
    cache = bench.EmbeddingCache(tmp_path)
    cache.put("fp", "x.ogg|0.000|10.0", np.array([1.0, 0.0], dtype=np.float32))
    cache.save()
    again = bench.EmbeddingCache(tmp_path).table("fp")
    assert list(again) == ["x.ogg|0.000|10.0"] and again["x.ogg|0.000|10.0"].tolist() == [1, 0]
