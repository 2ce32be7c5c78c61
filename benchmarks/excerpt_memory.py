"""Peak memory of reading a 30 s excerpt from the middle of a 1-hour file.

Run: ``python benchmarks/excerpt_memory.py [--formats wav flac ogg mp3] [--out ...]``

For each format a 1-hour mono 44.1 kHz file is written block by block into a temporary
folder (the writer never holds the hour in memory). Each reader then runs in a fresh
subprocess: it imports everything first, records its resident memory (the baseline),
reads ``offset=1800 s, duration=30 s`` resampled to 22,050 Hz, and reports its peak
resident memory (``ru_maxrss``) above that baseline. ``librosa.load`` is measured the
same way for reference. Target: under 200 MB above baseline for torchmusic.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import DEFAULT_OUT, print_table, write_json

SR = 44100
HOUR = 3600
SUBTYPES = {
    "wav": ("WAV", "PCM_16"),
    "flac": ("FLAC", "PCM_16"),
    "ogg": ("OGG", "VORBIS"),
    "mp3": ("MP3", "MPEG_LAYER_III"),
}

READER = r"""
import json, resource, sys, time
fmt_path, who = sys.argv[1], sys.argv[2]
import numpy, torch, soundfile, soxr
import torchmusic.audio
if who == "librosa":
    import librosa
def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20
base = rss_mb()
t0 = time.perf_counter()
if who == "torchmusic":
    y, sr = torchmusic.audio.load(fmt_path, sr=22050, offset=1800.0, duration=30.0)
    n = int(y.shape[-1])
else:
    y, sr = librosa.load(fmt_path, sr=22050, offset=1800.0, duration=30.0)
    n = int(y.shape[-1])
dt = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"baseline_mb": base, "peak_mb": peak, "above_mb": peak - base,
                  "seconds": dt, "samples": n}))
"""


def write_hour(path: Path, fmt: str) -> None:
    import soundfile as sf

    container, subtype = SUBTYPES[fmt]
    rng = np.random.default_rng(0)
    t = np.arange(SR * 10) / SR
    with sf.SoundFile(path, "w", samplerate=SR, channels=1, format=container, subtype=subtype) as f:
        for block in range(HOUR // 10):
            tone = 0.3 * np.sin(2 * np.pi * (220 + block) * t)
            f.write((tone + 0.01 * rng.standard_normal(t.size)).astype(np.float32))


def measure(path: Path, who: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", READER, str(path), who], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--formats", nargs="+", default=["wav", "flac", "ogg", "mp3"], choices=sorted(SUBTYPES)
    )
    parser.add_argument("--out", default=DEFAULT_OUT / "excerpt_memory.json")
    parser.add_argument("--skip-librosa", action="store_true")
    args = parser.parse_args()

    rows, results = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in args.formats:
            path = Path(tmp) / f"hour.{fmt}"
            t0 = time.perf_counter()
            write_hour(path, fmt)
            size_mb = path.stat().st_size / 2**20
            print(f"wrote 1-hour {fmt} ({size_mb:.0f} MB) in {time.perf_counter() - t0:.0f} s")
            tm = measure(path, "torchmusic")
            lr = None if args.skip_librosa else measure(path, "librosa")
            results.append({"format": fmt, "file_mb": size_mb, "torchmusic": tm, "librosa": lr})
            rows.append(
                [
                    fmt,
                    size_mb,
                    tm["above_mb"],
                    tm["seconds"],
                    lr["above_mb"] if lr else "n/a",
                    lr["seconds"] if lr else "n/a",
                    "yes" if tm["above_mb"] < 200 else "NO",
                ]
            )
    print_table(
        "30 s excerpt at 1800 s of a 1-hour 44.1 kHz mono file, resampled to 22.05 kHz",
        [
            "format",
            "file MB",
            "torchmusic peak MB above baseline",
            "torchmusic s",
            "librosa peak MB above baseline",
            "librosa s",
            "< 200 MB",
        ],
        rows,
    )
    write_json(args.out, {"benchmark": "excerpt_memory", "results": results})


if __name__ == "__main__":
    main()
