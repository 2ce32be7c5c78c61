"""Run the quick mode of every benchmark (what ``make bench`` does), within a time bound.

Each benchmark script measures one topic, prints its table and writes JSON; their
full runs (tables in docs/benchmarks.md) take minutes to hours. This runner calls
each with small settings, one after the other in its own process, under a per-script
timeout and an overall time budget, and writes the scripts' JSON plus a summary
(``run_all.json``: per script the command, status, seconds and output file) to
``--out`` (default ``bench_out/quick``). Scripts whose inputs are absent (the shared
data, a Debian package) are listed as skipped; the exit status is 1 when a script
failed or timed out, else 0.

    python benchmarks/run_all.py                  # everything quick, <= 15 minutes
    python benchmarks/run_all.py --only features  # regex on the names
    python benchmarks/run_all.py --list           # what would run
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import DEFAULT_OUT, SHARED_DATA, print_table  # noqa: E402


@dataclasses.dataclass(frozen=True)
class Bench:
    """One quick benchmark: the script, its quick arguments and what it needs."""

    name: str
    args: tuple[str, ...]
    out: str  # "file": --out FILE.json; "dir": --out DIR (the script names the file)
    needs: tuple[Path, ...] = ()
    timeout: float = 180.0


# Quick settings: small sizes, one repeat. OUT is replaced by the output file or folder.
BENCHES: tuple[Bench, ...] = (
    Bench("features_logmel", ("--repeats", "1", "--batches", "1", "16"), "file",
          (SHARED_DATA / "recordings",)),
    Bench("excerpt_memory", ("--formats", "wav", "flac", "--skip-librosa"), "file"),
    Bench("generation_speed", ("--lengths", "128", "--repeats", "1"), "file"),
    Bench("faiss_search", ("--sizes", "10000", "--kinds", "clustered", "--queries", "100",
                           "--flat-queries", "20", "--nprobe", "16"), "dir"),
    Bench("recommend_latency", ("--users", "100"), "dir", (SHARED_DATA / "lastfm_2k",)),
    Bench("cache_layout", ("--n", "100", "--kill-trials", "1", "--repeats", "1"), "file"),
    Bench("folder_extraction", ("--sets", "drums", "--repeats", "1", "--workers", "2"), "file",
          (Path("/usr/share/hydrogen/data/drumkits"),), 300.0),
    Bench("symbolic_corpus", ("--limit", "5", "--repeats", "1", "--workers", "1",
                              "--tokenizers", "REMI"), "dir"),
    Bench("cli_startup", ("--repeats", "1", "--no-sub-help", "--only", "help|info"), "dir"),
)  # fmt: skip


def command(bench: Bench, out: Path) -> list[str]:
    """The command line of one quick benchmark writing under ``out``."""
    target = out / f"{bench.name}.json" if bench.out == "file" else out
    return [sys.executable, str(HERE / f"{bench.name}.py"), *bench.args, "--out", str(target)]


def run_one(bench: Bench, out: Path, *, timeout: float) -> dict[str, object]:
    """Run one benchmark; its output goes to ``out/<name>.log``."""
    missing = [str(p) for p in bench.needs if not p.exists()]
    row: dict[str, object] = {"name": bench.name, "command": command(bench, out)}
    if missing:
        return {**row, "status": "skipped", "seconds": 0.0, "reason": f"missing {missing}"}
    log = out / f"{bench.name}.log"
    start = time.perf_counter()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with open(log, "w", encoding="utf-8") as handle:
        try:
            code = subprocess.run(
                command(bench, out), stdout=handle, stderr=subprocess.STDOUT,
                timeout=timeout, env=env, cwd=HERE.parent, check=False,
            ).returncode  # fmt: skip
            status = "ok" if code == 0 else f"failed (exit {code})"
        except subprocess.TimeoutExpired:
            status = f"timed out ({timeout:.0f} s)"
    seconds = round(time.perf_counter() - start, 1)
    return {**row, "status": status, "seconds": seconds, "log": str(log)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT / "quick")
    parser.add_argument("--only", default=None, help="regex: run only matching benchmarks")
    parser.add_argument("--max-minutes", type=float, default=15.0, help="overall time bound")
    parser.add_argument("--list", action="store_true", help="print the commands and exit")
    args = parser.parse_args(argv)

    chosen = [b for b in BENCHES if args.only is None or re.search(args.only, b.name)]
    if not chosen:
        parser.error(f"--only {args.only!r} matches none of {[b.name for b in BENCHES]}")
    if args.list:
        for bench in chosen:
            print(" ".join(command(bench, args.out)))
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + 60.0 * args.max_minutes
    results: list[dict[str, object]] = []
    for bench in chosen:
        left = deadline - time.monotonic()
        if left < 10:
            results.append({"name": bench.name, "status": "not run (time bound)", "seconds": 0.0})
            continue
        print(f"== {bench.name}", flush=True)
        result = run_one(bench, args.out, timeout=min(bench.timeout, left))
        results.append(result)
        print(f"   {result['status']} in {result['seconds']} s", flush=True)

    print()
    print_table(
        "quick benchmarks",
        ["benchmark", "status", "seconds"],
        [[r["name"], r["status"], r["seconds"]] for r in results],
    )
    summary = args.out / "run_all.json"
    summary.write_text(json.dumps({"benchmark": "run_all", "results": results}, indent=2) + "\n")
    print(f"\nwritten: {summary}")
    bad = [r for r in results if str(r["status"]).startswith(("failed", "timed out"))]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
