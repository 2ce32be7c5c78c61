"""Command-line startup: wall time of each command's cheapest real invocation, per source tree.

Run: ``python benchmarks/cli_startup.py [--tree before=/tmp/tm_before/src --tree after=src]
[--repeats 5] [--timeout 120] [--only REGEX] [--out bench_out]``

Every command runs in a fresh interpreter (``python -c`` calling
``torchmusic.cli.main.main([...])``, which is what the ``torchmusic`` script does),
with the tree's ``src`` folder alone on ``PYTHONPATH`` (it comes before the
virtualenv's editable install; each run checks that ``torchmusic.__file__`` lies in
that tree). The runner records, in a ``finally`` block, the modules the command
imported, so the table also says which heavy packages (torch, lightning, scipy,
sklearn, ...) each command pulled in. Trees are measured side by side: every repeat
runs every command once per tree, alternating which tree goes first, and the median
of ``--repeats`` timed runs (after one untimed warm-up run) is reported.

Commands: ``torchmusic --help``, ``--version``, every command's and sub-command's
``--help``, and the cheapest real use of the commands that do work: ``catalog info``,
``similar`` (track id and audio file), ``recommend --like`` on popularity, item-kNN,
ALS and content models, ``predict --model drums``, ``generate --model folk -n 1
--bars 1`` and ``info``. Their inputs are made once in a temporary folder with the
FIRST tree (list the oldest tree first so its files are readable by all): four
generated 4 s WAVs, an MFCC catalog of them (``torchmusic embed --model mfcc``) and
recommenders fitted on tiny synthetic listening data (``torchmusic.recommend``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import DEFAULT_OUT, REPO, print_table, write_json

#: Packages whose import a command should not pay for unless it uses them.
HEAVY = (
    "torch",
    "lightning",
    "pytorch_lightning",
    "scipy",
    "sklearn",
    "torchmusic.training",
    "matplotlib",
    "faiss",
    "implicit",
    "music21",
    "librosa",
    "numpy",
)

RUNNER = r"""
import json, sys
report, argv = sys.argv[1], sys.argv[2:]
code = 0
try:
    from torchmusic.cli.main import main
    code = main(argv)
except SystemExit as exc:
    code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
finally:
    tm = sys.modules.get("torchmusic")
    with open(report, "w") as f:
        json.dump({"file": getattr(tm, "__file__", None), "modules": sorted(sys.modules),
                   "code": code}, f)
sys.exit(code or 0)
"""

COMMANDS_SCRIPT = r"""
import argparse, json
from torchmusic.cli.main import build_parser
out = []
def walk(p, prefix):
    for a in p._actions:
        if isinstance(a, argparse._SubParsersAction):
            for name, sub in a.choices.items():
                out.append(prefix + [name])
                walk(sub, prefix + [name])
walk(build_parser(), [])
print(json.dumps(out))
"""

FIXTURES_SCRIPT = r"""
import sys
from pathlib import Path
import numpy as np
import scipy.sparse as sp
import soundfile as sf

root = Path(sys.argv[1])
rng = np.random.default_rng(0)
sr = 22050
t = np.arange(4 * sr) / sr
for i in range(4):
    y = 0.3 * np.sin(2 * np.pi * 110 * (i + 1) * t) + 0.05 * rng.standard_normal(t.size)
    sf.write(root / f"track{i}.wav", y.astype(np.float32), sr)

from torchmusic.recommend import ListeningData, recommender_class

n_users, n_items, n_tags = 60, 40, 6
plays = (rng.random((n_users, n_items)) < 0.15) * rng.integers(1, 60, (n_users, n_items))
for u in range(n_users):  # every user and item has some plays
    plays[u, u % n_items] += 5
    plays[u, (7 * u + 3) % n_items] += 5
tags = np.array([f"tag{i}" for i in range(n_tags)])
assign = np.array(
    [[u % n_users, i, (i + u) % n_tags] for i in range(n_items) for u in range(3)], dtype=np.int64
)
data = ListeningData(
    users=np.array([f"u{i}" for i in range(n_users)]),
    items=np.array([f"a{i}" for i in range(n_items)]),
    item_names=np.array([f"Artist {i}" for i in range(n_items)]),
    plays=sp.csr_matrix(plays.astype(np.float32)),
    tags=tags,
    tag_assignments=assign,
)
for kind in sys.argv[2:]:
    model = recommender_class(kind)()
    model.fit(data)
    model.save(root / f"{kind}.safetensors")
    print(f"fitted {kind}", flush=True)
"""

RECOMMENDERS = ("popularity", "itemknn", "als", "content")


def tree_env(src: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(src)
    return env


def run_cli(
    src: Path, argv: list[str], *, timeout: float, report: Path, cwd: Path
) -> dict[str, Any]:
    """One fresh-interpreter run of ``torchmusic argv`` from ``src``: time, exit, modules."""
    report.unlink(missing_ok=True)
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, "-c", RUNNER, str(report), *argv],
            env=tree_env(src),
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return {"seconds": None, "code": "timeout", "modules": [], "file": None, "tail": ""}
    seconds = time.perf_counter() - t0
    info: dict[str, Any] = {"modules": [], "file": None}
    if report.is_file():
        info = json.loads(report.read_text())
    tail = (proc.stdout[-300:] + proc.stderr[-600:]).strip()
    return {
        "seconds": seconds,
        "code": proc.returncode,
        "modules": info["modules"],
        "file": info["file"],
        "tail": tail,
    }


def heavy(modules: list[str]) -> list[str]:
    present = set(modules)
    return [name for name in HEAVY if name in present]


def discover_commands(src: Path) -> list[list[str]]:
    out = subprocess.run(
        [sys.executable, "-c", COMMANDS_SCRIPT],
        env=tree_env(src),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(out.stdout)


def make_fixtures(src: Path, root: Path, timeout: float) -> dict[str, Path]:
    """WAVs, an MFCC catalog and recommender files, written with the tree ``src``."""
    subprocess.run(
        [sys.executable, "-c", FIXTURES_SCRIPT, str(root), *RECOMMENDERS],
        env=tree_env(src),
        check=True,
        timeout=max(timeout, 300),
    )
    wavs = sorted(root.glob("track*.wav"))
    catalog = root / "catalog"
    res = run_cli(
        src,
        ["embed", *map(str, wavs), "--model", "mfcc", "-o", str(catalog), "--no-progress"],
        timeout=max(timeout, 300),
        report=root / "embed_report.json",
        cwd=root,
    )
    if res["code"] != 0:
        raise SystemExit(f"building the catalog failed:\n{res['tail']}")
    return {
        "wav": wavs[0],
        "catalog": catalog,
        **{k: root / f"{k}.safetensors" for k in RECOMMENDERS},
    }


def command_list(
    helps: list[list[str]], fx: dict[str, Path], gen_out: Path
) -> list[tuple[str, list[str]]]:
    cmds: list[tuple[str, list[str]]] = [("--help", ["--help"]), ("--version", ["--version"])]
    cmds += [(" ".join(h) + " --help", [*h, "--help"]) for h in helps]
    wav, cat = str(fx["wav"]), str(fx["catalog"])
    cmds += [
        ("catalog info", ["catalog", "info", "--catalog", cat]),
        ("similar (track id)", ["similar", "1", "--catalog", cat, "-k", "3"]),
        ("similar (audio file)", ["similar", wav, "--catalog", cat, "-k", "3"]),
    ]
    for kind in RECOMMENDERS:
        cmds.append(
            (
                f"recommend ({kind})",
                ["recommend", "--model", str(fx[kind]), "--like", "a1", "-k", "5"],
            )
        )
    cmds += [
        ("predict --model drums", ["predict", "--model", "drums", wav, "--no-progress"]),
        (
            "generate --model folk -n 1 --bars 1",
            [*"generate --model folk -n 1 --bars 1 --seed 0 -o".split(), str(gen_out)],
        ),
        ("info", ["info"]),
    ]
    return cmds


def git_rev(src: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(src), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, timeout=10, check=True,
        )  # fmt: skip
        dirty = subprocess.run(
            ["git", "-C", str(src), "status", "--porcelain", "--", "."],
            capture_output=True, text=True, timeout=30,
        ).stdout.strip()  # fmt: skip
        return out.stdout.strip() + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def parse_trees(specs: list[str] | None) -> dict[str, Path]:
    trees: dict[str, Path] = {}
    for spec in specs or ["current=src"]:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise SystemExit(f"--tree {spec!r}: expected NAME=PATH/TO/src")
        src = Path(path)
        if not src.is_absolute():
            src = (REPO / src) if not src.exists() else src.resolve()
        if not (src / "torchmusic" / "__init__.py").is_file():
            raise SystemExit(f"--tree {spec!r}: {src}/torchmusic/__init__.py not found")
        trees[name] = src.resolve()
    return trees


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--tree", action="append", metavar="NAME=SRC",
        help="a source tree's src folder (repeat; the first builds the inputs). Default: current=src",
    )  # fmt: skip
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per run")
    parser.add_argument("--only", default=None, help="regex: measure only matching command names")
    parser.add_argument("--no-sub-help", action="store_true", help="skip sub-commands' --help")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--keep", action="store_true", help="keep the temporary inputs folder")
    args = parser.parse_args(argv)

    trees = parse_trees(args.tree)
    names = list(trees)
    tmp = Path(tempfile.mkdtemp(prefix="cli_startup_"))
    t_start = time.perf_counter()
    try:
        helps: list[list[str]] = []
        for src in trees.values():
            for h in discover_commands(src):
                if h not in helps and (not args.no_sub_help or len(h) == 1):
                    helps.append(h)
        print(f"building inputs in {tmp} with tree {names[0]!r} ...", flush=True)
        fixtures = make_fixtures(trees[names[0]], tmp, args.timeout)
        commands = command_list(helps, fixtures, tmp / "generated")
        if args.only:
            commands = [c for c in commands if re.search(args.only, c[0])]
        results: dict[str, dict[str, Any]] = {
            label: {name: {"times": [], "codes": [], "modules": [], "file": None} for name in names}
            for label, _ in commands
        }

        def once(label: str, cmd: list[str], name: str, timed: bool) -> None:
            res = run_cli(
                trees[name], cmd, timeout=args.timeout, report=tmp / "report.json", cwd=tmp
            )
            entry = results[label][name]
            file = res["file"]
            if file is not None and not Path(file).resolve().is_relative_to(trees[name]):
                raise SystemExit(f"tree {name!r}: torchmusic came from {file}, not {trees[name]}")
            entry["file"] = file
            entry["modules"] = res["modules"] or entry["modules"]
            entry["tail"] = res["tail"]
            if timed:
                entry["times"].append(res["seconds"])
                entry["codes"].append(res["code"])
            shutil.rmtree(tmp / "generated", ignore_errors=True)

        for label, cmd in commands:  # warm-up: byte-code caches, file cache
            for name in names:
                once(label, cmd, name, timed=False)
        for r in range(args.repeats):
            order = names if r % 2 == 0 else names[::-1]
            for label, cmd in commands:
                for name in order:
                    once(label, cmd, name, timed=True)
            print(
                f"repeat {r + 1}/{args.repeats} done ({time.perf_counter() - t_start:.0f} s)",
                flush=True,
            )
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)

    rows, records = [], []
    base = names[0]
    for label, cmd in commands:
        rec: dict[str, Any] = {"command": label, "argv": cmd, "trees": {}}
        row: list[Any] = [label]
        medians: dict[str, float | None] = {}
        for name in names:
            e = results[label][name]
            ok = [t for t, c in zip(e["times"], e["codes"], strict=True) if t is not None]
            med = statistics.median(ok) if ok else None
            medians[name] = med
            codes = sorted({str(c) for c in e["codes"]})
            rec["trees"][name] = {
                "median_s": med,
                "times_s": e["times"],
                "exit_codes": e["codes"],
                "heavy_modules": heavy(e["modules"]),
                "n_modules": len(e["modules"]),
                "torchmusic_file": e["file"],
                "output_tail": e.get("tail", "")[-400:],
            }
            cell = f"{med:.3f}" if med is not None else "timeout"
            if codes != ["0"]:
                cell += f" (exit {','.join(codes)})"
            row.append(cell)
        for name in names[1:]:
            a, b = medians[base], medians[name]
            row.append(f"{b / a:.2f}" if a and b else "-")
        for name in names:
            row.append(
                ", ".join(h for h in heavy(results[label][name]["modules"]) if h != "numpy") or "-"
            )
        rows.append(row)
        records.append(rec)
    header = ["command", *(f"{n} median s" for n in names)]
    header += [f"{n} / {base}" for n in names[1:]]
    header += [f"heavy modules {n}" for n in names]
    table = print_table(
        f"torchmusic command startup, median of {args.repeats} (wall s, fresh interpreter)",
        header,
        rows,
    )
    tree_info = {n: {"src": str(p), "git": git_rev(p)} for n, p in trees.items()}
    print(f"total {time.perf_counter() - t_start:.0f} s")
    write_json(
        Path(args.out) / "cli_startup.json",
        {
            "benchmark": "cli_startup",
            "command": " ".join([sys.argv[0], *(argv if argv is not None else sys.argv[1:])]),
            "trees": tree_info,
            "repeats": args.repeats,
            "heavy_tracked": list(HEAVY),
            "results": records,
            "table": table,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
