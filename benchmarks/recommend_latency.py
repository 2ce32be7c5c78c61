"""Recommendation latency: one user scored over all 17,632 Last.fm-2k artists, on the CPU.

Run: ``python benchmarks/recommend_latency.py [--users 300] [--out bench_out]``

Each recommender is fitted on the full Last.fm-2k data (the two-tower for 2
epochs only: its recommendation cost does not depend on how long it trained; the
hybrid with fixed weights, skipping the tuning fit, which does not change its
scoring either). Then, for ``--users`` random users in turn, two calls are timed:

- ``recommend_batch([user], k=10)``: score every artist, drop the user's own,
  ``argpartition`` the top 10 -- the serving path;
- ``recommend(user, k=10)``: the same plus names and explanations (nearest liked
  artists, shared tags).

The models are interleaved user by user, so machine noise hits all alike. BLAS is
single-threaded (a matrix-vector product gains nothing from more). Target: p99 of
``recommend_batch`` < 20 ms.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from _common import DEFAULT_OUT, SHARED_DATA, print_table, write_json


def fitted_models(data: Any) -> dict[str, Any]:
    from torchmusic.recommend import (
        ALSRecommender,
        BPRRecommender,
        ContentRecommender,
        HybridRecommender,
        ItemKNNRecommender,
        PopularityRecommender,
    )

    als = ALSRecommender(factors=64).fit(data)
    models = {
        "popularity": PopularityRecommender().fit(data),
        "item-kNN": ItemKNNRecommender().fit(data),
        "ALS": als,
        "two-tower (PyTorch)": BPRRecommender(epochs=2).fit(data),
        "content (tags)": ContentRecommender().fit(data),
        "hybrid (ALS + tags)": HybridRecommender(
            cf=als, ridge_alpha=10.0, warm_weight=0.5, cold_weight=1.0, cold_offset=8.0
        ).fit(data),
    }
    return models


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(SHARED_DATA / "lastfm_2k"))
    ap.add_argument("--users", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(DEFAULT_OUT))
    args = ap.parse_args()

    import torch
    from threadpoolctl import threadpool_limits

    from torchmusic.recommend import load_lastfm

    torch.set_num_threads(1)
    threadpool_limits(limits=1, user_api="blas")
    data = load_lastfm(Path(args.data))
    models = fitted_models(data)
    rng = np.random.default_rng(args.seed)
    rows = rng.choice(data.n_users, size=min(args.users, data.n_users), replace=False)
    times: dict[str, dict[str, list[float]]] = {
        name: {"batch": [], "explained": []} for name in models
    }
    for model in models.values():  # warm-up (first-call allocations, caches)
        model.recommend_batch(rows[:3], k=10)
        model.recommend(data.users[rows[0]], k=10)
    for row in rows.tolist():
        user = data.users[row]
        for name, model in models.items():
            t0 = time.perf_counter()
            model.recommend_batch([row], k=10)
            t1 = time.perf_counter()
            model.recommend(user, k=10)
            t2 = time.perf_counter()
            times[name]["batch"].append((t1 - t0) * 1e3)
            times[name]["explained"].append((t2 - t1) * 1e3)

    def pct(values: list[float], q: float) -> float:
        return float(np.percentile(values, q))

    summary = {
        name: {
            f"{call}_{q}": pct(t[call], float(q[1:]))
            for call in ("batch", "explained")
            for q in ("p50", "p99")
        }
        for name, t in times.items()
    }
    rows_out = [
        [name, s["batch_p50"], s["batch_p99"], s["explained_p50"], s["explained_p99"]]
        for name, s in summary.items()
    ]
    text = print_table(
        f"Latency (ms), one user over all {data.n_items:,} artists, top 10, "
        f"{len(rows)} users, 1 thread",
        ["model", "scores + top-k p50", "p99", "with explanations p50", "p99"],
        rows_out,
    )
    ok = all(s["batch_p99"] < 20.0 for s in summary.values())
    print(f"{'PASS' if ok else 'FAIL'}  p99 of scores + top-k < 20 ms for every model")
    write_json(
        Path(args.out) / "recommend_latency.json",
        {
            "users": len(rows),
            "items": data.n_items,
            "summary": summary,
            "pass": ok,
            "table_markdown": text,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
