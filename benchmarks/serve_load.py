"""Load test of ``torchmusic serve``: N clients for T seconds on ``/api/predict``, loopback only.

Run: ``python benchmarks/serve_load.py [--clients 4] [--seconds 20] [--model drums]``

A server is started as a subprocess (``python -m torchmusic serve`` on 127.0.0.1, a
free port, ``--workers``/``--queue-size`` as given) and warmed up with one request.
Then:

1. **Sustained load**: ``--clients`` threads post 30 s clips (cut from the real
   recordings in ``../shared/data/recordings``, 16-bit WAV, about 1.3 MB each) back to
   back for ``--seconds``: throughput, p50/p95/p99 latency, errors by status.
2. **Past capacity**: a burst of ``--burst`` simultaneous requests (default three times
   workers + queue): how many are served, how many are refused with ``503`` +
   ``Retry-After``, and whether the server still answers ``/api/health`` afterwards.

The server's resident memory (RSS) is read at start (after warm-up), sampled during
the run (peak) and at the end; the script exits 1 on any error in phase 1, growth over
``--rss-bound-mb`` (300), a server that no longer answers after the burst, or a temporary
folder left after it stopped. Bounded: at most ``--max-requests`` requests in phase 1.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from _common import DEFAULT_OUT, REPO, SHARED_DATA, print_table, write_json

CLIP_SECONDS = 30.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_clips(folder: Path, *, n: int = 4) -> list[Path]:
    """``n`` 30 s WAV clips from the longest real recordings."""
    import soundfile as sf

    from torchmusic import audio

    recordings = sorted((SHARED_DATA / "recordings").glob("*.ogg"))
    if not recordings:
        raise SystemExit(f"{SHARED_DATA / 'recordings'}: no recordings (../shared/data)")
    long = [p for p in recordings if audio.info(p).duration >= CLIP_SECONDS]
    clips = []
    for i, path in enumerate(long[:n]):
        y, sr = audio.load(path, sr=22050, duration=CLIP_SECONDS)
        out = folder / f"clip{i}.wav"
        sf.write(out, y.numpy(), sr, subtype="PCM_16")
        clips.append(out)
    return clips


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB (from /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


class Server:
    """``torchmusic serve`` in a subprocess."""

    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [
            sys.executable, "-m", "torchmusic", "serve", "--port", str(self.port),
            "--workers", str(args.workers), "--queue-size", str(args.queue_size),
            "--classifier", args.model, "--device", args.device,
        ]  # fmt: skip
        env = {**os.environ, "TMPDIR": str(work)}
        self.log = open(work / "server.log", "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env, cwd=REPO)

    def wait_ready(self, client: Any, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"the server exited with {self.proc.returncode}; see its log")
            try:
                if client.get(self.url + "/api/health").status_code == 200:
                    return
            except Exception:  # not listening yet
                time.sleep(0.2)
        raise SystemExit("the server did not start in time")

    def stop(self) -> int:
        self.proc.terminate()
        try:
            code = self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self.log.close()
        return code


def post(client: Any, url: str, clip: Path) -> tuple[int, float, str]:
    t0 = time.perf_counter()
    try:
        r = client.post(
            url + "/api/predict",
            files={"file": (clip.name, clip.read_bytes(), "audio/wav")},
            data={"top_k": "3", "timeline": "true"},
        )
        status, detail = r.status_code, r.headers.get("retry-after", "")
    except Exception as exc:  # a refused or dropped connection counts as an error
        status, detail = 0, type(exc).__name__
    return status, time.perf_counter() - t0, detail


def sustained(server: Server, clips: list[Path], args: argparse.Namespace) -> dict[str, Any]:
    import httpx

    results: list[tuple[int, float]] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + args.seconds
    peak = [rss_mb(server.proc.pid)]

    def client_loop(k: int) -> None:
        with httpx.Client(timeout=120) as client:
            i = k
            while time.monotonic() < stop_at:
                with lock:
                    if len(results) >= args.max_requests:
                        return
                status, seconds, _ = post(client, server.url, clips[i % len(clips)])
                with lock:
                    results.append((status, seconds))
                i += 1

    def sampler() -> None:
        while time.monotonic() < stop_at:
            peak[0] = max(peak[0], rss_mb(server.proc.pid))
            time.sleep(0.5)

    threads = [threading.Thread(target=client_loop, args=(k,)) for k in range(args.clients)]
    threads.append(threading.Thread(target=sampler))
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    ok = [s for st, s in results if st == 200]
    errors: dict[str, int] = {}
    for st, _ in results:
        if st != 200:
            errors[str(st)] = errors.get(str(st), 0) + 1
    return {
        "requests": len(results),
        "ok": len(ok),
        "errors": errors,
        "wall_s": wall,
        "throughput_rps": len(ok) / wall,
        "audio_seconds_per_s": len(ok) * CLIP_SECONDS / wall,
        "p50_s": percentile(ok, 50),
        "p95_s": percentile(ok, 95),
        "p99_s": percentile(ok, 99),
        "mean_s": statistics.fmean(ok) if ok else float("nan"),
        "rss_peak_mb": peak[0],
    }


def burst(server: Server, clips: list[Path], n: int) -> dict[str, Any]:
    import httpx

    barrier = threading.Barrier(n)
    out: list[tuple[int, float, str]] = []
    lock = threading.Lock()

    def one(k: int) -> None:
        with httpx.Client(timeout=300) as client:
            barrier.wait()
            res = post(client, server.url, clips[k % len(clips)])
            with lock:
                out.append(res)

    threads = [threading.Thread(target=one, args=(k,)) for k in range(n)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses: dict[str, int] = {}
    for st, _, _ in out:
        statuses[str(st)] = statuses.get(str(st), 0) + 1
    refused = [s for st, s, _ in out if st == 503]
    retry = sorted({int(d) for st, _, d in out if st == 503 and d.isdigit()})
    with httpx.Client(timeout=30) as client:
        alive = client.get(server.url + "/api/health").status_code == 200
    return {
        "requests": n,
        "statuses": statuses,
        "wall_s": time.perf_counter() - t0,
        "max_refusal_s": max(refused) if refused else None,
        "retry_after_s": retry,
        "alive_after": alive,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=4, help="concurrent clients (N)")
    ap.add_argument("--seconds", type=float, default=20.0, help="duration of the load (T)")
    ap.add_argument("--model", default="drums", help="classifier the server uses")
    ap.add_argument("--workers", type=int, default=2, help="the server's --workers")
    ap.add_argument("--queue-size", type=int, default=8, help="the server's --queue-size")
    ap.add_argument("--burst", type=int, default=None, help="past-capacity burst size")
    ap.add_argument("--max-requests", type=int, default=5000, help="bound on phase 1 requests")
    ap.add_argument("--device", default="cpu", help="the server's --device")
    ap.add_argument(
        "--rss-bound-mb", type=float, default=300.0,
        help="largest accepted RSS growth from start to end of phase 1 (exit 1 beyond)",
    )  # fmt: skip
    ap.add_argument("--out", default=str(DEFAULT_OUT))
    args = ap.parse_args()
    burst_n = args.burst or 3 * (args.workers + args.queue_size)

    import httpx

    with tempfile.TemporaryDirectory(prefix="serve-load-") as tmp:
        work = Path(tmp)
        clips = make_clips(work)
        server = Server(args, work)
        try:
            with httpx.Client(timeout=120) as client:
                server.wait_ready(client)
                post(client, server.url, clips[0])  # loads the model
            rss_start = rss_mb(server.proc.pid)
            load = sustained(server, clips, args)
            rss_end = rss_mb(server.proc.pid)
            past = burst(server, clips, burst_n)
            rss_after_burst = rss_mb(server.proc.pid)
        finally:
            code = server.stop()
        leftovers = sorted(str(p) for p in (work / "torchmusic-serve").glob("run-*"))

    errors = sum(load["errors"].values())
    growth = rss_end - rss_start
    print_table(
        f"torchmusic serve: /api/predict, {CLIP_SECONDS:g} s clips, model {args.model}, "
        f"{args.workers} workers + {args.queue_size} queued, {os.cpu_count()} CPUs",
        ["N", "T (s)", "requests", "throughput (req/s)", "audio s / s", "p50 (s)", "p95 (s)",
         "p99 (s)", "errors", "RSS start (MB)", "RSS peak (MB)", "RSS end (MB)"],
        [[args.clients, args.seconds, load["requests"], load["throughput_rps"],
          load["audio_seconds_per_s"], load["p50_s"], load["p95_s"], load["p99_s"], errors,
          round(rss_start), round(load["rss_peak_mb"]), round(rss_end)]],
    )  # fmt: skip
    print_table(
        f"past capacity: {burst_n} simultaneous requests",
        ["statuses", "Retry-After (s)", "slowest refusal (s)", "alive after", "RSS after (MB)",
         "exit code", "temp folders left"],
        [[past["statuses"], past["retry_after_s"], past["max_refusal_s"], past["alive_after"],
          round(rss_after_burst), code, len(leftovers)]],
    )  # fmt: skip
    write_json(
        Path(args.out) / "serve_load.json",
        {
            "settings": vars(args) | {"burst": burst_n, "clip_seconds": CLIP_SECONDS},
            "rss_mb": {
                "start": rss_start,
                "end": rss_end,
                "after_burst": rss_after_burst,
                "growth": growth,
                "bound": args.rss_bound_mb,
            },
            "sustained": load,
            "past_capacity": past,
            "server_exit_code": code,
            "temp_folders_left": leftovers,
        },
    )
    ok = errors == 0 and past["alive_after"] and growth <= args.rss_bound_mb and not leftovers
    print(
        f"errors {errors}, RSS growth {growth:+.0f} MB (bound {args.rss_bound_mb:g}), "
        f"alive after the burst: {past['alive_after']}, temp folders left: {len(leftovers)}"
        f" -> {'PASS' if ok else 'FAIL'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
