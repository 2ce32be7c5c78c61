"""On-disk cache of features, keyed by file content and feature configuration.

Layout (chosen by ``benchmarks/cache_layout.py``, see ``docs/feature-cache.md``)::

    cache_dir/
      stat_index.sqlite                 (path, size, mtime_ns) -> content hash
      <kind>-<variant>/                 one folder per (FeatureConfig, mono)
        config.json                     the configuration, for humans and tools
        tmp/                            entries being written (same file system)
        ab/cd/abcd....npy               one float32 .npy per audio content hash

An entry's name is the blake2b hash of the audio file's bytes, so renaming or
touching a file does not invalidate it, and editing it does. The variant folder is
named after :meth:`FeatureConfig.fingerprint` (which covers ``sr`` and the feature
algorithm version) and the channel mode, so a changed configuration never reads old
entries. Entries are written to ``tmp/`` and ``os.replace``d into place: a killed
process leaves at most a stray temporary file, never a half-written entry. Entries
are plain ``.npy`` files read with ``allow_pickle=False``.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import secrets
import sqlite3
import time
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from torchmusic import audio
from torchmusic.data.discover import content_hash
from torchmusic.errors import AudioFileError, DataError, ParameterError
from torchmusic.features.config import FeatureConfig

STAT_INDEX_NAME = "stat_index.sqlite"
# A file whose mtime is this close to "now" may still be changing within the same
# timestamp tick; its hash is not remembered (git's "racily clean" rule), so the
# next run hashes it again instead of trusting a possibly stale stat match.
_RACY_NS = 2_000_000_000


def default_cache_dir() -> Path:
    """Default feature cache folder: ``$TORCHMUSIC_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/torchmusic/features``, else ``~/.cache/torchmusic/features``.

    Examples
    --------
    >>> default_cache_dir()  # doctest: +SKIP
    PosixPath('/home/me/.cache/torchmusic/features')
    """
    if os.environ.get("TORCHMUSIC_CACHE_DIR"):
        return Path(os.environ["TORCHMUSIC_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "torchmusic" / "features"


class StatIndex:
    """``(path, size, mtime_ns) -> content hash`` memo in SQLite.

    It only saves re-hashing unchanged files; losing it (or a killed run not
    updating it) costs time, never correctness. One connection per process: SQLite
    connections must not cross ``fork``, and datasets are copied into DataLoader
    workers.
    """

    def __init__(self, db_path: str | os.PathLike[str]) -> None:
        self.db_path = Path(db_path)
        self._conn: sqlite3.Connection | None = None
        self._pid = -1

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():
            self.db_path.parent.mkdir(parents=True, exist_ok=True)
            # Generous timeout: several processes may write at the same moment.
            conn = sqlite3.connect(self.db_path, timeout=60.0)
            conn.execute(
                "CREATE TABLE IF NOT EXISTS stat (path TEXT PRIMARY KEY, size INTEGER, "
                "mtime_ns INTEGER, hash TEXT)"
            )
            conn.commit()
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def get(self, path: str, size: int, mtime_ns: int) -> str | None:
        """The remembered hash when ``path`` still has this size and mtime, else None."""
        row = (
            self._connection()
            .execute("SELECT size, mtime_ns, hash FROM stat WHERE path = ?", (path,))
            .fetchone()
        )
        if row is not None and row[0] == size and row[1] == mtime_ns:
            return str(row[2])
        return None

    def put_many(self, rows: Iterable[tuple[str, int, int, str]]) -> None:
        """Remember ``(path, size, mtime_ns, hash)`` rows (one transaction)."""
        rows = list(rows)
        if not rows:
            return
        conn = self._connection()
        with conn:
            conn.executemany("INSERT OR REPLACE INTO stat VALUES (?, ?, ?, ?)", rows)

    def close(self) -> None:
        if self._conn is not None and self._pid == os.getpid():
            self._conn.close()
        self._conn = None

    def __getstate__(self) -> dict[str, Any]:
        return {"db_path": self.db_path, "_conn": None, "_pid": -1}


def stat_key(path: str | os.PathLike[str]) -> tuple[str, int, int]:
    """``(absolute path, size, mtime_ns)`` of ``path``, the stat index key."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise AudioFileError(f"audio file {str(path)!r} does not exist") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise AudioFileError(
                f"audio file {str(path)!r} is a symbolic link that loops; expected a link "
                "to an audio file"
            ) from None
        raise AudioFileError(f"audio file {str(path)!r} cannot be read: {exc.strerror}") from None
    return os.path.realpath(path), st.st_size, st.st_mtime_ns


def is_settled(mtime_ns: int) -> bool:
    """True when a file's mtime is old enough for its hash to be remembered."""
    return time.time_ns() - mtime_ns > _RACY_NS


def compute_file_features(
    path: str | os.PathLike[str], config: FeatureConfig, *, mono: bool = True
) -> np.ndarray:
    """Features of a whole file: load at ``config.sr``, then ``config.compute``.

    Returns
    -------
    np.ndarray
        float32 ``(n_bins, frames)``, or ``(channels, n_bins, frames)`` when not mono.
    """
    y, _ = audio.load(path, sr=config.sr, mono=mono)
    with torch.inference_mode():
        feats = config.compute(torch.as_tensor(y, dtype=torch.float32))
    return np.ascontiguousarray(feats.detach().cpu().numpy(), dtype=np.float32)


def variant_name(config: FeatureConfig, *, mono: bool) -> str:
    """Folder name of one (config, channel mode) variant: ``"<kind>-<16 hex>"``."""
    digest = hashlib.sha256(f"{config.fingerprint()}:mono={bool(mono)}".encode()).hexdigest()
    return f"{config.kind}-{digest[:16]}"


class FeatureCache:
    """Features of audio files for one :class:`FeatureConfig`, computed once.

    Parameters
    ----------
    cache_dir : path
        Cache root; created when missing. Several configurations share one root.
    config : FeatureConfig
        The feature computed and stored.
    mono : bool
        Whether audio is mixed to mono before computing features (part of the key).

    Examples
    --------
    >>> cache = FeatureCache("~/.cache/torchmusic", FeatureConfig(kind="logmel"))  # doctest: +SKIP
    >>> cache.load("song.wav").shape  # computed on the first call, read afterwards  # doctest: +SKIP
    (128, 1292)
    """

    def __init__(
        self, cache_dir: str | os.PathLike[str], config: FeatureConfig, *, mono: bool = True
    ) -> None:
        if not isinstance(config, FeatureConfig):
            raise ParameterError(f"config={config!r} must be a FeatureConfig")
        self.root = Path(cache_dir).expanduser()
        if self.root.exists() and not self.root.is_dir():
            raise DataError(f"cache_dir {str(self.root)!r} exists and is not a folder")
        self.config = config
        self.mono = bool(mono)
        self.dir = self.root / variant_name(config, mono=self.mono)
        self.tmp_dir = self.dir / "tmp"
        self.stat_index = StatIndex(self.root / STAT_INDEX_NAME)

    def __repr__(self) -> str:
        return f"FeatureCache({str(self.dir)!r}, kind={self.config.kind!r}, mono={self.mono})"

    # -- keys --------------------------------------------------------------------------
    def hash_file(self, path: str | os.PathLike[str]) -> str:
        """Content hash of ``path``, from the stat index when the file is unchanged."""
        key, size, mtime_ns = stat_key(path)
        known = self.stat_index.get(key, size, mtime_ns)
        if known is not None:
            return known
        digest = content_hash(path)
        if is_settled(mtime_ns):
            self.stat_index.put_many([(key, size, mtime_ns, digest)])
        return digest

    def entry_path(self, digest: str) -> Path:
        """Where the entry of content hash ``digest`` lives (whether or not it exists)."""
        return self.dir / digest[:2] / digest[2:4] / f"{digest}.npy"

    def lookup(self, path: str | os.PathLike[str]) -> Path | None:
        """The entry of ``path`` if it is cached, else None."""
        entry = self.entry_path(self.hash_file(path))
        return entry if entry.is_file() else None

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str | os.PathLike) and self.lookup(path) is not None

    # -- entries -----------------------------------------------------------------------
    @staticmethod
    def read(entry: str | os.PathLike[str], *, mmap: bool = False) -> np.ndarray:
        """Read an entry file without pickle; a damaged file raises :class:`DataError`."""
        try:
            arr = np.load(entry, mmap_mode="r" if mmap else None, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise DataError(f"cache entry {str(entry)!r} is unreadable: {exc}") from exc
        if not isinstance(arr, np.ndarray) or arr.dtype != np.float32 or arr.ndim < 2:
            raise DataError(f"cache entry {str(entry)!r} is not a float32 feature array")
        return arr

    def write(self, digest: str, features: np.ndarray) -> Path:
        """Store ``features`` as the entry of ``digest`` atomically; returns its path."""
        dest = self.entry_path(digest)
        self._ensure_dirs(dest.parent)
        tmp = self.tmp_dir / f"{os.getpid()}-{secrets.token_hex(4)}-{digest}.npy"
        try:
            with open(tmp, "xb") as f:
                np.save(f, np.ascontiguousarray(features, dtype=np.float32), allow_pickle=False)
            os.replace(tmp, dest)  # atomic: readers see no entry or a whole one
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return dest

    def _ensure_dirs(self, shard: Path) -> None:
        if not self.tmp_dir.is_dir():
            self.tmp_dir.mkdir(parents=True, exist_ok=True)
            meta = self.dir / "config.json"
            if not meta.exists():
                payload = {
                    "config": self.config.to_dict(),
                    "mono": self.mono,
                    "fingerprint": self.config.fingerprint(),
                }
                tmp = self.tmp_dir / f"{os.getpid()}-{secrets.token_hex(4)}-config.json"
                tmp.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
                os.replace(tmp, meta)
        shard.mkdir(parents=True, exist_ok=True)

    def load(self, path: str | os.PathLike[str], *, mmap: bool = False) -> np.ndarray:
        """Features of ``path``: read from the cache, or computed and stored first.

        Parameters
        ----------
        path : path
            Audio file.
        mmap : bool
            Memory-map the entry (read-only) instead of reading it: slicing a clip
            then reads only the needed bytes.

        Returns
        -------
        np.ndarray
            float32 ``(n_bins, frames)`` (``(channels, n_bins, frames)`` when not mono).
        """
        digest = self.hash_file(path)
        entry = self.entry_path(digest)
        if entry.is_file():
            try:
                return self.read(entry, mmap=mmap)
            except DataError as exc:
                # Only possible after outside damage (disk full, manual edits):
                # entries are never half-written by us. Recompute it.
                warnings.warn(f"{exc}; recomputing it", RuntimeWarning, stacklevel=2)
                with contextlib.suppress(OSError):
                    entry.unlink()
        feats = compute_file_features(path, self.config, mono=self.mono)
        self.write(digest, feats)
        return self.read(entry, mmap=True) if mmap else feats

    def prune_temp(self, *, older_than: float = 3600.0) -> int:
        """Delete temporary files left by killed runs; returns how many were removed.

        Only files older than ``older_than`` seconds are touched, so entries being
        written right now by another process are left alone.
        """
        if not self.tmp_dir.is_dir():
            return 0
        removed = 0
        cutoff = time.time() - older_than
        for tmp in self.tmp_dir.iterdir():
            with contextlib.suppress(OSError):
                if tmp.stat().st_mtime < cutoff:
                    tmp.unlink()
                    removed += 1
        return removed
