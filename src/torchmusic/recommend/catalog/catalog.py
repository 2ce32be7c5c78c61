"""``Catalog``: tracks and their embeddings in SQLite, searched through a FAISS index.

A catalog is a folder::

    CATALOG/
      catalog.sqlite (+ -wal, -shm)   tracks, hashes, metadata, embeddings, model, generation
      index.safetensors               FAISS index + the generation it reflects
      model.safetensors               copy of the embedding model (absent for "mfcc")

SQLite is the source of truth; the index file is a cache of it. Guarantees:

- Adds run in batches, one SQLite transaction per batch (rows + generation bump),
  so a process killed mid-add leaves every finished batch and nothing of the
  others; the index file then reflects an older generation and is rebuilt from
  SQLite by the next user, who is told so (:attr:`Catalog.events`).
- The same file content (blake2b hash) is never stored twice: adding it again
  is a no-op, whatever its path.
- Readers query while one process adds: WAL gives each query a consistent
  snapshot, and an open catalog catches its in-memory index up with the rows
  added and removed since (ids are never reused).
- Embeddings from another model (fingerprint) or of another size are refused.
- An ``mfcc`` v2 catalog keeps every track's raw MFCC statistics (table
  ``raw_features``), so :meth:`Catalog.restandardise` refits the standardisation
  on the catalog's own tracks and rewrites every embedding in one transaction,
  without the audio (v1 catalogs are upgraded by re-reading their files).

A ``Catalog`` object is for one thread; open one per thread or process.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import os
import shutil
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from torchmusic.data.discover import AUDIO_EXTENSIONS, FailedFile, collect_inputs, content_hash
from torchmusic.embed.info import ModelInfo
from torchmusic.errors import AudioFileError, DataError, ParameterError
from torchmusic.recommend.catalog import store
from torchmusic.recommend.catalog.index import (
    INDEX_NAME,
    build_index,
    choose_kind,
    index_header,
    index_kind,
    load_index,
    save_index,
)
from torchmusic.recommend.catalog.store import transaction

MODEL_NAME = "model.safetensors"
logger = logging.getLogger("torchmusic.catalog")

Metadata = Mapping[str, Any] | Callable[[Path], Mapping[str, Any]] | None


@dataclasses.dataclass(frozen=True)
class Neighbor:
    """One search result (or a track looked up by id).

    Attributes
    ----------
    id : int
        Track id (stable: never reused after a removal).
    path : str
        Absolute path the track was added from.
    name : str
        Its name relative to the folder it was found in.
    score : float
        Cosine similarity to the query (1.0 for a looked-up track).
    metadata : dict
        ``name``, ``duration`` (s), ``size`` (bytes) and any user metadata.
    """

    id: int
    path: str
    name: str
    score: float
    metadata: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of the fields."""
        return dataclasses.asdict(self)


@dataclasses.dataclass
class AddReport:
    """Outcome of :meth:`Catalog.add` / :meth:`Catalog.add_embeddings`.

    Attributes
    ----------
    added : list of (int, pathlib.Path)
        New track ids and their files.
    duplicates : list of (pathlib.Path, int)
        Files whose content was already in the catalog, with the existing id.
    failed : list of FailedFile
        Unreadable files and missing inputs (skipped).
    generation : int
        Catalog generation after the add.
    """

    added: list[tuple[int, Path]] = dataclasses.field(default_factory=list)
    duplicates: list[tuple[Path, int]] = dataclasses.field(default_factory=list)
    failed: list[FailedFile] = dataclasses.field(default_factory=list)
    generation: int = 0

    def summary(self, *, max_failures: int = 20) -> str:
        """Human-readable summary listing (up to ``max_failures``) failed files."""
        lines = [
            f"{len(self.added)} track(s) added, {len(self.duplicates)} already in the catalog, "
            f"{len(self.failed)} failed (generation {self.generation})"
        ]
        lines += [f"  FAILED {f.path}: {f.error}" for f in self.failed[:max_failures]]
        if len(self.failed) > max_failures:
            lines.append(f"  ... and {len(self.failed) - max_failures} more failure(s)")
        return "\n".join(lines)


@dataclasses.dataclass
class RemoveReport:
    """Outcome of :meth:`Catalog.remove`: ids removed and the items that matched no track."""

    removed: list[int]
    missing: list[str]


@dataclasses.dataclass
class RestandardiseReport:
    """Outcome of :meth:`Catalog.restandardise`.

    Attributes
    ----------
    tracks : int
        Tracks whose embeddings were rewritten (all of them).
    from_stored : int
        Of those, tracks whose stored raw statistics were used.
    from_audio : int
        Tracks whose audio files were read again (v1 catalogs, or tracks added as
        precomputed embeddings).
    old_model, new_model : ModelInfo
    generation : int
        Catalog generation after the rewrite.
    index : str
        The rebuilt index (:meth:`Catalog.rebuild_index`).
    """

    tracks: int
    from_stored: int
    from_audio: int
    old_model: ModelInfo
    new_model: ModelInfo
    generation: int
    index: str

    def summary(self) -> str:
        """Human-readable lines."""
        return (
            f"restandardised {self.tracks} track(s) ({self.from_stored} from stored MFCC "
            f"statistics, {self.from_audio} from their audio files)\n"
            f"model {self.old_model.describe()} -> {self.new_model.describe()}\n"
            f"rebuilt {self.index}"
        )


def reindex_advice(model: ModelInfo | None, root: str | os.PathLike[str]) -> str | None:
    """Why and how a catalog of ``model`` should be reindexed, or None when it need not be.

    A catalog built with the legacy ``mfcc`` v1 (MFCC mean) embedder is upgraded by
    ``torchmusic catalog reindex --restandardise``. Torch-free (``catalog info``).
    """
    if model is not None and model.name == "mfcc" and model.version == "1":
        return (
            "built with the legacy mfcc v1 embedder (MFCC mean, poor similarity): upgrade it "
            f"to mfcc v2 with 'torchmusic catalog reindex --catalog {root} --restandardise'"
        )
    if (
        model is not None
        and model.name == "contrastive"
        and Path(model.source).name == "music-embed.safetensors"
    ):
        # music-embed v1 was the encoder alone; its catalogs keep working with the copy
        # of the encoder they hold, but v2 (fused) finds better neighbours.
        return (
            "built with music-embed v1 (the encoder alone); the shipped music-embed is now v2 "
            "(the encoder fused with MFCC statistics and a rhythm profile, better similarity): "
            "rebuild it with 'torchmusic catalog add FOLDER -c NEW_CATALOG --model music-embed'"
        )
    return None


def _check_k(k: int) -> int:
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ParameterError(f"k={k!r} must be a positive integer")
    return k


def _unit_rows(vectors: np.ndarray, dim: int, *, what: str) -> np.ndarray:
    """``vectors`` as unit-norm float32 ``(n, dim)``; wrong shapes and NaNs are a DataError."""
    v = np.asarray(vectors, dtype=np.float32)
    if v.ndim == 1:
        v = v[None, :]
    if v.ndim != 2 or v.shape[1] != dim:
        raise DataError(
            f"{what} have shape {tuple(np.shape(vectors))}, but this catalog's embeddings have "
            f"dim {dim}"
        )
    if not np.isfinite(v).all():
        raise DataError(f"{what} contain NaN or infinite values")
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    if (norms == 0).any():
        raise DataError(f"{what} contain an all-zero vector, which has no direction")
    return np.ascontiguousarray(v / norms, dtype=np.float32)


class Catalog:
    """A track catalog folder: add, remove and search tracks by audio similarity.

    Nothing is written until the first :meth:`add`; opening a folder that holds
    no catalog for reading raises :class:`DataError`.

    Parameters
    ----------
    path : str or os.PathLike
        The catalog folder.

    Attributes
    ----------
    events : list of str
        Index repairs done by this object (e.g. a stale index rebuilt from SQLite),
        also logged (level INFO) to the ``torchmusic.catalog`` logger; the CLI
        prints them.

    Examples
    --------
    >>> cat = Catalog("my_catalog")  # doctest: +SKIP
    >>> cat.add(["music/"], embedder="mfcc").summary()  # doctest: +SKIP
    '12 track(s) added, 0 already in the catalog, 1 failed (generation 1)\\n  FAILED ...'
    >>> [(n.name, round(n.score, 2)) for n in cat.similar("music/a.ogg", k=2)]  # doctest: +SKIP
    [('b.ogg', 0.93), ('c.ogg', 0.88)]
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.root = Path(path).expanduser()
        if self.root.exists() and not self.root.is_dir():
            raise DataError(f"catalog path {str(self.root)!r} exists and is not a folder")
        self.db_path = self.root / store.DB_NAME
        self.index_path = self.root / INDEX_NAME
        self.model_path = self.root / MODEL_NAME
        self.events: list[str] = []
        self._conn: sqlite3.Connection | None = None
        self._pid = -1
        self._index: Any = None
        self._index_gen = -1
        self._index_fp = ""  # fingerprint of the model the in-memory index holds vectors of
        self._unsaved = False
        self._embedders: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"Catalog({str(self.root)!r})"

    # -- connection ----------------------------------------------------------------------
    @property
    def exists(self) -> bool:
        """Whether the folder holds a catalog database."""
        return self.db_path.is_file()

    def require(self) -> Catalog:
        """``self`` if the folder holds a catalog (:class:`DataError` "no catalog at
        ..." otherwise): for commands that only read one."""
        self._connection()
        return self

    def _connection(self, *, create: bool = False) -> sqlite3.Connection:
        # SQLite connections must not cross fork(): reconnect in a child process.
        if self._conn is None or self._pid != os.getpid():
            self._conn = store.connect(self.db_path, create=create)
            self._pid = os.getpid()
        return self._conn

    def close(self) -> None:
        """Close the database connection (the object can be used again afterwards)."""
        if self._conn is not None and self._pid == os.getpid():
            self._conn.close()
        self._conn, self._index, self._index_gen = None, None, -1

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- facts ---------------------------------------------------------------------------
    def __len__(self) -> int:
        if not self.exists:
            return 0
        return store.count(self._connection())

    @property
    def model(self) -> ModelInfo | None:
        """The model whose embeddings the catalog holds (None before the first add)."""
        if not self.exists:
            return None
        found = store.read_model(self._connection())
        return None if found is None else found[0]

    @property
    def generation(self) -> int:
        """Number of committed write transactions so far."""
        return store.generation(self._connection()) if self.exists else 0

    def info(self) -> dict[str, Any]:
        """Tracks, generation, model and index state, as a JSON-ready dict.

        ``needs_reindex`` is None, or a sentence naming the command that upgrades
        the catalog (a catalog built with the legacy ``mfcc`` v1 embedder).

        Examples
        --------
        >>> Catalog("my_catalog").info()["tracks"]  # doctest: +SKIP
        12
        """
        model = self.model
        n = len(self)
        header = index_header(self.index_path) if self.exists else None
        if header is None:
            state = "missing or unreadable (rebuilt on the next query)" if n else "none"
        elif model is None or header.get("fingerprint") != model.fingerprint:
            state = "from another model (rebuilt on the next query)"
        elif header.get("generation") != str(self.generation):
            state = (
                f"stale: generation {header.get('generation')} of {self.generation} "
                "(rebuilt on the next query)"
            )
        else:
            state = "up to date"
        return {
            "path": str(self.root),
            "tracks": n,
            "generation": self.generation,
            "model": None if model is None else model.to_dict(),
            "needs_reindex": reindex_advice(model, self.root),
            "index": {
                "file": str(self.index_path),
                "state": state,
                "kind": header.get("kind", "-") if header else "-",
            },
        }

    def tracks(self, *, limit: int | None = None) -> list[Neighbor]:
        """Tracks in id order (``score`` 1.0), at most ``limit`` of them."""
        if not self.exists:
            return []
        sql = "SELECT id FROM tracks ORDER BY id" + (" LIMIT ?" if limit is not None else "")
        conn = self._connection()
        ids = [r[0] for r in conn.execute(sql, () if limit is None else (int(limit),))]
        return self._neighbors(conn, ids, [1.0] * len(ids))

    def get(self, track_id: int) -> Neighbor:
        """Track ``track_id`` (:class:`DataError` when there is none)."""
        found = self._neighbors(self._connection(), [int(track_id)], [1.0])
        if not found:
            raise DataError(f"no track with id {track_id} in catalog {str(self.root)!r}")
        return found[0]

    @staticmethod
    def _neighbors(conn: sqlite3.Connection, ids: Sequence[int], scores: Sequence[float]):
        rows = store.get_rows(conn, list(ids))
        out = []
        for track_id, score in zip(ids, scores, strict=True):
            if int(track_id) in rows:
                path, _, meta = rows[int(track_id)]
                name = str(meta.get("name") or Path(path).name)
                out.append(Neighbor(int(track_id), path, name, float(score), meta))
        return out

    # -- model ---------------------------------------------------------------------------
    def embedder(self, *, device: str = "cpu"):
        """The catalog's own embedder (its model file copy, or ``"mfcc"`` with the
        version, settings and statistics the catalog recorded).

        Raises
        ------
        DataError
            Empty catalog (no model yet), or the model file is missing or changed.
        """
        from torchmusic.embed.embedders import get_embedder
        from torchmusic.embed.mfcc import mfcc_embedder_for

        found = store.read_model(self._connection()) if self.exists else None
        if found is None:
            raise DataError(
                f"catalog {str(self.root)!r} is empty and has no model yet: pass a model "
                "(--model FILE or 'mfcc')"
            )
        info, details = found
        cached = self._embedders.get(device)
        if cached is not None and cached.info.fingerprint == info.fingerprint:
            return cached  # (a restandardised catalog has a new fingerprint: rebuilt)
        if info.name == "mfcc":
            embedder = mfcc_embedder_for(
                info.version, details.get("settings", {}), details.get("stats"), device=device
            )
        elif info.name == "rhythm":
            embedder = get_embedder("rhythm", device=device)
        else:
            path = self.model_path if self.model_path.is_file() else Path(info.source)
            if not path.is_file():
                raise DataError(
                    f"the model of catalog {str(self.root)!r} ({info.source}) is missing; "
                    "pass --model with the same model file"
                )
            if info.name == "music-embed":  # v2: the catalog's copy is its encoder
                from torchmusic.embed.fused import music_embedder

                embedder = music_embedder(path, device=device)
            else:
                embedder = get_embedder(path, device=device)
        if embedder.info.fingerprint != info.fingerprint:
            raise DataError(
                f"model file {embedder.info.source} is not the model catalog {str(self.root)!r} "
                f"was built with ({info.describe()}; the file is {embedder.info.describe()})"
            )
        self._embedders[device] = embedder
        return embedder

    def _check_model(self, conn: sqlite3.Connection, info: ModelInfo) -> ModelInfo | None:
        found = store.read_model(conn)
        if found is None:
            return None
        have = found[0]
        if info.dim != have.dim:
            raise DataError(
                f"embeddings of dim {info.dim} ({info.describe()}) cannot join catalog "
                f"{str(self.root)!r}, whose embeddings have dim {have.dim} ({have.describe()})"
                + (
                    ": omit --model (or pass 'mfcc') to embed with the catalog's own mfcc version"
                    if info.name == have.name == "mfcc"
                    else ""
                )
            )
        if info.fingerprint != have.fingerprint:
            hint = "use that model (omit --model) or start a new catalog"
            if info.name == have.name == "mfcc":
                hint = (
                    "omit --model (or pass 'mfcc') to embed with the catalog's own mfcc "
                    "version and statistics, or start a new catalog"
                )
            raise DataError(
                f"embeddings from model {info.describe()} cannot join catalog "
                f"{str(self.root)!r}, built with model {have.describe()}: {hint}"
            )
        return have

    def _bind_model(self, conn: sqlite3.Connection, info: ModelInfo, embedder: Any) -> None:
        """Record the model inside the caller's write transaction, if not recorded yet."""
        if self._check_model(conn, info) is not None:
            return
        store.write_model(conn, info, self._model_details(info, embedder))

    def _model_details(self, info: ModelInfo, embedder: Any) -> dict[str, Any]:
        """What the model record needs to rebuild the embedder (copies a model file)."""
        details: dict[str, Any] = {}
        if info.name == "mfcc":
            if embedder is None:  # precomputed embeddings: only the defaults are known
                from torchmusic.embed.mfcc import MFCCEmbedder, MFCCMeanEmbedder

                embedder = MFCCMeanEmbedder() if info.version == "1" else MFCCEmbedder()
                if embedder.info.fingerprint != info.fingerprint:
                    raise DataError(
                        f"precomputed embeddings of {info.describe()} were made with MFCC "
                        "settings or statistics other than the defaults, which the catalog "
                        "cannot recover: add the audio with Catalog.add(..., embedder=...)"
                    )
            details["settings"] = dict(embedder.settings)
            if getattr(embedder, "stats", None) is not None:
                details["stats"] = embedder.stats.to_dict()
        elif info.source and Path(info.source).is_file():
            # A copy keeps the catalog usable when the original file moves or changes.
            tmp = self.model_path.with_name(f".{MODEL_NAME}.{os.getpid()}.tmp")
            shutil.copyfile(info.source, tmp)
            os.replace(tmp, self.model_path)
            details["file"] = MODEL_NAME
        return details

    # -- adding --------------------------------------------------------------------------
    def add(
        self,
        paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
        *,
        embedder: Any = None,
        device: str = "cpu",
        workers: int | None = None,
        batch_size: int = 32,
        metadata: Metadata = None,
        progress: bool = False,
        extensions: Sequence[str] = AUDIO_EXTENSIONS,
        on_batch: Callable[[AddReport], None] | None = None,
        stream: Callable[..., Iterator[Any]] | None = None,
    ) -> AddReport:
        """Embed audio files and folders and add them; known content and bad files are skipped.

        Parameters
        ----------
        paths : path or iterable of paths
            Audio files and folders (searched recursively for ``extensions``).
        embedder : Embedder, str or os.PathLike, optional
            ``"mfcc"``, a model file or an :class:`~torchmusic.embed.Embedder`.
            Default: the catalog's own model (required for a new catalog). ``"mfcc"``
            on a catalog built with ``mfcc`` means the catalog's own mfcc embedder
            (its version and statistics, e.g. after :meth:`restandardise`).
        device : str
            Where features and networks run.
        workers : int, optional
            Decoding threads of the default ``stream`` (default up to 4).
        batch_size : int
            Files per SQLite transaction: a killed run loses at most one batch.
        metadata : mapping or callable, optional
            Extra JSON-able metadata for every track, or ``f(path) -> mapping``.
        progress : bool
            Progress bar on stderr.
        extensions : sequence of str
            Extensions searched for in folders.
        on_batch : callable, optional
            Called with the report so far after every committed batch.
        stream : callable, optional
            ``stream(files, embedder)`` yielding an
            :class:`~torchmusic.embed.tracks.EmbeddedFile` per file, in order.
            Default: :func:`~torchmusic.embed.iter_embeddings` with ``workers``
            threads; ``functools.partial(torchmusic.scale.iter_embeddings,
            workers=4, batch_size=64)`` decodes in worker processes and batches the
            network across tracks. One stream runs over the whole job; files are
            hashed and checked against the catalog just ahead of it, so known
            content is never decoded.

        Returns
        -------
        AddReport

        Raises
        ------
        DataError
            The embedder's model differs from the catalog's, or no model is known.

        Examples
        --------
        >>> Catalog("cat").add(["music/"], embedder="mfcc").added[:1]  # doctest: +SKIP
        [(1, PosixPath('/home/me/music/a.ogg'))]
        """
        from torchmusic.embed.embedders import get_embedder
        from torchmusic.embed.tracks import _check_workers, iter_embeddings

        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ParameterError(f"batch_size={batch_size!r} must be a positive integer")
        _check_workers(workers)
        own_mfcc = (
            isinstance(embedder, str)
            and embedder.lower() == "mfcc"
            and (model := self.model) is not None
            and model.name == "mfcc"
        )
        if embedder is None or own_mfcc:
            emb = self.embedder(device=device)
        else:
            emb = get_embedder(embedder, device=device)
        # Every argument is checked before the catalog is created: a rejected command
        # never leaves an empty catalog behind.
        inputs, missing = collect_inputs(paths, extensions=extensions)
        report = AddReport(failed=[FailedFile(p, "no such file or folder") for p in missing])
        if not inputs and not self.exists:
            return report
        conn = self._connection(create=True)
        self._check_model(conn, emb.info)  # fail before embedding anything
        names = dict(inputs)
        seen: dict[str, int] = {}  # content hash -> id (-1 until committed) of this run's files
        hashes: dict[Path, str] = {}  # files handed to the stream and not yet back
        bar = tqdm(total=len(inputs), desc="catalog add", unit="file", disable=not progress)

        def todo() -> Iterator[Path]:
            # Hashed and checked against the catalog a batch at a time, just ahead of
            # the decoders: a resumed run skips its committed files without decoding them.
            for start in range(0, len(inputs), batch_size):
                digests: dict[Path, str] = {}
                for path, _ in inputs[start : start + batch_size]:
                    try:
                        digests[path] = content_hash(path)
                    except (AudioFileError, OSError) as exc:
                        report.failed.append(FailedFile(path, str(exc)))
                        bar.update(1)
                known = store.known_hashes(conn, list(digests.values()))
                for path, digest in digests.items():
                    if digest in known or digest in seen:
                        report.duplicates.append((path, known.get(digest, seen.get(digest, -1))))
                        bar.update(1)
                    else:
                        seen[digest] = -1
                        hashes[path] = digest
                        yield path

        rows: list[tuple[str, str, dict[str, Any], np.ndarray]] = []
        raw: dict[str, np.ndarray] = {}
        outcomes = 0  # since the last commit

        def commit() -> None:
            if rows:
                seen.update(self._insert(conn, rows, emb.info, emb, report, raw=raw))
            rows.clear()
            raw.clear()
            if on_batch is not None:
                on_batch(report)

        items = (stream or functools.partial(iter_embeddings, workers=workers))(todo(), emb)
        for item in items:
            digest = hashes.pop(item.path)
            outcomes += 1
            bar.update(1)
            if item.vector is None:
                report.failed.append(FailedFile(item.path, item.error or "unknown error"))
            else:
                meta = {"name": names[item.path], "duration": round(item.duration, 3)}
                meta["size"] = item.path.stat().st_size
                meta.update(self._user_metadata(metadata, item.path))
                vector = _unit_rows(item.vector, emb.info.dim, what="embeddings")[0]
                rows.append((str(item.path), digest, meta, vector))
                if item.raw is not None:
                    raw[digest] = item.raw
            # One transaction per batch_size files: a killed run loses at most one batch.
            if outcomes >= batch_size:
                commit()
                outcomes = 0
        if outcomes:
            commit()
        bar.close()
        if report.added:
            self._save_current_index(conn)
        report.generation = store.generation(conn)
        return report

    @staticmethod
    def _user_metadata(metadata: Metadata, path: Path) -> dict[str, Any]:
        if metadata is None:
            return {}
        value = metadata(path) if callable(metadata) else metadata
        if not isinstance(value, Mapping):
            raise ParameterError(f"metadata for {path} must be a mapping, got {value!r}")
        try:
            json.dumps(dict(value))
        except (TypeError, ValueError) as exc:
            raise ParameterError(f"metadata for {path} is not JSON-serialisable: {exc}") from exc
        return dict(value)

    def _insert(
        self,
        conn: sqlite3.Connection,
        rows: list[tuple[str, str, dict[str, Any], np.ndarray]],
        info: ModelInfo,
        embedder: Any,
        report: AddReport,
        *,
        raw: Mapping[str, np.ndarray] | None = None,
    ) -> dict[str, int]:
        """One write transaction: bind the model if new, bump the generation, insert rows
        (and their raw features, ``content hash -> vector``, when the embedder has any).

        Returns ``content hash -> id`` of the rows inserted.
        """
        with transaction(conn, write=True):
            self._bind_model(conn, info, embedder)
            gen = store.bump_generation(conn)
            new = {h: i for i, h in store.insert_tracks(conn, rows, gen=gen)}
            if raw:
                store.write_raw_features(conn, [(i, raw[h]) for h, i in new.items() if h in raw])
        for path, digest, _, _ in rows:
            if digest in new:
                report.added.append((new[digest], Path(path)))
            else:  # another process added the same content meanwhile
                known = store.known_hashes(conn, [digest])
                report.duplicates.append((Path(path), known.get(digest, -1)))
        return new

    def add_embeddings(
        self,
        vectors: np.ndarray,
        *,
        paths: Sequence[str | os.PathLike[str]],
        model: ModelInfo,
        content_hashes: Sequence[str] | None = None,
        metadata: Sequence[Mapping[str, Any]] | None = None,
        batch_size: int = 10_000,
    ) -> AddReport:
        """Add precomputed embeddings (e.g. from :func:`~torchmusic.embed.embed_tracks`).

        Parameters
        ----------
        vectors : np.ndarray [shape=(n, dim)]
            Embeddings (normalised to unit length here).
        paths : sequence of path
            The track each row belongs to.
        model : ModelInfo
            The model that produced them (``TrackEmbeddings.info``).
        content_hashes : sequence of str, optional
            Content hashes; default: computed from the files at ``paths``.
        metadata : sequence of mapping, optional
            Per-row metadata.
        batch_size : int
            Rows per SQLite transaction.

        Raises
        ------
        DataError
            Wrong dimension (for ``model`` or for the catalog), another model's
            fingerprint, non-finite values, or mismatched lengths.

        Examples
        --------
        >>> emb, _ = embed_tracks(["music/"], "mfcc")  # doctest: +SKIP
        >>> Catalog("cat").add_embeddings(emb.vectors, paths=emb.paths, model=emb.info)  # doctest: +SKIP
        """
        if not isinstance(model, ModelInfo):
            raise ParameterError(f"model must be a ModelInfo, got {type(model).__name__}")
        v = _unit_rows(vectors, model.dim, what=f"embeddings for model {model.name!r}")
        n = v.shape[0]
        # Existing files are stored by absolute path (as `add` does), so removing by path works.
        paths = [Path(p).resolve() if Path(p).exists() else Path(p) for p in paths]
        if len(paths) != n:
            raise DataError(f"{n} embeddings but {len(paths)} paths")
        hashes = list(content_hashes) if content_hashes is not None else None
        if hashes is None:
            hashes = [content_hash(p) for p in paths]
        metas = list(metadata) if metadata is not None else [{} for _ in paths]
        if len(hashes) != n or len(metas) != n:
            raise DataError(f"{n} embeddings but {len(hashes)} hashes / {len(metas)} metadata")
        conn = self._connection(create=True)
        self._check_model(conn, model)
        report = AddReport()
        seen: set[str] = set()
        for start in range(0, n, batch_size):
            part = range(start, min(n, start + batch_size))
            known = store.known_hashes(conn, [hashes[i] for i in part])
            rows = []
            for i in part:
                if hashes[i] in known or hashes[i] in seen:
                    report.duplicates.append((paths[i], known.get(hashes[i], -1)))
                    continue
                seen.add(hashes[i])
                meta = {"name": paths[i].name, **dict(metas[i])}
                rows.append((str(paths[i]), hashes[i], meta, v[i]))
            if rows:
                self._insert(conn, rows, model, None, report)
        if report.added:
            self._save_current_index(conn)
        report.generation = store.generation(conn)
        return report

    def import_embeddings(
        self,
        source: str | os.PathLike[str],
        *,
        model: Any = None,
        device: str = "cpu",
        batch_size: int = 1024,
        progress: bool = False,
    ) -> AddReport:
        """Add an embeddings table (Parquet / JSON Lines file or folder) without decoding audio.

        The table is what :func:`torchmusic.scale.embed_dataset` writes (columns:
        :data:`~torchmusic.recommend.catalog.imports.EMBEDDING_COLUMNS`). The result
        equals :meth:`add` of the same files with the same model: rows, metadata,
        vectors and MFCC statistics; known content (hash) is skipped, error rows are
        reported in ``failed``. One transaction per ``batch_size`` rows, so a killed
        import keeps its finished batches and a rerun skips them.

        Parameters
        ----------
        source : str or os.PathLike
            A ``.parquet`` / ``.jsonl`` file or a folder of part files.
        model : str, os.PathLike or Embedder, optional
            The model the table was made with, needed only to start a new catalog
            when the table's model file is not at its recorded path (or an ``mfcc``
            embedder with non-default statistics); its fingerprint must match.
        device : str
            Where ``model`` is loaded (only to check and record it).
        batch_size : int
            Rows per SQLite transaction.
        progress : bool
            Progress bar on stderr.

        Returns
        -------
        AddReport

        Raises
        ------
        DataError
            The table's model (fingerprint) differs from the catalog's or from
            ``model``, rows of several models, or an unreadable table.

        Examples
        --------
        >>> Catalog("cat").import_embeddings("embeddings.parquet").summary()  # doctest: +SKIP
        '1000 track(s) added, 12 already in the catalog, 1 failed (generation 3)\\n  FAILED ...'
        """
        from torchmusic.recommend.catalog.imports import import_embeddings

        return import_embeddings(
            self, source, model=model, device=device, batch_size=batch_size, progress=progress
        )

    # -- removing ------------------------------------------------------------------------
    def remove(self, items: Iterable[int | str | os.PathLike[str]]) -> RemoveReport:
        """Remove tracks given by id, stored path, or (for an existing file) its content.

        Returns
        -------
        RemoveReport
            ``removed`` ids and the ``missing`` items that matched no track.

        Examples
        --------
        >>> Catalog("cat").remove([3, "music/a.ogg"])  # doctest: +SKIP
        RemoveReport(removed=[3, 1], missing=[])
        """
        conn = self._connection()
        ids: list[int] = []
        missing: list[str] = []
        for item in items:
            found = self._resolve_item(conn, item)
            if found:
                ids.extend(i for i in found if i not in ids)
            else:
                missing.append(str(item))
        if ids:
            with transaction(conn, write=True):
                present = list(store.get_rows(conn, ids))
                if present:
                    store.delete_tracks(conn, present, gen=store.bump_generation(conn))
            missing += [str(i) for i in ids if i not in present]
            ids = [i for i in ids if i in present]
            self._save_current_index(conn)
        return RemoveReport(removed=ids, missing=missing)

    @staticmethod
    def _resolve_item(conn: sqlite3.Connection, item: int | str | os.PathLike[str]) -> list[int]:
        if isinstance(item, int | np.integer) and not isinstance(item, bool):
            return [int(item)] if store.get_rows(conn, [int(item)]) else []
        text = os.fspath(item)
        if text.isdigit() and not Path(text).exists():
            return [int(text)] if store.get_rows(conn, [int(text)]) else []
        path = Path(text).expanduser()
        ids = store.ids_by_path(conn, str(path.resolve()))
        if not ids and path.is_file():
            known = store.known_hashes(conn, [content_hash(path)])
            ids = list(known.values())
        return ids

    # -- index ---------------------------------------------------------------------------
    def _report(self, message: str) -> None:
        self.events.append(message)
        logger.info("catalog %s: %s", self.root, message)

    def _ensure_index(self, conn: sqlite3.Connection, dim: int, fingerprint: str, *, report: bool):
        """The in-memory index at the snapshot's generation (call inside a read transaction)."""
        gen, n = store.generation(conn), store.count(conn)
        if self._index is not None and self._index_fp != fingerprint:
            # Another model since (restandardised): every vector was rewritten.
            self._index, self._index_gen = None, -1
            if report:
                self._report("the catalog's model changed (restandardised); index reloaded")
        self._index_fp = fingerprint
        if self._index is not None and self._index_gen == gen:
            return self._index
        if self._index is not None:
            # Catch up with what other processes (or this one) committed since.
            removed, ids, vectors = store.changes_since(conn, self._index_gen, dim)
            if removed.size:
                self._index.remove_ids(removed)
            if ids.size:
                self._index.add_with_ids(vectors, ids)
            self._index_gen = gen
            if self._index.ntotal == n:
                return self._index
            self._report("in-memory index out of step with SQLite; rebuilt")
        else:
            index, reason = load_index(
                self.index_path, generation=gen, fingerprint=fingerprint, ntotal=n
            )
            if index is not None:
                self._index, self._index_gen = index, gen
                return index
            if report and not (reason == "missing" and n == 0):
                self._report(f"index file {reason}; rebuilt from SQLite ({n} tracks)")
        ids, vectors = store.all_vectors(conn, dim)
        self._index, self._index_gen = build_index(ids, vectors), gen
        self._unsaved = True
        return self._index

    def _save_current_index(self, conn: sqlite3.Connection) -> None:
        """Bring the index up to date (switching kind if the size calls for it) and save it."""
        model = self.model
        if model is None:
            return
        with transaction(conn):
            index = self._ensure_index(conn, model.dim, model.fingerprint, report=False)
            n = store.count(conn)
            if index_kind(index) != choose_kind(n):
                ids, vectors = store.all_vectors(conn, model.dim)
                index = self._index = build_index(ids, vectors)
            gen = self._index_gen
        self._write_index(index, gen, model.fingerprint)

    def _write_index(self, index: Any, gen: int, fingerprint: str) -> None:
        save_index(self.index_path, index, generation=gen, fingerprint=fingerprint)
        self._unsaved = False

    def rebuild_index(self) -> str:
        """Rebuild the index from SQLite and save it; returns a one-line description.

        Examples
        --------
        >>> Catalog("cat").rebuild_index()  # doctest: +SKIP
        'flat index of 12 tracks at generation 4'
        """
        conn = self._connection()
        model = self.model
        if model is None:
            raise DataError(f"catalog {str(self.root)!r} is empty: nothing to index")
        with transaction(conn):
            ids, vectors = store.all_vectors(conn, model.dim)
            gen = store.generation(conn)
        self._index, self._index_gen = build_index(ids, vectors), gen
        self._index_fp = model.fingerprint
        self._write_index(self._index, gen, model.fingerprint)
        return f"{index_kind(self._index)} index of {len(ids)} tracks at generation {gen}"

    # -- restandardising ---------------------------------------------------------------
    def restandardise(
        self, *, device: str = "cpu", workers: int | None = None, progress: bool = False
    ) -> RestandardiseReport:
        """Refit an ``mfcc`` catalog's standardisation on its own tracks and rewrite every vector.

        The per-dimension mean and standard deviation of the tracks' raw MFCC
        statistics (:class:`~torchmusic.embed.mfcc.MFCCStandardisation`) replace the
        ones the catalog was built with (the shipped reference statistics, or an
        earlier refit); every embedding is recomputed from the raw statistics, the
        model record gets the new statistics and fingerprint, and the index is
        rebuilt. A catalog built with the legacy ``mfcc`` v1 embedder is upgraded to
        v2 the same way.

        Raw statistics come from the catalog (table ``raw_features``, written by
        every add with the v2 embedder); tracks without them (a v1 catalog; tracks
        added as precomputed embeddings) are read again from their files, which must
        still exist with the content they were added with.

        Nothing changes unless everything succeeds: missing, changed or unreadable
        files are refused, naming them, before any write; the model record, the
        vectors and the raw statistics are rewritten in one write transaction (a
        killed process leaves the old catalog); a catalog written to by another
        process meanwhile is refused (run it again).

        Parameters
        ----------
        device : str
            Where the MFCCs of re-read files are computed.
        workers : int, optional
            Decoding threads for re-read files (default up to 4).
        progress : bool
            Progress bar on stderr while files are re-read.

        Returns
        -------
        RestandardiseReport

        Raises
        ------
        ParameterError
            The catalog's model is not ``mfcc`` (a network's embeddings have no
            per-dimension statistics to refit).
        DataError
            No catalog, fewer than 2 tracks, files missing, changed or unreadable,
            or a concurrent write.

        Examples
        --------
        >>> print(Catalog("cat").restandardise().summary())  # doctest: +SKIP
        restandardised 120 track(s) (120 from stored MFCC statistics, 0 from their audio files)
        model mfcc v2, dim 60, fingerprint 76f3f6d0f644 -> mfcc v2, dim 60, fingerprint 0c1d...
        rebuilt flat index of 120 tracks at generation 9
        """
        from torchmusic.embed.mfcc import LAYOUT, MFCCEmbedder, fit_mfcc_standardisation
        from torchmusic.embed.tracks import _check_workers

        _check_workers(workers)
        conn = self._connection()
        where = str(self.root)
        found = store.read_model(conn)
        if found is None:
            raise DataError(f"catalog {where!r} is empty: nothing to restandardise")
        old, details = found
        if old.name != "mfcc":
            raise ParameterError(
                f"--restandardise refits the per-dimension statistics of an mfcc catalog; "
                f"catalog {where!r} holds embeddings of {old.describe()}, which have none to "
                "refit (rebuild the index with 'torchmusic catalog reindex' alone)"
            )
        if old.version not in ("1", "2"):
            raise DataError(
                f"catalog {where!r} holds mfcc v{old.version} embeddings, unknown to this "
                "torchmusic: upgrade torchmusic"
            )
        settings = dict(details.get("settings", {}))
        n_mfcc, sr = int(settings.get("n_mfcc", 20)), int(settings.get("sr", 22050))
        delta_width = int(settings.get("delta_width", 9))
        dim = len(LAYOUT) * n_mfcc
        with transaction(conn):  # one snapshot
            gen = store.generation(conn)
            tracks = conn.execute(
                "SELECT id, path, content_hash FROM tracks ORDER BY id"
            ).fetchall()
            stored = store.raw_features(conn, dim) if old.version == "2" else {}
        if len(tracks) < 2:
            raise DataError(
                f"catalog {where!r} has {len(tracks)} track(s): fitting per-dimension statistics "
                "needs at least 2"
            )
        todo = [(int(i), Path(p), h) for i, p, h in tracks if int(i) not in stored]
        raw = dict(stored)
        if todo:
            raw.update(self._reread_raw(todo, n_mfcc, sr, delta_width, device, workers, progress))
        ids = [int(r[0]) for r in tracks]
        matrix = np.stack([raw[i] for i in ids]).astype(np.float32)
        stats = fit_mfcc_standardisation(
            matrix,
            fitted_on=f"catalog {where}: {len(ids)} tracks",
            n_mfcc=n_mfcc,
            sr=sr,
            delta_width=delta_width,
            provenance={
                "catalog": where,
                "command": f"torchmusic catalog reindex --catalog {where} --restandardise",
                "generation": gen,
            },
        )
        embedder = MFCCEmbedder(
            n_mfcc=n_mfcc, sr=sr, delta_width=delta_width, stats=stats, device=device
        )
        vectors = _unit_rows(embedder.standardise(matrix), embedder.dim, what="embeddings")
        new = embedder.info
        with transaction(conn, write=True):
            if store.generation(conn) != gen:
                raise DataError(
                    f"catalog {where!r} was changed by another process while its statistics "
                    "were refitted; nothing was changed: run the command again"
                )
            store.write_model(conn, new, self._model_details(new, embedder), replace=True)
            store.update_embeddings(conn, ids, vectors)
            store.write_raw_features(conn, zip(ids, matrix, strict=True))
            generation = store.bump_generation(conn)
        self._embedders.clear()
        self._index, self._index_gen, self._index_fp = None, -1, ""
        index = self.rebuild_index()
        return RestandardiseReport(
            tracks=len(ids),
            from_stored=len(ids) - len(todo),
            from_audio=len(todo),
            old_model=old,
            new_model=new,
            generation=generation,
            index=index,
        )

    def _reread_raw(
        self,
        todo: list[tuple[int, Path, str]],
        n_mfcc: int,
        sr: int,
        delta_width: int,
        device: str,
        workers: int | None,
        progress: bool,
    ) -> dict[int, np.ndarray]:
        """Raw MFCC statistics of tracks from their files; :class:`DataError` naming every
        missing, changed or unreadable file (nothing is written)."""
        from torchmusic.embed.mfcc import MFCCEmbedder, MFCCStandardisation
        from torchmusic.embed.tracks import iter_embeddings

        where = str(self.root)

        def refuse(problem: str, bad: list[str]) -> DataError:
            shown = "\n".join(f"  {b}" for b in bad[:20])
            more = f"\n  ... and {len(bad) - 20} more" if len(bad) > 20 else ""
            return DataError(
                f"cannot restandardise catalog {where!r}: {len(bad)} track(s) have no stored "
                f"MFCC statistics and {problem}; nothing was changed. Restore the files, or "
                f"remove those tracks ('torchmusic catalog remove ID... --catalog {where}'):\n"
                f"{shown}{more}"
            )

        missing = [f"{i}: {p}" for i, p, _ in todo if not p.is_file()]
        if missing:
            raise refuse("their audio files are missing", missing)
        changed = []
        for i, p, digest in todo:
            try:
                if content_hash(p) != digest:
                    changed.append(f"{i}: {p}")
            except (AudioFileError, OSError) as exc:
                changed.append(f"{i}: {p} ({exc})")
        if changed:
            raise refuse("their files changed since they were added", changed)
        identity = MFCCStandardisation.identity(n_mfcc=n_mfcc, sr=sr, delta_width=delta_width)
        probe = MFCCEmbedder(
            n_mfcc=n_mfcc, sr=sr, delta_width=delta_width, stats=identity, device=device
        )
        out: dict[int, np.ndarray] = {}
        failed: list[str] = []
        by_path = {p: i for i, p, _ in todo}
        bar = tqdm(total=len(todo), desc="restandardise", unit="file", disable=not progress)
        for item in iter_embeddings([p for _, p, _ in todo], probe, workers=workers):
            bar.update(1)
            if item.raw is None:
                failed.append(f"{by_path[item.path]}: {item.path} ({item.error})")
            else:
                out[by_path[item.path]] = item.raw
        bar.close()
        if failed:
            raise refuse("their audio files cannot be read", failed)
        return out

    # -- searching -----------------------------------------------------------------------
    def similar(
        self,
        query: int | str | os.PathLike[str] | np.ndarray,
        k: int = 10,
        *,
        exclude_self: bool = True,
        device: str = "cpu",
    ) -> list[Neighbor]:
        """The ``k`` tracks most similar (cosine) to ``query``, most similar first.

        Parameters
        ----------
        query : int, str, os.PathLike or np.ndarray
            A track id (int or digit string), an audio file (embedded with the
            catalog's model, or looked up when its content is in the catalog), or
            an embedding ``(dim,)``. A digit string is read by the rule of
            :meth:`resolve_query` (the track id wins over a file of that name).
        k : int
            Number of neighbours (fewer when the catalog is smaller).
        exclude_self : bool
            Leave the query track out when it is in the catalog.
        device : str
            Where an audio query is embedded.

        Returns
        -------
        list of Neighbor

        Raises
        ------
        DataError
            No catalog, empty catalog, unknown track id, a file that is neither
            readable audio nor in the catalog, or an embedding of the wrong size.

        Examples
        --------
        >>> [n.name for n in Catalog("cat").similar(3, k=2)]  # doctest: +SKIP
        ['b.ogg', 'c.ogg']
        """
        k = _check_k(k)
        conn = self._connection()
        model = self.model
        if model is None or len(self) == 0:
            raise DataError(
                f"catalog {str(self.root)!r} is empty: add tracks with "
                "'torchmusic catalog add DIR --catalog PATH'"
            )
        vector, self_id = self._query_vector(conn, query, model, device=device)
        exclude = {self_id} if exclude_self and self_id is not None else set()
        with transaction(conn):
            now = store.read_model(conn)
            if now is None or now[0].fingerprint != model.fingerprint:
                raise DataError(
                    f"the model of catalog {str(self.root)!r} changed while this query ran "
                    "(restandardised, or the catalog was rebuilt): run the query again"
                )
            index = self._ensure_index(conn, model.dim, model.fingerprint, report=True)
            want = min(k + len(exclude), int(index.ntotal))
            if want == 0:
                return []
            scores, ids = index.search(vector[None, :], want)
            pairs = [
                (int(i), float(s))
                for i, s in zip(ids[0], scores[0], strict=True)
                if i >= 0 and int(i) not in exclude
            ][:k]
            found = self._neighbors(conn, [i for i, _ in pairs], [s for _, s in pairs])
            gen = self._index_gen
        if self._unsaved:
            try:
                self._write_index(index, gen, model.fingerprint)
            except OSError as exc:  # a read-only catalog is still searchable
                logger.info("could not save the rebuilt index: %s", exc)
        return found

    def resolve_query(self, query: str) -> tuple[int | Path, str | None]:
        """What a command-line QUERY names: a track id or an audio file, and a note
        saying which reading was chosen when both were possible (None otherwise).

        The rule: a string of digits is a track id when the catalog holds that id
        (even if a file of that name exists: write ``./1`` to query that file); it
        is a file only when the catalog has no such id and the file exists. Any
        other string is a file.

        Raises
        ------
        DataError
            No catalog; digits that are neither a track id nor an existing file.

        Examples
        --------
        >>> Catalog("cat").resolve_query("3")  # doctest: +SKIP
        (3, None)
        """
        conn = self._connection()
        if not query.isdigit():
            return Path(query), None
        track_id = int(query)
        is_file = Path(query).is_file()
        if store.get_rows(conn, [track_id]):
            note = (
                f"{query!r} is track id {track_id}; a file named {query!r} exists too: "
                f"write ./{query} to query the file"
            )
            return track_id, note if is_file else None
        if is_file:
            return Path(query), (
                f"no track id {track_id} in catalog {str(self.root)!r}: querying the file {query!r}"
            )
        raise DataError(
            f"query {query!r}: no track with id {track_id} in catalog {str(self.root)!r} and "
            "no file of that name; expected a track id or an audio file"
        )

    def _query_vector(
        self, conn: sqlite3.Connection, query: Any, model: ModelInfo, *, device: str
    ) -> tuple[np.ndarray, int | None]:
        if isinstance(query, np.ndarray):
            return _unit_rows(query, model.dim, what="query embedding")[0], None
        if isinstance(query, str) and query.isdigit():
            query, _ = self.resolve_query(query)  # the rule of resolve_query
        if isinstance(query, int | np.integer) and not isinstance(query, bool):
            track_id = int(query)
        else:
            path = Path(os.fspath(query)).expanduser()
            if not path.is_file():
                raise DataError(
                    f"query {str(query)!r} is neither a track id nor an existing audio file"
                )
            known = store.known_hashes(conn, [content_hash(path)])
            if known:
                track_id = next(iter(known.values()))
            else:
                vector = self.embedder(device=device).embed_file(path)
                return _unit_rows(vector, model.dim, what="query embedding")[0], None
        vector = store.get_vector(conn, track_id, model.dim)
        if vector is None:
            raise DataError(f"no track with id {track_id} in catalog {str(self.root)!r}")
        return _unit_rows(vector, model.dim, what="stored embedding")[0], track_id
