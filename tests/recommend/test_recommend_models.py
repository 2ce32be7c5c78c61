"""Every recommender on a 200-user slice of Last.fm-2k: beats random, explains, round-trips."""

from __future__ import annotations

import numpy as np
import pytest

from torchmusic.errors import DataError, ParameterError
from torchmusic.recommend import (
    ALSRecommender,
    BPRRecommender,
    ContentRecommender,
    HybridRecommender,
    ItemKNNRecommender,
    PopularityRecommender,
    Recommendation,
    evaluate,
    load_recommender,
)

# Small settings: the whole file runs in seconds on one core.
FAST = {
    "popularity": lambda: PopularityRecommender(),
    "itemknn": lambda: ItemKNNRecommender(neighbors=50),
    "als": lambda: ALSRecommender(factors=16, iterations=8),
    "bpr": lambda: BPRRecommender(dim=16, max_epochs=8, batch_size=32, lr=0.01, weight_decay=1.0),
    "content": lambda: ContentRecommender(),
    "hybrid": lambda: HybridRecommender(
        cf="als", cf_config={"factors": 16, "iterations": 8}, tune_users=100
    ),
}
KINDS = list(FAST)


def _random_recall(split, k=10):
    """Expected recall@k of a random ranking of each user's unseen candidates."""
    n_cand = split.train.n_items if split.candidates is None else len(split.candidates)
    users = split.test_users
    seen = np.diff(split.train.plays.indptr)[users] if split.candidates is None else 0
    return float(np.mean(np.minimum(k / (n_cand - seen), 1.0)))


@pytest.fixture(scope="module")
def fitted(warm):
    return {kind: make().fit(warm.train) for kind, make in FAST.items()}


@pytest.mark.parametrize("kind", KINDS)
def test_beats_random_on_warm_split(fitted, warm, kind):
    result = evaluate(fitted[kind], warm)
    chance = _random_recall(warm)
    assert result["recall"] > 5 * chance, (kind, result, chance)
    assert 0 < result["coverage"] <= 1
    assert result["users"] == warm.test_users.size


@pytest.mark.parametrize("kind", ["content", "hybrid"])
def test_cold_start_beats_random(cold, kind):
    model = FAST[kind]().fit(cold.train)
    result = evaluate(model, cold)
    assert result["recall"] > 3 * _random_recall(cold), result


@pytest.mark.parametrize("kind", KINDS)
def test_recommend_for_a_user(fitted, warm, kind):
    model = fitted[kind]
    user = warm.train.users[3]
    recs = model.recommend(user, k=5)
    assert len(recs) == 5 and all(isinstance(r, Recommendation) for r in recs)
    seen = set(warm.train.items[warm.train.plays[3].indices].tolist())
    assert not {r.item for r in recs} & seen
    assert all(r.reason and r.name for r in recs)
    scores = [r.score for r in recs]
    assert scores == sorted(scores, reverse=True)
    items, _ = model.recommend_batch([3], k=5)
    assert [warm.train.items[i] for i in items[0]] == [r.item for r in recs]


@pytest.mark.parametrize("kind", ["itemknn", "als", "bpr", "hybrid"])
def test_reasons_name_liked_items(fitted, warm, kind):
    model = fitted[kind]
    row = 7
    liked = set(warm.train.item_names[warm.train.plays[row].indices].tolist())
    recs = model.recommend(warm.train.users[row], k=5)
    named = [r for r in recs if r.reason.startswith("because you listened to")]
    assert named, [r.reason for r in recs]
    first = named[0].reason.removeprefix("because you listened to ").split(";")[0]
    assert first.split(", ")[0] in liked


def test_content_reasons_share_tags(fitted, warm):
    recs = fitted["content"].recommend(warm.train.users[0], k=5)
    assert any("shared tags: " in r.reason for r in recs)


@pytest.mark.parametrize("kind", KINDS)
def test_recommend_similar(fitted, kind):
    model = fitted[kind]
    names = model.data.item_names
    liked = [str(names[int(np.argmax(model.data.listeners))]), str(model.data.items[1])]
    recs = model.recommend_similar(liked, k=4)
    assert len(recs) == 4
    liked_ids = {model.data.items[model.data.item_index(x)] for x in liked}
    assert not {r.item for r in recs} & liked_ids


@pytest.mark.parametrize("kind", KINDS)
def test_save_load_round_trip(fitted, kind, tmp_path):
    model = fitted[kind]
    path = model.save(tmp_path / f"{kind}.safetensors")
    loaded = load_recommender(path)
    assert type(loaded) is type(model) and loaded.get_config() == model.get_config()
    users = np.arange(20)
    a_items, a_scores = model.recommend_batch(users, k=10)
    b_items, b_scores = loaded.recommend_batch(users, k=10)
    np.testing.assert_allclose(a_scores, b_scores, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(a_items, b_items)
    user = model.data.users[4]
    assert [r.reason for r in loaded.recommend(user, k=3)] == [
        r.reason for r in model.recommend(user, k=3)
    ]


def test_unknown_user_and_item(fitted):
    model = fitted["als"]
    with pytest.raises(ParameterError, match="unknown user 'nobody'"):
        model.recommend("nobody")
    name = str(model.data.item_names[0])
    typo = name[:-1] + ("x" if name[-1] != "x" else "y")
    with pytest.raises(DataError, match=f"unknown item {typo!r}.*did you mean"):
        model.recommend_similar([typo])
    with pytest.raises(ParameterError, match="empty"):
        model.recommend_similar([])
    with pytest.raises(ParameterError, match="k=0"):
        model.recommend(model.data.users[0], k=0)


def test_batch_options(fitted, warm):
    model = fitted["popularity"]
    top = int(np.argmax(warm.train.listeners))
    fans = np.flatnonzero(warm.train.plays[:, top].toarray().ravel())
    items, _ = model.recommend_batch(fans[:3], k=3, exclude_seen=False)
    assert (items[:, 0] == top).all()  # seen items allowed back in
    items, _ = model.recommend_batch(fans[:3], k=3)
    assert (items != top).all()
    cand = np.array([0, 1, 2, top])
    items, scores = model.recommend_batch([fans[0]], k=6, candidates=cand)
    assert set(items[0][items[0] >= 0].tolist()) <= set(cand.tolist()) - {top}
    assert (items[0][3:] == -1).all() and np.isinf(scores[0][3:]).all()  # padded
    with pytest.raises(ParameterError, match="user row"):
        model.recommend_batch([10**6])
    with pytest.raises(ParameterError, match="candidates"):
        model.recommend_batch([0], candidates=[-1])


def test_not_fitted_and_bad_settings():
    with pytest.raises(ParameterError, match="not fitted"):
        ALSRecommender().recommend("2")
    with pytest.raises(ParameterError, match="factors"):
        ALSRecommender(factors=0)
    with pytest.raises(ParameterError, match="neighbors"):
        ItemKNNRecommender(neighbors=-3)
    with pytest.raises(ParameterError, match="weighting"):
        ContentRecommender(weighting="squared")
    with pytest.raises(ParameterError, match="unknown BPRRecommender settings"):
        BPRRecommender(factorz=3)
    with pytest.raises(ParameterError, match="cf="):
        HybridRecommender(cf="popularity")


def test_hybrid_scores_cold_items_by_content(cold):
    model = FAST["hybrid"]().fit(cold.train)
    assert set(model.tuned_) == {"ridge_alpha", "warm_weight", "cold_weight", "cold_offset"}
    user = int(cold.test_users[0])
    _, scores = model.recommend_batch([user], k=5, candidates=cold.candidates)
    assert np.isfinite(scores).all() and np.unique(scores).size > 1
    # The mapped vectors place cold items by their tags: not all at one point.
    vectors = model.item_vectors()[cold.candidates]
    assert np.ptp(vectors[:, 0]) > 0


def test_content_with_given_features(warm):
    rng = np.random.default_rng(0)
    features = rng.normal(size=(warm.train.n_items, 8))
    model = ContentRecommender(item_features=features, item_norm_power=1.0).fit(warm.train)
    assert len(model.recommend(warm.train.users[0], k=3)) == 3
    with pytest.raises(ParameterError, match="item_features has shape"):
        ContentRecommender(item_features=features[:5]).fit(warm.train)


def test_hybrid_reuses_a_fitted_two_tower(fitted, warm, tmp_path):
    bpr = fitted["bpr"]
    model = HybridRecommender(cf=bpr, tune_users=50).fit(warm.train)
    assert model.cf_ is bpr  # fitted on the same data object: not refitted
    assert evaluate(model, warm)["recall"] > 5 * _random_recall(warm)
    loaded = load_recommender(model.save(tmp_path / "h.safetensors"))
    assert loaded.get_config()["cf"] == "bpr"
    np.testing.assert_allclose(
        loaded.recommend_batch([0, 1], k=5)[1], model.recommend_batch([0, 1], k=5)[1], rtol=1e-5
    )


def test_hybrid_on_data_too_small_to_tune(lastfm):
    tiny = lastfm.head(1)  # no artist has two listeners: no cold validation split
    with pytest.warns(RuntimeWarning, match="cannot tune"):
        model = HybridRecommender(cf_config={"factors": 4, "iterations": 2}).fit(tiny)
    assert model.tuned_["ridge_alpha"] == 10.0
    assert len(model.recommend_similar([tiny.items[0]], k=3)) == 3


def test_session_reasons_name_the_liked_items(fitted):
    model = fitted["als"]
    liked = [str(model.data.item_names[int(np.argmax(model.data.listeners))])]
    recs = model.recommend_similar(liked, k=3)
    assert any(r.reason == f"because you like {liked[0]}" for r in recs), recs
