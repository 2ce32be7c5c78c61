"""Recommenders on Last.fm-2k (HetRec 2011): warm and cold-start splits, several seeds.

Run: ``nice -n 5 python benchmarks/recommend_lastfm.py [--seeds 0 1 2 3 4] [--threads 1]
[--out bench_out] [--with-hybrid-bpr]``

For each seed:

- **warm**: 20 % of each user's (user, artist) pairs held out
  (:func:`~torchmusic.recommend.warm_split`); every artist is a candidate, the
  user's training artists excluded.
- **cold start**: 20 % of the artists with >= 2 listeners held out with all their
  interactions (:func:`~torchmusic.recommend.cold_split`, 1,391 artists); each
  user's held-out artists are ranked among those 1,391 only. Their tags stay
  known except those the held-out listeners gave them (leak-free).

Models: popularity, item-kNN (cosine, 500 neighbours), ALS (``implicit``, 64
factors, confidence ``1 + log1p(plays)``), the PyTorch two-tower ("bpr", trained
with Lightning), content (tag TF-IDF) and the hybrid (ALS + content; with
``--with-hybrid-bpr`` also the two-tower + content hybrid, and the two-tower on
the cold split, which roughly doubles the run time). Pure CF models have no signal
for cold artists and score near chance there (chance recall@10 ~= 10 / 1,391);
the two-tower is therefore skipped on the cold split unless asked for.

Metrics at k = 10: recall, NDCG, MAP, catalogue coverage; mean ± std over seeds,
plus the fitting time of each model (``--threads`` threads for ``implicit`` and
torch, BLAS single-threaded) and the ALS training time on all 92,834 interactions.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from _common import DEFAULT_OUT, SHARED_DATA, print_table, write_json

METRICS = ("recall", "ndcg", "map", "coverage")


def models(kind: str, threads: int, seed: int, *, with_hybrid_bpr: bool) -> dict[str, Any]:
    """Name -> unfitted recommender for one split (``kind``: warm or cold)."""
    from torchmusic.recommend import (
        ALSRecommender,
        BPRRecommender,
        ContentRecommender,
        HybridRecommender,
        ItemKNNRecommender,
        PopularityRecommender,
    )

    out: dict[str, Any] = {
        "popularity": PopularityRecommender(),
        "item-kNN": ItemKNNRecommender(num_threads=threads),
        "ALS": ALSRecommender(factors=64, num_threads=threads, seed=seed),
    }
    if kind == "warm" or with_hybrid_bpr:
        out["two-tower (PyTorch)"] = BPRRecommender(num_threads=threads, seed=seed)
    out["content (tags)"] = ContentRecommender()
    # The hybrids reuse the CF model fitted just before them (same training data).
    out["hybrid (ALS + tags)"] = lambda fitted: HybridRecommender(cf=fitted["ALS"], seed=seed)
    if with_hybrid_bpr:
        out["hybrid (two-tower + tags)"] = lambda fitted: HybridRecommender(
            cf=fitted["two-tower (PyTorch)"], seed=seed
        )
    return out


def run_split(split: Any, threads: int, seed: int, *, with_hybrid_bpr: bool) -> dict[str, dict]:
    from torchmusic.recommend import evaluate

    results: dict[str, dict] = {}
    fitted: dict[str, Any] = {}
    for name, model in models(split.kind, threads, seed, with_hybrid_bpr=with_hybrid_bpr).items():
        if callable(model) and not hasattr(model, "fit"):
            model = model(fitted)
        t0 = time.perf_counter()
        model.fit(split.train)
        fit_s = time.perf_counter() - t0
        fitted[name] = model
        metrics = evaluate(model, split, k=10)
        metrics["fit_s"] = round(fit_s, 3)
        if getattr(model, "tuned_", None):
            metrics["tuned"] = dict(model.tuned_)
        results[name] = metrics
        print(
            f"  {split.kind} seed {seed} {name:<26} recall@10 {metrics['recall']:.4f}  "
            f"ndcg {metrics['ndcg']:.4f}  map {metrics['map']:.4f}  "
            f"coverage {metrics['coverage']:.4f}  fit {fit_s:.1f} s",
            file=sys.stderr,
            flush=True,
        )
    return results


def mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def summarise(per_seed: list[dict[str, dict]]) -> dict[str, dict[str, list[float]]]:
    names = list(per_seed[0])
    keys = (*METRICS, "fit_s")
    return {n: {k: mean_std([r[n][k] for r in per_seed]) for k in keys} for n in names}


def table(title: str, summary: dict[str, dict[str, tuple[float, float]]]) -> str:
    rows = []
    for name, s in summary.items():
        rows.append(
            [name] + [f"{s[m][0]:.4f} ± {s[m][1]:.4f}" for m in METRICS] + [f"{s['fit_s'][0]:.1f}"]
        )
    header = ["model", "recall@10", "NDCG@10", "MAP@10", "coverage", "fit (s)"]
    return print_table(title, header, rows)


def als_training_time(data: Any, threads: int, repeats: int = 3) -> dict[str, float]:
    """Median wall time of ALS (64 factors, 15 iterations) on all interactions."""
    from torchmusic.recommend import ALSRecommender

    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        ALSRecommender(factors=64, num_threads=threads).fit(data)
        times.append(time.perf_counter() - t0)
    return {"median_s": statistics.median(times), "min_s": min(times), "threads": threads}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(SHARED_DATA / "lastfm_2k"))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--threads", type=int, default=1, help="implicit/torch threads")
    ap.add_argument("--out", default=str(DEFAULT_OUT))
    ap.add_argument("--with-hybrid-bpr", action="store_true")
    args = ap.parse_args()

    import torch
    from threadpoolctl import threadpool_limits

    from torchmusic.recommend import cold_split, load_lastfm, warm_split

    torch.set_num_threads(args.threads)
    threadpool_limits(limits=1, user_api="blas")  # implicit's advice; numpy scoring too
    data = load_lastfm(Path(args.data))
    t_start = time.perf_counter()
    per_seed: dict[str, list[dict]] = {"warm": [], "cold": []}
    splits_info: dict[str, list[dict]] = {"warm": [], "cold": []}
    for seed in args.seeds:
        for kind, make in (("warm", warm_split), ("cold", cold_split)):
            split = make(data, seed=seed)
            splits_info[kind].append(split.summary())
            per_seed[kind].append(
                run_split(split, args.threads, seed, with_hybrid_bpr=args.with_hybrid_bpr)
            )
    summary = {kind: summarise(runs) for kind, runs in per_seed.items()}
    n = len(args.seeds)
    text = table(f"Warm split (20 % of each user's pairs held out), {n} seeds", summary["warm"])
    text += table(
        f"Cold start (20 % of artists with >= 2 listeners held out, leak-free tags), {n} seeds",
        summary["cold"],
    )
    als_time = als_training_time(data, args.threads)
    print(
        f"ALS training time, all {data.nnz:,} interactions, 64 factors, 15 iterations, "
        f"{args.threads} thread(s): {als_time['median_s']:.2f} s (median of 3)\n"
    )

    warm, cold = summary["warm"], summary["cold"]
    cf_names = [m for m in ("ALS", "two-tower (PyTorch)", "item-kNN") if m in warm]
    best_cf = max(cf_names, key=lambda m: warm[m]["recall"][0])
    checks = {
        "two-tower >= ALS on warm recall@10": warm["two-tower (PyTorch)"]["recall"][0]
        >= warm["ALS"]["recall"][0],
    }
    for hybrid in (h for h in warm if h.startswith("hybrid")):
        checks[f"{hybrid} > content on cold recall@10"] = (
            cold[hybrid]["recall"][0] > cold["content (tags)"]["recall"][0]
        )
        checks[f"{hybrid} >= 95 % of best CF ({best_cf}) on warm recall@10"] = (
            warm[hybrid]["recall"][0] >= 0.95 * warm[best_cf]["recall"][0]
        )
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    write_json(
        Path(args.out) / "recommend_lastfm.json",
        {
            "seeds": args.seeds,
            "threads": args.threads,
            "data": data.summary(),
            "splits": splits_info,
            "summary": summary,
            "per_seed": per_seed,
            "als_training_time": als_time,
            "checks": checks,
            "tables_markdown": text,
            "wall_s": round(time.perf_counter() - t_start, 1),
        },
    )
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
