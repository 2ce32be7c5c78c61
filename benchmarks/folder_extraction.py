"""Whole-folder log-mel extraction of real 44.1 kHz files: torchmusic vs a librosa loop,
and re-reading the cache vs the first extraction.

Run: ``python benchmarks/folder_extraction.py [--workers 2] [--sets drums soundtrack]``

Each set is a folder of real recordings from Debian packages (``apt-get install
hydrogen-drumkits wesnoth-1.16-music``): ``drums`` = every 44.1 kHz sample of the
Hydrogen drum kits (hundreds of short hits), ``soundtrack`` = Wesnoth's 44.1 kHz
stereo soundtrack (41 long tracks). Per file both contenders decode, mix to mono,
resample 44.1 -> 22.05 kHz (soxr HQ, librosa's default) and compute a 128-band log-mel,
and save it as ``.npy``, with the same number of worker processes:

- librosa: ``librosa.load(sr=22050)`` + ``power_to_db(melspectrogram(...))`` + ``np.save``
  in a ``ProcessPoolExecutor``;
- torchmusic: ``extract_features(files, FeatureConfig('logmel'), workers=N)`` into an
  empty cache (includes content hashing and atomic cache writes);
- torchmusic cached: the same call again (every entry reused) plus loading every array.

Files are read once beforehand so the page cache is warm for all contenders, and the
contenders alternate over ``--repeats`` rounds; medians are reported.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from _common import DEFAULT_OUT, print_table, write_json

SETS = {
    "drums": Path("/usr/share/hydrogen/data/drumkits"),
    "soundtrack": Path("/usr/share/games/wesnoth/1.16/data/core/music"),
}
EXTS = (".wav", ".flac", ".ogg")


def files_at_44k(root: Path) -> list[Path]:
    import soundfile as sf

    out = []
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() in EXTS and sf.info(str(path)).samplerate == 44100:
            out.append(path)
    return out


def _librosa_one(args: tuple[str, str]) -> int:
    import librosa

    path, out = args
    y, sr = librosa.load(path, sr=22050)
    S = librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=sr))
    np.save(out, S)
    return S.shape[-1]


def _init_librosa_worker() -> None:
    # Same thread budget as torchmusic's workers (torch.set_num_threads(1)): one BLAS
    # thread per process, so N workers use N cores for both contenders.
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    warnings.filterwarnings("ignore", message="n_fft=.*too large")  # short drum hits


def run_librosa(files: list[Path], workers: int, out: Path) -> float:
    out.mkdir(parents=True, exist_ok=True)
    jobs = [(str(p), str(out / f"{i}.npy")) for i, p in enumerate(files)]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(workers, initializer=_init_librosa_worker) as pool:
        list(pool.map(_librosa_one, jobs, chunksize=4))
    return time.perf_counter() - t0


def run_torchmusic(files: list[Path], workers: int, cache: Path) -> tuple[float, float]:
    from torchmusic.data import extract_features
    from torchmusic.features import FeatureConfig

    cfg = FeatureConfig(kind="logmel")
    t0 = time.perf_counter()
    report = extract_features(files, cfg, cache_dir=cache, workers=workers, progress=False)
    first = time.perf_counter() - t0
    # Identical files (the kits share a few samples) are computed once.
    assert not report.failed and len(report.ok) == len(files), report.summary()
    t0 = time.perf_counter()
    report = extract_features(files, cfg, cache_dir=cache, workers=workers, progress=False)
    arrays = [item.load() for item in report.ok]
    cached = time.perf_counter() - t0
    assert report.computed == 0 and len(arrays) == len(files), report.summary()
    return first, cached


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", default=DEFAULT_OUT / "folder_extraction.json")
    args = parser.parse_args()

    rows, results = [], []
    for name in args.sets:
        root = SETS[name]
        if not root.is_dir():
            print(f"skipping {name}: {root} not found (apt-get install the package)")
            continue
        files = files_at_44k(root)
        audio_s = sum(__import__("soundfile").info(str(p)).duration for p in files)
        for p in files:  # warm the page cache for everybody
            p.read_bytes()
        lib_t, tm_t, cached_t = [], [], []
        for _ in range(args.repeats):
            with tempfile.TemporaryDirectory() as tmp:
                lib_t.append(run_librosa(files, args.workers, Path(tmp) / "librosa"))
                first, cached = run_torchmusic(files, args.workers, Path(tmp) / "cache")
                tm_t.append(first)
                cached_t.append(cached)
                shutil.rmtree(tmp, ignore_errors=True)
        lib, tm, cached = (statistics.median(x) for x in (lib_t, tm_t, cached_t))
        result = {
            "set": name,
            "files": len(files),
            "audio_seconds": audio_s,
            "workers": args.workers,
            "librosa_s": lib,
            "torchmusic_first_s": tm,
            "torchmusic_cached_s": cached,
            "speedup_vs_librosa": lib / tm,
            "cache_speedup": tm / cached,
            "all_times": {"librosa": lib_t, "torchmusic": tm_t, "cached": cached_t},
        }
        results.append(result)
        rows.append(
            [
                name,
                len(files),
                f"{audio_s / 60:.1f} min",
                args.workers,
                lib,
                tm,
                result["speedup_vs_librosa"],
                cached,
                result["cache_speedup"],
            ]
        )
    print_table(
        "folder extraction: decode + resample 44.1->22.05 kHz + log-mel + save (seconds, median)",
        [
            "set",
            "files",
            "audio",
            "workers",
            "librosa loop",
            "torchmusic first",
            "speedup",
            "torchmusic cached re-read",
            "cache speedup",
        ],
        rows,
    )
    write_json(args.out, {"benchmark": "folder_extraction", "results": results})


if __name__ == "__main__":
    main()
