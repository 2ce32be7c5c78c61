"""What the Ray engine costs on one machine: the same files embedded locally and with Ray.

Run: ``python benchmarks/ray_overhead.py [--models mfcc music-embed] [--actors 2]
[--audio DIR...] [--out bench_out/ray_overhead.json]``

Default files: the 14 recordings and the 6 MIR clips of ``../shared/data`` (20 real
files, OGG/WAV/MP3, 746 s of audio). For each model: the local path
(:func:`torchmusic.embed.embed_tracks`, ``--actors`` decoding threads) and
:func:`torchmusic.scale.embed_dataset` on a local Ray instance (``--actors`` actors of
0.5 CPU each), interleaved, ``--repeats`` times (medians). Ray Data starts a new actor
pool (processes that import torch and load the model) for every job, so every job
pays it; Ray's own start-up (``ray.init``) is reported apart. The largest difference
between the Ray and the local vectors is reported too.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np

from _common import SHARED_DATA, machine, print_table, write_json

AUDIO = (".ogg", ".wav", ".mp3", ".flac")


def real_files(folders: list[Path]) -> list[Path]:
    files = []
    for folder in folders:
        files += sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO)
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["mfcc", "music-embed"])
    parser.add_argument("--actors", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3, help="medians of this many runs")
    parser.add_argument(
        "--audio",
        nargs="+",
        type=Path,
        default=[SHARED_DATA / "recordings", SHARED_DATA / "mir_clips"],
    )
    parser.add_argument("--out", type=Path, default=Path("bench_out/ray_overhead.json"))
    args = parser.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

    import ray

    from torchmusic.embed import embed_tracks
    from torchmusic.scale import embed_dataset

    files = real_files(args.audio)
    import soundfile as sf

    seconds = sum(sf.info(str(f)).duration for f in files)
    t = time.perf_counter()
    ray.init(address="local", include_dashboard=False, log_to_driver=False)
    ray_start = time.perf_counter() - t
    ray.data.DataContext.get_current().enable_progress_bars = False
    rows, results = [], []
    for model in args.models:
        embed_tracks(files[:2], model, workers=args.actors, progress=False)  # warm-up
        local_s, ray_s = [], []
        for _ in range(args.repeats):  # interleaved: a busy machine slows both alike
            t = time.perf_counter()
            local, _ = embed_tracks(files, model, workers=args.actors, progress=False)
            local_s.append(time.perf_counter() - t)
            t = time.perf_counter()
            report = embed_dataset(files, model, concurrency=args.actors, progress=False)
            ray_s.append(time.perf_counter() - t)
        got = {r["path"]: r["vector"] for r in report.rows if r["vector"] is not None}
        diff = max(
            float(np.abs(np.asarray(got[str(p)]) - v).max())
            for p, v in zip(local.paths, local.vectors, strict=True)
        )
        lo, rj = statistics.median(local_s), statistics.median(ray_s)
        results.append(
            {
                "model": model,
                "files": len(files),
                "audio_seconds": round(seconds, 1),
                "local_s": [round(x, 2) for x in local_s],
                "ray_job_s": [round(x, 2) for x in ray_s],
                "ray_init_s": round(ray_start, 2),
                "max_abs_diff": diff,
            }
        )
        rows.append([model, len(files), f"{lo:.1f}", f"{rj:.1f}", f"{rj - lo:+.1f}", f"{diff:.1e}"])
    ray.shutdown()
    print(
        f"ray.init (local instance): {ray_start:.1f} s; {len(files)} files, {seconds:.0f} s audio"
    )
    print_table(
        f"local embed_tracks vs Ray embed_dataset ({args.actors} threads / actors), "
        f"medians of {args.repeats}",
        ["model", "files", "local s", "Ray job s", "Ray - local s", "max |diff|"],
        rows,
    )
    write_json(args.out, {"machine": machine(), "actors": args.actors, "results": results})


if __name__ == "__main__":
    main()
