"""The catalog's SQLite database: schema, connections and the queries everything else uses.

Schema (``catalog.sqlite``, WAL journal)::

    meta    (key TEXT PRIMARY KEY, value)          schema_version, generation, created_at
    model   (id = 1, name, version, dim, fingerprint, source, details JSON)
    tracks  (id INTEGER PRIMARY KEY AUTOINCREMENT, path, content_hash UNIQUE,
             metadata JSON, embedding BLOB (dim little-endian float32),
             added_generation, added_at)
    removed (id INTEGER PRIMARY KEY, generation)    ids removed, and when
    raw_features (id INTEGER PRIMARY KEY, features BLOB)
                                                    per-track raw statistics of the
                                                    "mfcc" v2 embedder (little-endian
                                                    float32), so the standardisation
                                                    can be refitted without the audio

``raw_features`` came after schema version 1 without a version bump: it is
optional (catalogs from before have none, and it is created by the first write
that needs it), and older torchmusic versions ignore it.

Every write transaction increments ``generation``. Rows remember the generation
that added them and ``removed`` the one that deleted them, so an index built at
generation ``g`` is brought up to date with the rows added after ``g`` and the ids
removed after ``g``. ``AUTOINCREMENT`` never reuses an id, so a stale index can
never point at a different track than the one it was built with.

WAL mode lets any number of readers query while one writer commits; each reader
works on the snapshot of its read transaction.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from torchmusic.embed.info import ModelInfo
from torchmusic.errors import DataError

SCHEMA_VERSION = 1
DB_NAME = "catalog.sqlite"
# Seconds a connection waits for another process's write lock before giving up.
BUSY_TIMEOUT_S = 60.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value);
CREATE TABLE IF NOT EXISTS model (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    dim INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    source TEXT NOT NULL,
    details TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS tracks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL,
    content_hash TEXT NOT NULL UNIQUE,
    metadata TEXT NOT NULL DEFAULT '{}',
    embedding BLOB NOT NULL,
    added_generation INTEGER NOT NULL,
    added_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS tracks_path ON tracks (path);
CREATE INDEX IF NOT EXISTS tracks_added ON tracks (added_generation);
CREATE TABLE IF NOT EXISTS removed (id INTEGER PRIMARY KEY, generation INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS removed_generation ON removed (generation);
CREATE TABLE IF NOT EXISTS raw_features (id INTEGER PRIMARY KEY, features BLOB NOT NULL);
"""
_RAW_TABLE = "CREATE TABLE IF NOT EXISTS raw_features (id INTEGER PRIMARY KEY, features BLOB NOT NULL)"


def connect(db_path: Path, *, create: bool) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), schema ensured.

    Raises
    ------
    DataError
        The file is missing (``create=False``), not a catalog, or from a newer torchmusic.
    """
    if not create and not db_path.is_file():
        raise DataError(
            f"no catalog at {str(db_path.parent)!r} ({db_path.name} not found); create one with "
            "'torchmusic catalog add DIR --catalog PATH --model MODEL'"
        )
    try:
        if create:
            db_path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: no implicit transactions; BEGIN IMMEDIATE / BEGIN are explicit.
        conn = sqlite3.connect(db_path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        has_schema = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'tracks'"
        ).fetchone()
        if not has_schema:
            if not create:
                raise DataError(f"{db_path} is not a torchmusic catalog (no tracks table)")
            # WAL is a property of the database file: set once, by its creator.
            conn.execute("PRAGMA journal_mode=WAL")
            with transaction(conn, write=True):
                # One statement at a time: executescript() would COMMIT the open transaction.
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    conn.execute(statement)
                conn.execute(
                    "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,)
                )
                conn.execute("INSERT OR IGNORE INTO meta VALUES ('generation', 0)")
                conn.execute("INSERT OR IGNORE INTO meta VALUES ('created_at', ?)", (time.time(),))
        version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise DataError(f"{db_path} is not a readable catalog database: {exc}") from exc
    if int(version) > SCHEMA_VERSION:
        raise DataError(
            f"catalog {db_path} has schema version {version}; this torchmusic reads versions <= "
            f"{SCHEMA_VERSION}: upgrade torchmusic"
        )
    return conn


class transaction:  # lower-case: used like a function, `with transaction(conn):`
    """``BEGIN [IMMEDIATE]`` ... ``COMMIT``, or ``ROLLBACK`` on any exception.

    Write transactions use ``BEGIN IMMEDIATE``: they take SQLite's write lock at the
    start, so two writers queue (waiting up to the busy timeout) instead of one
    failing half-way with "database is locked". A read transaction (plain
    ``BEGIN``) sees one consistent snapshot for all its queries.
    """

    def __init__(self, conn: sqlite3.Connection, *, write: bool = False) -> None:
        self.conn, self.write = conn, write

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE" if self.write else "BEGIN")
        return self.conn

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.conn.execute("COMMIT" if exc_type is None else "ROLLBACK")


# -- generation and model ----------------------------------------------------------------
def generation(conn: sqlite3.Connection) -> int:
    """The current generation (bumped by every write transaction)."""
    return int(conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])


def bump_generation(conn: sqlite3.Connection) -> int:
    """Increment the generation inside the caller's write transaction; returns the new one."""
    conn.execute("UPDATE meta SET value = value + 1 WHERE key = 'generation'")
    return generation(conn)


def read_model(conn: sqlite3.Connection) -> tuple[ModelInfo, dict[str, Any]] | None:
    """The catalog's model and its details, or None before the first add."""
    row = conn.execute(
        "SELECT name, version, dim, fingerprint, source, details FROM model WHERE id = 1"
    ).fetchone()
    if row is None:
        return None
    info = ModelInfo(name=row[0], version=row[1], dim=row[2], fingerprint=row[3], source=row[4])
    return info, json.loads(row[5])


def write_model(
    conn: sqlite3.Connection, info: ModelInfo, details: dict[str, Any], *, replace: bool = False
) -> None:
    """Record the catalog's model (inside the caller's write transaction); ``replace``
    overwrites the one recorded (when every embedding is rewritten in the same transaction)."""
    conn.execute(
        f"INSERT {'OR REPLACE ' if replace else ''}INTO model "
        "(id, name, version, dim, fingerprint, source, details) VALUES (1, ?, ?, ?, ?, ?, ?)",
        (info.name, info.version, info.dim, info.fingerprint, info.source, json.dumps(details)),
    )


# -- tracks -------------------------------------------------------------------------------
def count(conn: sqlite3.Connection) -> int:
    """Number of tracks."""
    return int(conn.execute("SELECT COUNT(*) FROM tracks").fetchone()[0])


def known_hashes(conn: sqlite3.Connection, hashes: Sequence[str]) -> dict[str, int]:
    """``content_hash -> id`` of those of ``hashes`` already in the catalog."""
    found: dict[str, int] = {}
    for i in range(0, len(hashes), 500):  # stay under SQLite's bound-variable limit
        part = list(hashes[i : i + 500])
        marks = ",".join("?" * len(part))
        for h, track_id in conn.execute(
            f"SELECT content_hash, id FROM tracks WHERE content_hash IN ({marks})", part
        ):
            found[h] = track_id
    return found


def insert_tracks(
    conn: sqlite3.Connection,
    rows: Iterable[tuple[str, str, dict[str, Any], np.ndarray]],
    *,
    gen: int,
) -> list[tuple[int, str]]:
    """Insert ``(path, content_hash, metadata, vector)`` rows; returns ``(id, hash)`` of new ones.

    A hash already present (e.g. added by another process meanwhile) is skipped.
    """
    out = []
    now = time.time()
    for path, digest, metadata, vector in rows:
        cur = conn.execute(
            "INSERT OR IGNORE INTO tracks (path, content_hash, metadata, embedding, "
            "added_generation, added_at) VALUES (?, ?, ?, ?, ?, ?)",
            (path, digest, json.dumps(metadata), encode_vector(vector), gen, now),
        )
        if cur.rowcount:
            out.append((int(cur.lastrowid), digest))
    return out


def delete_tracks(conn: sqlite3.Connection, ids: Sequence[int], *, gen: int) -> None:
    """Delete tracks and record their ids as removed at ``gen`` (caller's write transaction)."""
    conn.executemany("DELETE FROM tracks WHERE id = ?", [(i,) for i in ids])
    conn.executemany("INSERT OR REPLACE INTO removed VALUES (?, ?)", [(i, gen) for i in ids])
    if _has_raw_table(conn):
        conn.executemany("DELETE FROM raw_features WHERE id = ?", [(i,) for i in ids])


def update_embeddings(
    conn: sqlite3.Connection, ids: Sequence[int], vectors: np.ndarray
) -> None:
    """Overwrite the embeddings of tracks ``ids`` (caller's write transaction)."""
    conn.executemany(
        "UPDATE tracks SET embedding = ? WHERE id = ?",
        [(encode_vector(v), int(i)) for i, v in zip(ids, vectors, strict=True)],
    )


# -- raw features ---------------------------------------------------------------------------
def _has_raw_table(conn: sqlite3.Connection) -> bool:
    return (
        conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'raw_features'"
        ).fetchone()
        is not None
    )


def write_raw_features(
    conn: sqlite3.Connection, rows: Iterable[tuple[int, np.ndarray]]
) -> None:
    """Store ``(id, raw feature vector)`` rows (caller's write transaction; replaces)."""
    conn.execute(_RAW_TABLE)
    conn.executemany(
        "INSERT OR REPLACE INTO raw_features (id, features) VALUES (?, ?)",
        [(int(i), encode_vector(v)) for i, v in rows],
    )


def raw_features(conn: sqlite3.Connection, dim: int) -> dict[int, np.ndarray]:
    """``id -> raw feature vector (dim,)`` of the tracks that have one (none in old catalogs)."""
    if not _has_raw_table(conn):
        return {}
    rows = conn.execute(
        "SELECT r.id, r.features FROM raw_features r JOIN tracks t ON t.id = r.id ORDER BY r.id"
    ).fetchall()
    vectors = decode_vectors([r[1] for r in rows], dim, what="raw features")
    return {int(r[0]): v for r, v in zip(rows, vectors, strict=True)}


def encode_vector(vector: np.ndarray) -> bytes:
    """Little-endian float32 bytes of a 1-D vector (the ``embedding`` BLOB)."""
    return np.ascontiguousarray(vector, dtype="<f4").tobytes()


def decode_vectors(blobs: Sequence[bytes], dim: int, *, what: str = "embeddings") -> np.ndarray:
    """``(n, dim)`` float32 from ``embedding`` BLOBs (:class:`DataError` on a wrong size)."""
    if not blobs:
        return np.zeros((0, dim), np.float32)
    raw = b"".join(blobs)
    if len(raw) != len(blobs) * dim * 4:
        raise DataError(
            f"catalog {what} do not all have dim {dim}: the database is corrupt; "
            "rebuild the catalog"
        )
    return np.frombuffer(raw, dtype="<f4").reshape(len(blobs), dim).astype(np.float32)


def all_vectors(conn: sqlite3.Connection, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """``(ids int64 (n,), vectors float32 (n, dim))`` of every track."""
    rows = conn.execute("SELECT id, embedding FROM tracks ORDER BY id").fetchall()
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    return ids, decode_vectors([r[1] for r in rows], dim)


def changes_since(
    conn: sqlite3.Connection, gen: int, dim: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(removed ids, added ids, added vectors)`` after generation ``gen``."""
    removed = np.array(
        [r[0] for r in conn.execute("SELECT id FROM removed WHERE generation > ?", (gen,))],
        dtype=np.int64,
    )
    rows = conn.execute(
        "SELECT id, embedding FROM tracks WHERE added_generation > ? ORDER BY id", (gen,)
    ).fetchall()
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    return removed, ids, decode_vectors([r[1] for r in rows], dim)


def get_rows(conn: sqlite3.Connection, ids: Sequence[int]) -> dict[int, tuple[str, str, dict]]:
    """``id -> (path, content_hash, metadata)`` of those ``ids`` that exist."""
    out: dict[int, tuple[str, str, dict]] = {}
    for i in range(0, len(ids), 500):
        part = [int(x) for x in ids[i : i + 500]]
        marks = ",".join("?" * len(part))
        for track_id, path, digest, meta in conn.execute(
            f"SELECT id, path, content_hash, metadata FROM tracks WHERE id IN ({marks})", part
        ):
            out[int(track_id)] = (path, digest, json.loads(meta))
    return out


def get_vector(conn: sqlite3.Connection, track_id: int, dim: int) -> np.ndarray | None:
    """The embedding of track ``track_id``, or None when there is no such track."""
    row = conn.execute("SELECT embedding FROM tracks WHERE id = ?", (track_id,)).fetchone()
    return None if row is None else decode_vectors([row[0]], dim)[0]


def ids_by_path(conn: sqlite3.Connection, path: str) -> list[int]:
    """Ids of the tracks stored under ``path`` (absolute)."""
    return [int(r[0]) for r in conn.execute("SELECT id FROM tracks WHERE path = ?", (path,))]
