"""FAISS query latency (p50/p99) and recall@10 of the catalog's indexes on synthetic vectors.

Run: ``python benchmarks/faiss_search.py [--dim 128] [--sizes 10000 1000000]
[--threads 1] [--out bench_out]``

Vectors have the embedding size (128, the autoencoder's and contrastive model's
default) and are unit-norm, like catalog embeddings. Two distributions:

- ``clustered``: a mixture of 1,000 Gaussian clusters (points = centre + noise of
  1.5 times the centre's norm: a query's 10th neighbour has cosine ~0.4 and
  clusters overlap), closer to real audio embeddings, which crowd around styles
  and timbres;
- ``uniform``: isotropic Gaussian directions, the worst case for an inverted
  file (no cluster structure to exploit), reported for honesty.

For each size the catalog's index is built with
:func:`torchmusic.recommend.catalog.build_index` (``flat`` = exact
``IndexFlatIP``; ``ivf`` = ``IndexIVFFlat`` with :func:`ivf_lists` clusters,
trained on 64 points per cluster), then single queries (one vector per
``search`` call, as ``torchmusic similar`` does) are timed one by one; recall@10
is the share of the exact top 10 that the approximate index returns, for
several ``nprobe``. FAISS runs with ``--threads`` OpenMP threads (1 by default:
the per-core figure, what a server answering queries in parallel gets).

Latency is wall-clock time per ``search`` call (each query's median over 3
passes) and, beside it, the CPU time the call used (``time.thread_time``): on a
shared machine the wall-clock tail includes waiting for a core, which the CPU
time does not. The load average at the start is recorded.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import numpy as np

from _common import DEFAULT_OUT, print_table, write_json
from torchmusic.recommend.catalog.index import DEFAULT_NPROBE, build_index


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def synthetic(
    n: int, dim: int, *, kind: str, seed: int, n_centres: int = 1000, noise: float = 1.5
) -> np.ndarray:
    """``n`` unit vectors; generated in chunks so 1M x 128 needs ~0.5 GB, not several."""
    rng = np.random.default_rng(seed)
    centres = unit(np.random.default_rng(12345).standard_normal((n_centres, dim)))
    out = np.empty((n, dim), np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        gauss = rng.standard_normal((m, dim)).astype(np.float32)
        if kind == "clustered":
            # Noise of norm ~1.5 around unit centres: neighbours mostly share a
            # cluster, but clusters overlap and their members are far from identical.
            block = centres[rng.integers(0, n_centres, m)] + noise / np.sqrt(dim) * gauss
        else:
            block = gauss
        out[start : start + m] = unit(block)
    return out


def exact_top(base: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Exact top-k ids by inner product (blocked matrix products: no FAISS involved)."""
    top = np.empty((len(queries), k), np.int64)
    for i in range(0, len(queries), 100):
        scores = queries[i : i + 100] @ base.T
        part = np.argpartition(-scores, k, axis=1)[:, :k]
        order = np.take_along_axis(scores, part, axis=1).argsort(axis=1)[:, ::-1]
        top[i : i + 100] = np.take_along_axis(part, order, axis=1)
    return top


def time_queries(
    index: Any, queries: np.ndarray, k: int, *, repeats: int = 3
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Wall-clock and CPU latency (ms) of each one-query search, and the ids found.

    Each query's latency is the median of ``repeats`` passes over all queries, so
    that a pause of the shared machine's scheduler in one pass does not count as
    that query's cost (p99 over 1,000 queries is otherwise the 10th-worst
    scheduling hiccup).
    """
    index.search(queries[:5], k)  # warm-up
    wall = np.empty((repeats, len(queries)))
    cpu = np.empty((repeats, len(queries)))
    found = []
    for r in range(repeats):
        for j, q in enumerate(queries):
            c0, t0 = time.thread_time(), time.perf_counter()
            _, ids = index.search(q[None, :], k)
            wall[r, j] = (time.perf_counter() - t0) * 1e3
            cpu[r, j] = (time.thread_time() - c0) * 1e3
            if r == 0:
                found.append(ids[0])
    return np.median(wall, axis=0), np.median(cpu, axis=0), np.array(found)


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(
        np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth, strict=True)])
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--kinds", nargs="+", default=["clustered", "uniform"])
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--flat-queries", type=int, default=100, help="for exact search at 1M")
    parser.add_argument("--nprobe", type=int, nargs="+", default=[16, DEFAULT_NPROBE, 64, 128])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--out", default=str(DEFAULT_OUT))
    args = parser.parse_args()

    import faiss

    faiss.omp_set_num_threads(args.threads)
    load = os.getloadavg()
    rows, results = [], []
    for kind in args.kinds:
        for n in args.sizes:
            t0 = time.perf_counter()
            base = synthetic(n, args.dim, kind=kind, seed=0)
            queries = synthetic(args.queries, args.dim, kind=kind, seed=1)
            t_gen = time.perf_counter() - t0
            truth = exact_top(base, queries, args.k)
            ids = np.arange(n, dtype=np.int64)

            t0 = time.perf_counter()
            flat = build_index(ids, base, kind="flat")
            t_flat = time.perf_counter() - t0
            nq = args.queries if n <= 100_000 else args.flat_queries
            lat, cpu, found = time_queries(flat, queries[:nq], args.k)
            entry = {
                "kind": kind, "n": n, "index": "flat", "nprobe": None,
                "build_s": t_flat, "generate_s": t_gen, "queries": nq,
                "p50_ms": float(np.percentile(lat, 50)), "p99_ms": float(np.percentile(lat, 99)),
                "p99_cpu_ms": float(np.percentile(cpu, 99)),
                "recall_at_10": recall(found, truth[:nq]),
            }  # fmt: skip
            results.append(entry)
            rows.append([kind, n, "flat", "-", entry["p50_ms"], entry["p99_ms"],
                         entry["p99_cpu_ms"], entry["recall_at_10"], t_flat])  # fmt: skip
            del flat

            t0 = time.perf_counter()
            ivf = build_index(ids, base, kind="ivf")
            t_ivf = time.perf_counter() - t0
            nlist = faiss.downcast_index(ivf).nlist
            for nprobe in args.nprobe:
                ivf.nprobe = nprobe
                lat, cpu, found = time_queries(ivf, queries, args.k)
                entry = {
                    "kind": kind, "n": n, "index": f"ivf{nlist}", "nprobe": nprobe,
                    "build_s": t_ivf, "queries": len(queries),
                    "p50_ms": float(np.percentile(lat, 50)),
                    "p99_ms": float(np.percentile(lat, 99)),
                    "p99_cpu_ms": float(np.percentile(cpu, 99)),
                    "recall_at_10": recall(found, truth),
                }  # fmt: skip
                results.append(entry)
                rows.append([kind, n, entry["index"], nprobe, entry["p50_ms"], entry["p99_ms"],
                             entry["p99_cpu_ms"], entry["recall_at_10"], t_ivf])  # fmt: skip
            del ivf, base
            print(f"done: {kind} n={n}", flush=True)

    print_table(
        f"FAISS single-query latency, dim {args.dim}, {args.threads} thread(s), "
        f"load average {load[0]:.1f} at start",
        [
            "data",
            "vectors",
            "index",
            "nprobe",
            "p50 ms",
            "p99 ms",
            "p99 CPU ms",
            "recall@10",
            "build s",
        ],
        rows,
    )
    write_json(
        f"{args.out}/faiss_search.json",
        {"args": vars(args), "load_average_at_start": load, "results": results},
    )


if __name__ == "__main__":
    main()
