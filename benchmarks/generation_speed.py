"""Generation speed (tokens/s) of a folk-sized Transformer, with and without the KV cache.

Run: ``python benchmarks/generation_speed.py [--out bench_out/generation_speed.json]
[--lengths 256 1024] [--threads 1] [--device cpu]``

The model is the shipped folk model's size (6 layers, 8 heads, 256 wide, rotary
positions, context 1024 tokens, a REMI-sized vocabulary with condition tokens);
its weights are random, which does not change the cost of a token. Each length is
generated from a 4-token prompt with the same seed and sampling settings
(temperature 1, top-p 0.95) both ways: with the cache each step feeds one token;
without it each step re-runs the whole context (up to ``block_size`` tokens, the
window then slides: see :mod:`torchmusic.models.symbolic.sampling`). Both paths
must give the same tokens, which the script checks. Times are wall clock on the CPU
with ``--threads`` intra-op threads (1 by default: the numbers then do not depend on
how busy a shared machine's other cores are); cached and uncached runs alternate,
and the median of ``--repeats`` is reported. Target: >= 5x at 1024 tokens.
``--device cuda`` runs the model on the GPU instead (sampling stays on the CPU
generator, so the tokens are the same; every step reads its token back, which
synchronises).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from _common import DEFAULT_OUT, print_table, write_json

CONFIG = {
    "vocab_size": 420,  # REMI (~360) plus tune-type/key/meter condition tokens
    "n_layer": 6,
    "n_head": 8,
    "n_embd": 256,
    "block_size": 1024,
    "dropout": 0.1,
    "positions": "rotary",
}
PROMPT = [1, 2, 3, 4]
SAMPLING = {"temperature": 1.0, "top_p": 0.95, "seed": 0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=DEFAULT_OUT / "generation_speed.json")
    parser.add_argument("--lengths", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    args = parser.parse_args()

    from torchmusic.models.symbolic import build_generator, generate

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = build_generator("transformer", **CONFIG).eval().to(args.device)
    n_params = model.num_parameters()

    def run(n: int, use_cache: bool) -> tuple[float, list[int]]:
        t0 = time.perf_counter()
        out = generate(model, PROMPT, max_new_tokens=n, use_cache=use_cache, **SAMPLING)
        return time.perf_counter() - t0, out

    run(16, True), run(16, False)  # warm-up: allocator, kernels
    rows, results = [], []
    for n in args.lengths:
        times: dict[bool, list[float]] = {True: [], False: []}
        tokens: dict[bool, list[int]] = {}
        for _ in range(args.repeats):
            for use_cache in (True, False):
                dt, tokens[use_cache] = run(n, use_cache)
                times[use_cache].append(dt)
        cached, uncached = statistics.median(times[True]), statistics.median(times[False])
        same = tokens[True] == tokens[False]
        res = {
            "new_tokens": n,
            "cached_s": cached,
            "uncached_s": uncached,
            "cached_tokens_per_s": n / cached,
            "uncached_tokens_per_s": n / uncached,
            "speedup": uncached / cached,
            "identical_tokens": same,
        }
        results.append(res)
        rows.append([n, n / cached, n / uncached, uncached / cached, same])
        print(f"{n} tokens: cached {cached:.2f} s, uncached {uncached:.2f} s", flush=True)

    table = print_table(
        f"Generation tokens/s, Transformer 6x256 (block 1024, {n_params / 1e6:.1f} M params), "
        + (f"CPU, {args.threads} thread(s)" if args.device == "cpu" else args.device),
        ["new tokens", "KV cache tok/s", "no cache tok/s", "speedup", "same tokens"],
        rows,
    )
    write_json(
        args.out,
        {
            "benchmark": "generation_speed",
            "model": CONFIG,
            "parameters": n_params,
            "prompt_tokens": len(PROMPT),
            "sampling": SAMPLING,
            "threads": args.threads,
            "device": args.device,
            "repeats": args.repeats,
            "target_speedup_at_1024": 5.0,
            "results": results,
            "table": table,
        },
    )


if __name__ == "__main__":
    main()
