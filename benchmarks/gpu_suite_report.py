"""Merge the GPU suite's per-step results into one JSON and one markdown table.

Run: ``python benchmarks/gpu_suite_report.py --dir bench_out/gpu_suite [--device cuda]``
(``benchmarks/gpu_suite.sh`` calls it last).

Reads, from ``--dir``: ``machine.json`` (GPU name, driver, torch/CUDA versions, CPU
count), ``steps.tsv`` (status and elapsed seconds of each step), ``pytest_gpu.xml``
(JUnit) and the benchmarks' own JSON files (``features_logmel.json``,
``train_throughput.json``, ``embed_throughput.json``, ``generation_speed.json``).
Writes ``gpu_suite.json`` (all of it) and ``gpu_suite.md`` (machine line + one table),
and prints the table. A step that failed or timed out keeps its row, with the status
and the last lines of its log. Imports nothing heavy (no torch).
"""

from __future__ import annotations

import argparse
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

STEPS = (
    ("pytest_gpu", "pytest -m gpu"),
    ("features_logmel", "log-mel vs librosa"),
    ("train_throughput", "training throughput"),
    ("embed_throughput", "embedding throughput"),
    ("generation_speed", "generation speed"),
)


def _load(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def read_steps(path: Path) -> dict[str, dict[str, Any]]:
    steps: dict[str, dict[str, Any]] = {}
    if not path.is_file():
        return steps
    for line in path.read_text().splitlines():
        parts = line.split("\t")
        if len(parts) >= 3:
            name, status, secs = parts[:3]
            try:
                seconds: float | None = float(secs)
            except ValueError:
                seconds = None
            steps[name] = {"status": status, "seconds": seconds, "note": "\t".join(parts[3:])}
    return steps


def pytest_rows(path: Path) -> tuple[list[tuple[str, str]], dict[str, Any] | None]:
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return [], None
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    cases = []
    for suite in suites:
        for key in counts:
            counts[key] += int(suite.get(key, 0))
        for case in suite.iter("testcase"):
            outcome = "passed"
            for tag in ("failure", "error", "skipped"):
                if case.find(tag) is not None:
                    outcome = tag
            cases.append(
                {"name": f"{case.get('classname')}::{case.get('name')}", "outcome": outcome}
            )
    passed = counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"]
    summary = {**counts, "passed": passed, "cases": cases}
    text = (
        f"{passed} passed, {counts['failures']} failed, {counts['errors']} errors, "
        f"{counts['skipped']} skipped"
    )
    return [("tests marked gpu", text)], summary


def _f(value: Any, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def logmel_rows(data: dict[str, Any], device: str) -> list[tuple[str, str]]:
    rows = []
    for r in data.get("results", []):
        ms = r.get("ms_per_clip", {})
        librosa = min(ms.get("librosa_loop", float("inf")), ms.get("librosa_batched", float("inf")))
        if device == "cuda" and r.get("speedup_cuda") is not None:
            ours, speedup, label = ms.get("torchmusic_cuda"), r["speedup_cuda"], "CUDA"
        else:
            ours, speedup, label = ms.get("torchmusic_cpu"), r.get("speedup_cpu"), "CPU"
        rows.append(
            (
                f"batch {r.get('batch')}",
                f"torchmusic {label} {_f(ours)} ms/clip, librosa {_f(librosa)} ms/clip: "
                f"{_f(speedup)}x",
            )
        )
    return rows


def train_rows(data: dict[str, Any], device: str) -> list[tuple[str, str]]:
    rows = []
    for r in data.get("results", []):
        if device == "cuda" and r.get("device") != "cuda":
            continue
        text = (
            f"{_f(r.get('clips_per_s'))} clips/s (bare step {_f(r.get('bare_clips_per_s'))}, "
            f"batch {r.get('batch_size')})"
        )
        if r.get("gpu_util_mean") is not None:
            share = r.get("gpu_util_ge90_share")
            text += f", GPU util {r['gpu_util_mean']} % mean"
            if share is not None:
                text += f", {share:.0%} of samples >= 90 %"
        rows.append((f"{r.get('device')} {r.get('model')}", text))
    return rows


def embed_rows(data: dict[str, Any], device: str) -> list[tuple[str, str]]:
    n = len(data.get("tracks", [])) or None
    minutes = data.get("minutes")
    rows = []
    for r in data.get("results", []):
        seconds = r.get("seconds")
        if device == "cuda" and r.get("device") not in (None, "cuda"):
            continue
        rate = f"{n / seconds:.3g} tracks/s" if n and seconds else "n/a"
        audio = f", {minutes * 60 / seconds:.4g} audio s per s" if minutes and seconds else ""
        rows.append((f"{r.get('embedder')} ({r.get('device', 'cpu')})", rate + audio))
    return rows


def generation_rows(data: dict[str, Any], device: str) -> list[tuple[str, str]]:
    dev = data.get("device", "cpu")
    return [
        (
            f"{r.get('new_tokens')} tokens ({dev})",
            f"KV cache {_f(r.get('cached_tokens_per_s'))} tok/s, no cache "
            f"{_f(r.get('uncached_tokens_per_s'))} tok/s ({_f(r.get('speedup'))}x), "
            f"same tokens: {r.get('identical_tokens')}",
        )
        for r in data.get("results", [])
    ]


ROWS = {
    "features_logmel": logmel_rows,
    "train_throughput": train_rows,
    "embed_throughput": embed_rows,
    "generation_speed": generation_rows,
}


def log_tail(folder: Path, name: str, lines: int = 3) -> str:
    try:
        text = (folder / "logs" / f"{name}.log").read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " / ".join(line.strip() for line in text[-lines:])


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def build_report(folder: Path, device: str = "cuda") -> tuple[dict[str, Any], str]:
    machine = _load(folder / "machine.json") or {}
    steps = read_steps(folder / "steps.tsv")
    payload: dict[str, Any] = {"machine": machine, "device": device, "steps": {}}
    lines = []
    gpu = machine.get("gpu") or "no GPU"
    lines.append(
        f"GPU suite on {gpu} (driver {machine.get('driver', 'n/a')}), torch "
        f"{machine.get('torch', 'n/a')} (CUDA {machine.get('torch_cuda') or 'n/a'}), "
        f"{machine.get('cpu_count', '?')} CPUs ({machine.get('cpu', '?')}), "
        f"Python {machine.get('python', '?')}"
        + (" - CPU DRY RUN, figures mean nothing" if machine.get("dry_run") else "")
    )
    if machine.get("missing_modules"):
        lines.append(f"missing Python modules: {', '.join(machine['missing_modules'])}")
    total = sum(s["seconds"] or 0 for s in steps.values())
    lines += [
        f"steps took {total:.0f} s in all",
        "",
        "| step | status | s | row | result |",
        "|---|---|---|---|---|",
    ]
    for name, title in STEPS:
        step = steps.get(name, {"status": "not run", "seconds": None, "note": ""})
        if name == "pytest_gpu":
            rows, data = pytest_rows(folder / "pytest_gpu.xml")
        else:
            data = _load(folder / f"{name}.json")
            rows = ROWS[name](data, device) if data else []
        payload["steps"][name] = {**step, "result": data}
        if not rows:
            tail = log_tail(folder, name)
            rows = [("-", f"no result{': ' + tail if tail else ''}")]
        secs = f"{step['seconds']:.1f}" if step.get("seconds") is not None else "-"
        for i, (row, text) in enumerate(rows):
            head = (title, step["status"], secs) if i == 0 else ("", "", "")
            lines.append("| " + " | ".join(_cell(c) for c in (*head, row, text)) + " |")
    table = "\n".join(lines) + "\n"
    payload["table"] = table
    return payload, table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, required=True, help="the suite's output folder")
    parser.add_argument("--device", default="cuda", help="rows to show: cuda (default) or cpu")
    args = parser.parse_args(argv)
    payload, table = build_report(args.dir, args.device)
    (args.dir / "gpu_suite.json").write_text(json.dumps(payload, indent=2, default=str) + "\n")
    (args.dir / "gpu_suite.md").write_text(table)
    print(table)
    print(f"wrote {args.dir / 'gpu_suite.json'} and {args.dir / 'gpu_suite.md'}")
    failed = [n for n, s in payload["steps"].items() if s.get("status") not in ("ok",)]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
