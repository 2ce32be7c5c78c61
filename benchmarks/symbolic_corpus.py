"""Folk corpus: building (music21 ABC -> MIDI) and tokenising (symusic + miditok) speed.

Run: ``python benchmarks/symbolic_corpus.py [--limit 100] [--workers 1,2] [--tokenizers REMI,TSD]``

1. Build: ``build_folk_corpus`` of ``--limit`` tunes per collection (4 collections)
   into a fresh folder, once per worker count (tunes/s; music21's ABC parser is
   the cost, so this is the number that scales the full ~12,600-tune build).
2. Tokenise: ``tokenize_corpus`` of the built corpus with each tokenizer and worker
   count (files/s, tokens/s, tokens per tune), contenders interleaved over
   ``--repeats`` rounds, medians reported. ``--corpus DIR`` tokenises an existing
   corpus instead (e.g. the full build) and skips step 1.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from _common import DEFAULT_OUT, interleaved_medians, machine, print_table, write_json


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--limit", type=int, default=100, help="tunes per collection to build")
    parser.add_argument("--workers", default="1,2", help="comma list of worker counts")
    parser.add_argument("--tokenizers", default="REMI,TSD")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--corpus", type=Path, default=None, help="tokenise this corpus only")
    args = parser.parse_args(argv)

    from torchmusic.symbolic import MidiCorpus, build_folk_corpus, build_tokenizer, tokenize_corpus

    workers = [int(w) for w in args.workers.split(",") if w.strip()]
    names = [t.strip() for t in args.tokenizers.split(",") if t.strip()]
    tmp = tempfile.TemporaryDirectory(prefix="bench-folk-")
    build_rows, builds = [], []
    corpus_dir = args.corpus
    if corpus_dir is None:
        for w in workers:
            out = Path(tmp.name) / f"folk-w{w}"
            t0 = time.perf_counter()
            report = build_folk_corpus(out, limit=args.limit, workers=w, progress=False)
            seconds = time.perf_counter() - t0
            tried = report.written + len(report.skipped)
            entry = {
                "workers": w,
                "tunes": tried,
                "written": report.written,
                "skipped": len(report.skipped),
                "seconds": round(seconds, 2),
                "tunes_per_s": round(tried / seconds, 2),
            }
            builds.append(entry)
            build_rows.append(
                [w, tried, report.written, len(report.skipped), seconds, tried / seconds]
            )
            print(f"build, {w} worker(s): {tried / seconds:.1f} tunes/s", flush=True)
            corpus_dir = out

    corpus = MidiCorpus.from_folder(corpus_dir)
    tokenizers = {name: build_tokenizer(name) for name in names}
    stats = {}
    contenders = {}
    for name, tok in tokenizers.items():
        data = tokenize_corpus(corpus, tok, workers=1, progress=False)
        stats[name] = {"tokens": data.n_tokens, "files": len(data), "failures": len(data.failures)}
        for w in workers:
            contenders[f"{name}/w{w}"] = lambda tok=tok, w=w: tokenize_corpus(
                corpus, tok, workers=w, progress=False
            )
    medians = interleaved_medians(contenders, repeats=args.repeats, warmup=0)
    tok_rows, toks = [], []
    for key, seconds in medians.items():
        name, w = key.split("/w")
        s = stats[name]
        entry = {
            "tokenizer": name,
            "workers": int(w),
            "files": len(corpus),
            "seconds": round(seconds, 3),
            "files_per_s": round(len(corpus) / seconds, 1),
            "tokens_per_s": round(s["tokens"] / seconds),
            "tokens_per_tune": round(s["tokens"] / max(1, s["files"]), 1),
            "vocab": len(tokenizers[name]),
            "failures": s["failures"],
        }
        toks.append(entry)
        tok_rows.append(
            [
                name,
                int(w),
                len(corpus),
                entry["files_per_s"],
                entry["tokens_per_s"],
                entry["tokens_per_tune"],
                entry["vocab"],
            ]
        )

    facts = machine()
    where = f"{facts['cpu']}, {facts['cpu_count']} CPUs"
    tables = ""
    if build_rows:
        tables += print_table(
            f"Folk corpus build, {args.limit} tunes per collection ({where})",
            ["workers", "tunes", "written", "skipped", "seconds", "tunes/s"],
            build_rows,
        )
    tables += print_table(
        f"Folk corpus tokenisation ({where})",
        ["tokenizer", "workers", "files", "files/s", "tokens/s", "tokens/tune", "vocab"],
        tok_rows,
    )
    write_json(
        args.out / "symbolic_corpus.json",
        {
            "command": "python "
            + " ".join([sys.argv[0], *(argv if argv is not None else sys.argv[1:])]),
            "limit": args.limit if args.corpus is None else None,
            "corpus": str(corpus_dir) if args.corpus is not None else None,
            "build": builds,
            "tokenize": toks,
            "table": tables,
        },
    )
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
