"""Recommendation on implicit feedback (play counts): data, splits, metrics, recommenders.

- :func:`load_lastfm` reads HetRec 2011 Last.fm-2k into :class:`ListeningData`;
  :func:`warm_split` / :func:`cold_split` make leak-free train/test splits.
- :func:`recall_at_k`, :func:`ndcg_at_k`, :func:`map_at_k`, :func:`coverage` and
  :func:`evaluate` (all of them for a fitted model on a split).
- Recommenders with one interface (``fit``, ``recommend``, ``recommend_batch``,
  ``recommend_similar``, ``save``): :class:`PopularityRecommender`,
  :class:`ItemKNNRecommender`, :class:`ALSRecommender` (``implicit``),
  :class:`BPRRecommender` (PyTorch, trained with Lightning),
  :class:`ContentRecommender` (tag TF-IDF or audio embeddings) and
  :class:`HybridRecommender` (content + collaborative, cold-start capable);
  :func:`load_recommender` reads any saved one.

Everything is imported on first use, so ``import torchmusic.recommend`` is instant
(the track catalog lives in :mod:`torchmusic.recommend.catalog`).

Examples
--------
>>> from torchmusic.recommend import ALSRecommender, evaluate, load_lastfm, warm_split
>>> data = load_lastfm("../shared/data/lastfm_2k")  # doctest: +SKIP
>>> split = warm_split(data, seed=0)  # doctest: +SKIP
>>> evaluate(ALSRecommender().fit(split.train), split)["recall"]  # doctest: +SKIP
0.19...
"""

from __future__ import annotations

from torchmusic._lazy import lazy_package

_LAZY = {
    "ListeningData": "torchmusic.recommend.data",
    "load_lastfm": "torchmusic.recommend.data",
    "Split": "torchmusic.recommend.splits",
    "warm_split": "torchmusic.recommend.splits",
    "cold_split": "torchmusic.recommend.splits",
    "recall_at_k": "torchmusic.recommend.metrics",
    "ndcg_at_k": "torchmusic.recommend.metrics",
    "map_at_k": "torchmusic.recommend.metrics",
    "coverage": "torchmusic.recommend.metrics",
    "evaluate": "torchmusic.recommend.metrics",
    "Recommendation": "torchmusic.recommend.base",
    "Recommender": "torchmusic.recommend.base",
    "PopularityRecommender": "torchmusic.recommend.popularity",
    "ItemKNNRecommender": "torchmusic.recommend.itemknn",
    "ALSRecommender": "torchmusic.recommend.als",
    "BPRRecommender": "torchmusic.recommend.bpr",
    "ContentRecommender": "torchmusic.recommend.content",
    "HybridRecommender": "torchmusic.recommend.hybrid",
    "tag_tfidf": "torchmusic.recommend.content",
    "load_recommender": "torchmusic.recommend.io",
    "save_recommender": "torchmusic.recommend.io",
    "recommender_class": "torchmusic.recommend.io",
    "RECOMMENDERS": "torchmusic.recommend.io",
}

__all__ = sorted(_LAZY)


__getattr__, __dir__ = lazy_package(__name__, _LAZY)
