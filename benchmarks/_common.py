"""Shared helpers for the benchmark scripts: machine facts, timing, tables, JSON.

Benchmarks measure side by side in one run (machines are shared and noisy), so every
script interleaves the contenders and reports medians and ratios, never absolute
thresholds checked by tests.
"""

from __future__ import annotations

import csv
import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("TORCHMUSIC_SHARED_DATA", REPO.parent / "shared" / "data"))
DEFAULT_OUT = REPO / "bench_out"


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    import torch

    facts: dict[str, Any] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "cpu": _cpu_model(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    try:
        import librosa

        facts["librosa"] = librosa.__version__
    except ImportError:
        facts["librosa"] = None
    return facts


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def interleaved_medians(
    contenders: dict[str, Callable[[], Any]], *, repeats: int = 5, warmup: int = 1
) -> dict[str, float]:
    """Median wall time (s) of each callable, run round-robin so noise hits all alike."""
    for _ in range(warmup):
        for fn in contenders.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, fn in contenders.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Print (and return) a GitHub-markdown table."""

    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.4g}"
        return str(v)

    lines = [f"### {title}", "", "| " + " | ".join(header) + " |"]
    lines.append("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        lines.append("| " + " | ".join(fmt(v) for v in row) + " |")
    text = "\n".join(lines) + "\n"
    print(text)
    return text


def write_json(path: Path | str, payload: dict[str, Any]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"machine": machine(), "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S"), **payload}
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    print(f"wrote {path}")
    return path


def held_out_segments(
    manifest: Path, *, n: int, seconds: float, sr: int
) -> tuple[list[np.ndarray], list[str]]:
    """``n`` segments of ``seconds`` from the manifest's test tracks, evenly spread,
    skipping near-silent ones (RMS < 1e-3)."""
    import numpy as np

    from torchmusic.audio import load

    with manifest.open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("split") == "test"]
    if not rows:
        raise SystemExit(f"{manifest}: no test tracks")
    paths = [(manifest.parent / r["path"]).resolve() for r in rows]
    length = round(seconds * sr)
    per_track = max(1, -(-n // len(paths)) + 1)
    pool: list[tuple[np.ndarray, str]] = []
    for path in paths:
        y, _ = load(path, sr=sr)
        y = y.numpy()
        if len(y) < length:
            continue
        starts = np.linspace(0, len(y) - length, per_track + 2)[1:-1].astype(int)
        for s in starts:
            seg = y[s : s + length]
            if np.sqrt(np.mean(seg**2)) >= 1e-3:
                pool.append((seg, f"{path.name}@{s / sr:.1f}s"))
    # Round-robin over tracks so every test track is represented.
    by_track: dict[str, list] = {}
    for seg, name in pool:
        by_track.setdefault(name.split("@")[0], []).append((seg, name))
    chosen: list[tuple[np.ndarray, str]] = []
    while len(chosen) < n and any(by_track.values()):
        for items in by_track.values():
            if items and len(chosen) < n:
                chosen.append(items.pop(0))
    return [c[0] for c in chosen], [c[1] for c in chosen]
