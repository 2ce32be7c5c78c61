"""``train lm`` with its defaults on ~1,000 folk tunes: a bigram baseline, runs, throughput.

Run::

    # 1. the data: ~1,000 dance tunes as a plain folder of MIDI files (no metadata, so
    #    train lm splits it 80/10/10 by a seeded hash of each file name, as for any
    #    user's folder)
    python benchmarks/lm_defaults.py subset --out /tmp/lmdef/folk1k_midi [--per-collection 340]
    # 2. the runs: exactly the command a user types (defaults otherwise)
    torchmusic train lm --data /tmp/lmdef/folk1k_midi --max_minutes 6 --out /tmp/lmdef/runs/new
    # 3. the table: bigram (add-k, k chosen on the valid split) on the runs' own split,
    #    and each run's test nats/token
    python benchmarks/lm_defaults.py table new=/tmp/lmdef/runs/new old=/tmp/lmdef/runs/old
    # optional: training throughput (tokens/s) of Transformer sizes on this machine
    python benchmarks/lm_defaults.py profile [--threads 1,2] [--batch 16] [--seq-len 512]

``subset`` builds the O'Neill's / Ryan's / Aird's collections of the folk corpus with
``--per-collection`` tunes each (evenly spaced, :func:`build_folk_corpus`'s ``limit``)
and copies the MIDI files into one flat folder. ``table`` reads each run folder's
``tokens.npz`` (its tokenised corpus, splits included) and ``metrics.json``; the bigram
is fitted on the first run's training split, as in ``benchmarks/folk_lm.py``.
``profile`` times forward + backward + AdamW steps of each Transformer size of
:data:`torchmusic.training.lm.job.AUTO_SIZES` (plus the previous default 6 x 256) on
random token windows: tokens/s counts every position of a full window.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

from _common import DEFAULT_OUT, machine, print_table, write_json


def make_subset(args: argparse.Namespace) -> None:
    from torchmusic.symbolic import build_folk_corpus

    corpus = Path(args.corpus) if args.corpus else Path(str(args.out) + "_corpus")
    report = build_folk_corpus(
        corpus,
        collections="oneills,ryans,aird",
        limit=args.per_collection,
        workers=args.workers,
        progress=False,
    )
    print(report.summary())
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    n = 0
    for path in sorted((corpus / "midi").rglob("*.mid")):
        shutil.copy2(path, out / path.name)
        n += 1
    print(f"{n} MIDI files in {out}")


def table(args: argparse.Namespace) -> None:
    from folk_lm import bigram_row
    from torchmusic.symbolic import build_tokenizer
    from torchmusic.symbolic.tokenized import TokenizedCorpus
    from torchmusic.training.lm import canonical_tokenizer

    runs = dict(item.split("=", 1) for item in args.runs)
    first = Path(next(iter(runs.values())))
    data = TokenizedCorpus.load(first / "tokens.npz")
    tok = canonical_tokenizer(build_tokenizer("REMI"))
    bigram = bigram_row(data, tok, None)
    lengths = {s: int(data.split(s).n_tokens) for s in ("train", "valid", "test")}
    pieces = {s: len(data.split(s)) for s in ("train", "valid", "test")}
    print(f"pieces {pieces}, tokens {lengths}")
    rows: list[list[Any]] = [
        ["bigram (add-k)", "-", bigram["parameters"], 0, 0, "-",
         round(bigram["val_nats_per_token"], 3), round(bigram["test_nats_per_token"], 3), "-"],
    ]  # fmt: skip
    payload: dict[str, Any] = {"bigram": bigram, "runs": {}, "pieces": pieces, "tokens": lengths}
    for name, folder in runs.items():
        folder = Path(folder)
        m = json.loads((folder / "metrics.json").read_text())
        other = TokenizedCorpus.load(folder / "tokens.npz")
        same = [a.tolist() for a in other.split("test").ids] == [
            a.tolist() for a in data.split("test").ids
        ]
        spec_cfg = _model_size(folder)
        gain = 1.0 - m["test_nats_per_token"] / bigram["test_nats_per_token"]
        rows.append([
            name, spec_cfg, m["parameters"], m.get("train_minutes"), m["global_step"],
            m.get("train_tokens_per_s"), round(m["val_nats_per_token"], 3),
            round(m["test_nats_per_token"], 3), f"{100 * gain:.1f} %",
        ])  # fmt: skip
        payload["runs"][name] = {"folder": str(folder), "metrics": m, "same_test_split": same}
        if not same:
            print(f"warning: {name} was tested on another split than {first}")
    header = ["model", "size", "weights", "train min", "steps", "train tokens/s",
              "valid nats/token", "test nats/token", "better than bigram"]  # fmt: skip
    payload["table"] = print_table("train lm defaults on ~1,000 folk tunes", header, rows)
    payload["machine"] = machine()
    payload["load_average"] = os.getloadavg()
    write_json(Path(args.json), payload)


def _model_size(folder: Path) -> str:
    from torchmusic.models.symbolic import read_generator_spec

    spec = read_generator_spec(folder / "model.safetensors")
    c = spec.model_config
    auto = " (auto)" if spec.extra.get("auto_model") else ""
    return f"{c.get('n_layer')} x {c.get('n_embd')}, seq {spec.extra.get('seq_len')}{auto}"


def profile(args: argparse.Namespace) -> None:
    import torch

    from torchmusic.training.lm.job import AUTO_SIZES, seconds_per_step

    sizes = [*AUTO_SIZES[: args.sizes], (6, 256, 8)]
    rows = []
    results = []
    for threads in [int(t) for t in args.threads.split(",")]:
        torch.set_num_threads(threads)
        for n_layer, n_embd, n_head in sizes:
            for dropout in [float(d) for d in args.dropout.split(",")]:
                config = {"n_layer": n_layer, "n_embd": n_embd, "n_head": n_head}
                times = [
                    seconds_per_step(
                        {**config, "dropout": dropout},
                        vocab_size=args.vocab,
                        batch_size=args.batch,
                        seq_len=args.seq_len,
                        steps=args.steps,
                    )
                    for _ in range(args.repeats)
                ]
                s = statistics.median(times)
                rate = args.batch * args.seq_len / s
                row = [threads, f"{n_layer} x {n_embd}", dropout, round(s, 3), round(rate)]
                print(row, flush=True)
                rows.append(row)
                results.append(dict(zip(["threads", "size", "dropout", "s_per_step",
                                         "tokens_per_s"], row, strict=True)))  # fmt: skip
    header = ["threads", "size", "dropout", "s / step", "tokens/s"]
    text = print_table(
        f"Transformer training steps (batch {args.batch} x {args.seq_len} tokens, "
        f"load average {os.getloadavg()[0]:.1f})",
        header,
        rows,
    )
    write_json(
        Path(args.json),
        {"table": text, "rows": results, "settings": vars(args), "machine": machine()},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("subset", help="build the ~1,000-tune plain MIDI folder")
    s.add_argument("--out", required=True)
    s.add_argument("--corpus", default=None, help="folk corpus folder (default: OUT_corpus)")
    s.add_argument("--per-collection", type=int, default=340)
    s.add_argument("--workers", type=int, default=None)
    t = sub.add_parser("table", help="bigram + runs on the runs' test split")
    t.add_argument("runs", nargs="+", help="NAME=RUN_FOLDER")
    t.add_argument("--json", default=DEFAULT_OUT / "lm_defaults.json")
    p = sub.add_parser("profile", help="tokens/s of the Transformer sizes")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--seq-len", type=int, default=512)
    p.add_argument("--vocab", type=int, default=330)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--sizes", type=int, default=3, help="how many of AUTO_SIZES")
    p.add_argument("--dropout", default="0.1")
    p.add_argument("--json", default=DEFAULT_OUT / "lm_profile.json")
    args = parser.parse_args()
    t0 = time.perf_counter()
    {"subset": make_subset, "table": table, "profile": profile}[args.command](args)
    print(f"{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
