"""Feature-cache storage layouts: write/read throughput and what survives a SIGKILL.

Run: ``python benchmarks/cache_layout.py [--n 1000] [--out bench_out/cache_layout.json]``

Every layout stores ``--n`` entries of log-mel size (128 x 1292 float32, a 30 s clip,
661 KB) under a fresh folder (``--dir``, default a temporary folder on the same
disk as the repository) and is measured on:

- serial write (entries/s, MB/s) and write with ``--workers`` processes at once
  (extraction writes from a process pool);
- full reads in random order, warm (page cache) and cold: before each cold pass
  the files are dropped from the page cache with ``posix_fadvise(DONTNEED)``
  (no root needed; the hypervisor's cache may still help on a VM);
- clip reads: a 3 s excerpt (129 frames) at a random offset of each entry, cold,
  as a clip dataset over cached features does;
- interrupt safety: ``--kill-trials`` times, a writer process is SIGKILLed at a
  random moment, then every entry the store lists is read back and checked
  bit-exact; "corrupt" counts entries that are listed but unreadable or wrong.

Layouts: ``npy`` (one .npy per entry, 2-level sharded folders, temp file +
``os.replace``; read fully or memory-mapped, C or Fortran order), ``npy-fsync``
(the same plus ``fsync``), ``npy-direct`` (written in place: the control that
shows the kill test can see corruption), ``sqlite`` (one BLOB row per entry, a
transaction per entry), ``safetensors`` and ``pt`` (one file per entry, temp +
replace), ``append`` (one append-only data file + a JSON-lines index, under a
file lock).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import io
import json
import multiprocessing
import os
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import DEFAULT_OUT, REPO, print_table, write_json

SHAPE = (128, 1292)
CLIP_FRAMES = 129  # 3 s at hop 512, sr 22050
ENTRY_MB = np.prod(SHAPE) * 4 / 1e6


def entry(k: int, base: np.ndarray) -> np.ndarray:
    """Entry number ``k``: checkable bit-exactly without storing a copy."""
    return base + np.float32(k)


def key_of(k: int) -> str:
    import hashlib

    return hashlib.blake2b(str(k).encode(), digest_size=16).hexdigest()


def drop_cache(paths: list[Path]) -> None:
    """Evict files from the page cache (clean pages only, so flush first)."""
    for p in paths:
        with contextlib.suppress(OSError):
            fd = os.open(p, os.O_RDONLY)
            try:
                os.fdatasync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


# -- layouts ----------------------------------------------------------------------------
class NpyLayout:
    """One .npy per entry in ``ab/cd/`` shard folders, written to tmp/ then os.replace'd."""

    name = "npy"
    pickle_free = True
    fsync = False
    atomic = True
    fortran = False
    mmap = False

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp = root / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        return self.root / key[:2] / key[2:4] / f"{key}.npy"

    def write(self, key: str, arr: np.ndarray) -> None:
        dest = self.path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        if self.fortran:
            arr = np.asfortranarray(arr)
        if not self.atomic:
            with open(dest, "wb") as f:
                np.save(f, arr, allow_pickle=False)
            return
        tmp = self.tmp / f"{os.getpid()}-{key}.npy"
        with open(tmp, "xb") as f:
            np.save(f, arr, allow_pickle=False)
            if self.fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, dest)

    def read(self, key: str) -> np.ndarray:
        if self.mmap:
            return np.array(np.load(self.path(key), mmap_mode="r", allow_pickle=False))
        return np.load(self.path(key), allow_pickle=False)

    def read_clip(self, key: str, start: int, length: int) -> np.ndarray:
        if self.mmap:
            m = np.load(self.path(key), mmap_mode="r", allow_pickle=False)
            return np.ascontiguousarray(m[:, start : start + length])
        return np.ascontiguousarray(self.read(key)[:, start : start + length])

    def keys(self) -> list[str]:
        return [p.stem for p in self.root.glob("??/??/*.npy")]

    def files(self) -> list[Path]:
        return list(self.root.glob("??/??/*.npy"))

    def close(self) -> None:
        pass


class NpyMmapLayout(NpyLayout):
    name = "npy (mmap read)"
    mmap = True


class NpyFortranLayout(NpyLayout):
    """Fortran order: the frames of a clip are contiguous on disk, so mmap reads less."""

    name = "npy (Fortran, mmap read)"
    fortran = True
    mmap = True


class NpyFsyncLayout(NpyLayout):
    name = "npy-fsync"
    fsync = True


class NpyDirectLayout(NpyLayout):
    name = "npy-direct (no tmp+replace)"
    atomic = False


class SqliteLayout:
    name = "sqlite"
    pickle_free = True

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(root / "cache.sqlite", timeout=120)
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS e (key TEXT PRIMARY KEY, rows INT, cols INT, data BLOB)"
        )
        self.db.commit()
        self.root = root

    def write(self, key: str, arr: np.ndarray) -> None:
        with self.db:  # one transaction per entry, as a resumable job needs
            self.db.execute(
                "INSERT OR REPLACE INTO e VALUES (?, ?, ?, ?)",
                (key, arr.shape[0], arr.shape[1], arr.tobytes()),
            )

    def read(self, key: str) -> np.ndarray:
        rows, cols, data = self.db.execute(
            "SELECT rows, cols, data FROM e WHERE key = ?", (key,)
        ).fetchone()
        return np.frombuffer(data, dtype=np.float32).reshape(rows, cols)

    def read_clip(self, key: str, start: int, length: int) -> np.ndarray:
        return np.ascontiguousarray(self.read(key)[:, start : start + length])

    def keys(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT key FROM e")]

    def files(self) -> list[Path]:
        return list(self.root.glob("cache.sqlite*"))

    def close(self) -> None:
        self.db.close()


class SafetensorsLayout(NpyLayout):
    name = "safetensors"

    def path(self, key: str) -> Path:
        return self.root / key[:2] / key[2:4] / f"{key}.safetensors"

    def write(self, key: str, arr: np.ndarray) -> None:
        from safetensors.numpy import save_file

        dest = self.path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.tmp / f"{os.getpid()}-{key}.safetensors"
        save_file({"x": arr}, str(tmp))
        os.replace(tmp, dest)

    def read(self, key: str) -> np.ndarray:
        from safetensors.numpy import load_file

        return load_file(str(self.path(key)))["x"]

    def read_clip(self, key: str, start: int, length: int) -> np.ndarray:
        from safetensors import safe_open

        with safe_open(str(self.path(key)), framework="numpy") as f:
            return np.ascontiguousarray(f.get_slice("x")[:, start : start + length])

    def keys(self) -> list[str]:
        return [p.stem for p in self.root.glob("??/??/*.safetensors")]

    def files(self) -> list[Path]:
        return list(self.root.glob("??/??/*.safetensors"))


class TorchLayout(NpyLayout):
    name = "pt (torch.save)"
    pickle_free = False  # torch.save is a pickle; weights_only=True only restricts it

    def path(self, key: str) -> Path:
        return self.root / key[:2] / key[2:4] / f"{key}.pt"

    def write(self, key: str, arr: np.ndarray) -> None:
        import torch

        dest = self.path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.tmp / f"{os.getpid()}-{key}.pt"
        torch.save(torch.from_numpy(arr), tmp)
        os.replace(tmp, dest)

    def read(self, key: str) -> np.ndarray:
        import torch

        return torch.load(self.path(key), weights_only=True).numpy()

    def read_clip(self, key: str, start: int, length: int) -> np.ndarray:
        return np.ascontiguousarray(self.read(key)[:, start : start + length])

    def keys(self) -> list[str]:
        return [p.stem for p in self.root.glob("??/??/*.pt")]

    def files(self) -> list[Path]:
        return list(self.root.glob("??/??/*.pt"))


class AppendLayout:
    """data.bin (raw float32, appended) + index.jsonl (one line per entry, after the data)."""

    name = "append (data + index)"
    pickle_free = True

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.root = root
        self.data_path, self.index_path = root / "data.bin", root / "index.jsonl"
        self.lock = open(root / "lock", "a+")
        self.data = open(self.data_path, "ab")
        self.index: dict[str, tuple[int, int, int]] = {}
        self._reader: io.BufferedReader | None = None

    def write(self, key: str, arr: np.ndarray) -> None:
        raw = arr.tobytes()
        # A lock is needed: several workers append to the same two files.
        fcntl.flock(self.lock, fcntl.LOCK_EX)
        try:
            offset = self.data.seek(0, os.SEEK_END)
            self.data.write(raw)
            self.data.flush()
            line = json.dumps({"k": key, "o": offset, "r": arr.shape[0], "c": arr.shape[1]})
            with open(self.index_path, "a") as idx:
                idx.write(line + "\n")
        finally:
            fcntl.flock(self.lock, fcntl.LOCK_UN)

    def _load_index(self) -> None:
        self.index = {}
        if self.index_path.exists():
            for line in self.index_path.read_text().splitlines():
                # A killed writer can leave a partial last line: skip what does not parse.
                with contextlib.suppress(ValueError, KeyError):
                    d = json.loads(line)
                    self.index[d["k"]] = (d["o"], d["r"], d["c"])

    def read(self, key: str) -> np.ndarray:
        if key not in self.index:
            self._load_index()
        offset, rows, cols = self.index[key]
        if self._reader is None:
            self._reader = open(self.data_path, "rb")
        self._reader.seek(offset)
        buf = self._reader.read(rows * cols * 4)
        return np.frombuffer(buf, dtype=np.float32).reshape(rows, cols)

    def read_clip(self, key: str, start: int, length: int) -> np.ndarray:
        return np.ascontiguousarray(self.read(key)[:, start : start + length])

    def keys(self) -> list[str]:
        self._load_index()
        return list(self.index)

    def files(self) -> list[Path]:
        return [self.data_path, self.index_path]

    def close(self) -> None:
        self.data.close()
        self.lock.close()
        if self._reader is not None:
            self._reader.close()


LAYOUTS = {
    cls.name: cls
    for cls in (
        NpyLayout,
        NpyMmapLayout,
        NpyFortranLayout,
        NpyFsyncLayout,
        NpyDirectLayout,
        SqliteLayout,
        SafetensorsLayout,
        TorchLayout,
        AppendLayout,
    )
}


# -- measurements ---------------------------------------------------------------------
def _base() -> np.ndarray:
    return np.random.default_rng(0).standard_normal(SHAPE).astype(np.float32)


def _parallel_writer(name: str, root: str, ks: list[int], barrier) -> None:
    layout = LAYOUTS[name](Path(root))
    base = _base()
    barrier.wait()
    for k in ks:
        layout.write(key_of(k), entry(k, base))
    layout.close()


def measure(name: str, root: Path, n: int, workers: int) -> dict:
    cls = LAYOUTS[name]
    base = _base()
    keys = [key_of(k) for k in range(n)]
    out: dict = {"layout": name, "pickle_free": cls.pickle_free, "entries": n}

    layout = cls(root / "serial")
    t0 = time.perf_counter()
    for k in range(n):
        layout.write(keys[k], entry(k, base))
    out["write_s"] = time.perf_counter() - t0

    order = list(range(n))
    random.Random(1).shuffle(order)
    t0 = time.perf_counter()
    for k in order:
        layout.read(keys[k])
    out["read_warm_s"] = time.perf_counter() - t0

    drop_cache(layout.files())
    t0 = time.perf_counter()
    for k in order:
        layout.read(keys[k])
    out["read_cold_s"] = time.perf_counter() - t0

    drop_cache(layout.files())
    rng = random.Random(2)
    t0 = time.perf_counter()
    for k in order:
        layout.read_clip(keys[k], rng.randrange(SHAPE[1] - CLIP_FRAMES), CLIP_FRAMES)
    out["clip_cold_s"] = time.perf_counter() - t0

    out["disk_mb"] = sum(p.stat().st_size for p in layout.files()) / 1e6
    ok = all(np.array_equal(layout.read(keys[k]), entry(k, base)) for k in range(0, n, 97))
    out["roundtrip_exact"] = bool(ok)
    layout.close()
    shutil.rmtree(root / "serial")

    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(workers + 1)
    chunks = [list(range(n))[i::workers] for i in range(workers)]
    procs = [
        ctx.Process(target=_parallel_writer, args=(name, str(root / "par"), c, barrier))
        for c in chunks
    ]
    for p in procs:
        p.start()
    barrier.wait()
    t0 = time.perf_counter()
    for p in procs:
        p.join()
    out["write_parallel_s"] = time.perf_counter() - t0
    check = cls(root / "par")
    out["parallel_entries_ok"] = len(set(check.keys())) == n
    check.close()
    shutil.rmtree(root / "par")
    return out


def kill_trials(name: str, root: Path, trials: int, n: int) -> dict:
    """SIGKILL a writer at random moments; count entries that are listed but bad."""
    found, corrupt, stray = [], 0, 0
    base = _base()
    rng = random.Random(3)
    for t in range(trials):
        store = root / f"kill{t}"
        proc = subprocess.Popen(
            [sys.executable, __file__, "--_writer", name, str(store), str(n)],
            stdout=subprocess.PIPE,
        )
        assert proc.stdout is not None
        proc.stdout.readline()  # "ready": the writer has set up and starts writing
        time.sleep(rng.uniform(0.2, 0.8))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        layout = LAYOUTS[name](store)
        keys = layout.keys()
        lookup = {key_of(k): k for k in range(n)}
        for key in keys:
            try:
                good = np.array_equal(layout.read(key), entry(lookup[key], base))
            except Exception:  # any failure to read back is what we count
                good = False
            corrupt += not good
        found.append(len(keys))
        layout.close()
        tmp = store / "tmp"
        stray += len(list(tmp.iterdir())) if tmp.is_dir() else 0
        shutil.rmtree(store)
    return {"kill_trials": trials, "entries_found": found, "corrupt": corrupt, "stray_tmp": stray}


def _writer_main(name: str, root: str, n: int) -> None:
    if name in (TorchLayout.name, SafetensorsLayout.name):
        import safetensors.numpy  # noqa: F401 - imported before "ready", not mid-trial
        import torch  # noqa: F401
    layout = LAYOUTS[name](Path(root))
    base = _base()
    print("ready", flush=True)
    for k in range(n):
        layout.write(key_of(k), entry(k, base))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="entries per layout")
    parser.add_argument("--workers", type=int, default=2, help="processes for parallel writes")
    parser.add_argument("--kill-trials", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3, help="rounds; medians are reported")
    parser.add_argument("--layouts", nargs="+", default=list(LAYOUTS), choices=list(LAYOUTS))
    parser.add_argument("--dir", default=None, help="scratch folder (default: temp under repo)")
    parser.add_argument("--out", default=DEFAULT_OUT / "cache_layout.json")
    parser.add_argument("--_writer", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._writer:
        _writer_main(args._writer[0], args._writer[1], int(args._writer[2]))
        return
    try:
        import safetensors  # noqa: F401 - optional: only this benchmark row needs it
    except ImportError:
        print("safetensors not installed: skipping that layout", file=sys.stderr)
        args.layouts = [n for n in args.layouts if n != SafetensorsLayout.name]

    # Same disk as a real cache would be (not a tmpfs /tmp).
    scratch = Path(tempfile.mkdtemp(prefix=".cache_layout-", dir=args.dir or REPO))
    rounds: dict[str, list[dict]] = {name: [] for name in args.layouts}
    kills: dict[str, dict] = {}
    try:
        # Round-robin over the layouts, so machine noise hits all of them alike.
        for rep in range(args.repeats):
            for name in args.layouts:
                print(f"... round {rep + 1}/{args.repeats}: {name}", file=sys.stderr, flush=True)
                rounds[name].append(measure(name, scratch / "m", args.n, args.workers))
        for name in args.layouts:
            print(f"... kill trials: {name}", file=sys.stderr, flush=True)
            # The killed writer must still be busy when the signal comes: give it far
            # more entries than it can write before then.
            kills[name] = kill_trials(name, scratch / "k", args.kill_trials, 20 * args.n)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    mb = args.n * ENTRY_MB
    results, rows = [], []
    for name in args.layouts:
        med = {
            k: statistics.median(r[k] for r in rounds[name])
            for k in ("write_s", "write_parallel_s", "read_warm_s", "read_cold_s", "clip_cold_s")
        }
        first, kill = rounds[name][0], kills[name]
        results.append({**first, "median": med, "rounds": rounds[name], **kill})
        rows.append(
            [
                name,
                mb / med["write_s"],
                mb / med["write_parallel_s"],
                mb / med["read_warm_s"],
                mb / med["read_cold_s"],
                args.n / med["clip_cold_s"],
                first["disk_mb"] / args.n * 1000,
                f"{kill['corrupt']} / {sum(kill['entries_found'])}",
                "yes" if first["pickle_free"] else "no",
            ]
        )
    print_table(
        f"{args.n} entries of {SHAPE[0]}x{SHAPE[1]} float32 ({ENTRY_MB:.2f} MB each); "
        f"medians of {args.repeats} rounds; MB/s unless noted; "
        f"parallel = {args.workers} writer processes",
        [
            "layout",
            "write",
            "write parallel",
            "read warm",
            "read cold",
            "3 s clip reads/s (cold)",
            "disk KB/entry",
            "corrupt / listed after SIGKILL",
            "pickle-free",
        ],
        rows,
    )
    write_json(
        args.out,
        {
            "benchmark": "cache_layout",
            "shape": SHAPE,
            "entries": args.n,
            "workers": args.workers,
            "repeats": args.repeats,
            "results": results,
        },
    )


if __name__ == "__main__":
    main()
