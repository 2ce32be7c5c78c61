"""The FAISS index of a catalog: which kind, how it is built, and its file on disk.

Vectors are unit-norm, so inner product is cosine similarity. Up to
:data:`EXACT_MAX_TRACKS` tracks the index is exact (``IndexIDMap2`` over
``IndexFlatIP``); above it, an inverted file (``IndexIVFFlat``) that scans only the
``nprobe`` closest of ``nlist`` clusters. The threshold and the IVF settings come
from ``benchmarks/faiss_search.py`` (see ``docs/catalog.md``): an exact search
stays around 1 ms per query on one CPU core up to ~50k 128-d vectors (they fit in
cache), and grows to ~8 ms at 100k, past a 5 ms query budget.

Index file (``index.safetensors``): a safetensors file holding the serialised FAISS
index as one uint8 tensor, and string metadata with the catalog ``generation`` it
reflects, the model ``fingerprint``, the number of vectors and a SHA-256 of the
payload. It is written to a temporary file and renamed over the old one, so
readers see the old index or the new one, never half of one; a checksum mismatch
(truncation, bit rot) is detected before FAISS parses a byte.
"""

from __future__ import annotations

import math
import os
import secrets
from pathlib import Path

import numpy as np

from torchmusic.errors import DataError, DependencyError

INDEX_NAME = "index.safetensors"
INDEX_FORMAT = "torchmusic.catalog-index"
INDEX_FORMAT_VERSION = 1
#: Largest catalog searched exactly; bigger ones get an IVF index.
EXACT_MAX_TRACKS = 50_000
#: Clusters scanned per query by IVF indexes (1M vectors: recall@10 0.995, p99 < 5 ms; see docs).
DEFAULT_NPROBE = 32
# k-means sees this many training points per cluster (FAISS warns below 39): enough
# for stable centroids, and it keeps training 4,096 clusters to about a minute on one core.
_TRAIN_PER_LIST = 40


def faiss_module():
    """``import faiss``, or a :class:`DependencyError` saying how to install it."""
    try:
        import faiss
    except ImportError as exc:
        raise DependencyError(
            "catalogs need FAISS: pip install faiss-cpu (or torchmusic[recommend])"
        ) from exc
    return faiss


def choose_kind(n: int) -> str:
    """``"flat"`` (exact) up to :data:`EXACT_MAX_TRACKS` vectors, else ``"ivf"``.

    Examples
    --------
    >>> choose_kind(5_000), choose_kind(2_000_000)
    ('flat', 'ivf')
    """
    return "flat" if n <= EXACT_MAX_TRACKS else "ivf"


def ivf_lists(n: int) -> int:
    """Number of IVF clusters for ``n`` vectors: about ``4 sqrt(n)`` (FAISS's guideline),
    a power of two in [64, 16384].

    Examples
    --------
    >>> ivf_lists(1_000_000)
    4096
    """
    return int(min(16384, max(64, 2 ** round(math.log2(max(1.0, 4 * math.sqrt(n)))))))


def build_index(
    ids: np.ndarray,
    vectors: np.ndarray,
    *,
    kind: str = "auto",
    nlist: int | None = None,
    nprobe: int = DEFAULT_NPROBE,
    seed: int = 0,
):
    """A FAISS inner-product index over ``vectors`` with external ids ``ids``.

    Parameters
    ----------
    ids : np.ndarray [shape=(n,)], int64
        Track ids (search results are these ids).
    vectors : np.ndarray [shape=(n, dim)], float32
        Unit-norm embeddings.
    kind : {"auto", "flat", "ivf"}
        ``"auto"``: :func:`choose_kind`.
    nlist : int, optional
        IVF clusters (default :func:`ivf_lists`).
    nprobe : int
        IVF clusters scanned per query.
    seed : int
        Seeds the k-means training sample and initialisation (IVF only).

    Returns
    -------
    faiss.Index
        Supports ``add_with_ids`` and ``remove_ids``.

    Examples
    --------
    >>> x = np.eye(3, dtype=np.float32)
    >>> index = build_index(np.array([7, 8, 9]), x)
    >>> index.search(x[:1], 1)[1].tolist()
    [[7]]
    """
    faiss = faiss_module()
    n, dim = vectors.shape
    kind = choose_kind(n) if kind == "auto" else kind
    if kind == "flat":
        index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
    elif kind == "ivf":
        # Fewer clusters when there are too few vectors to train ivf_lists(n) of them.
        nlist = nlist or max(1, min(ivf_lists(n), n // _TRAIN_PER_LIST))
        if n < nlist:
            raise DataError(f"an IVF index with {nlist} clusters needs >= {nlist} vectors, got {n}")
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = seed
        # 10 k-means iterations (FAISS default 25): centroids barely move after that,
        # and training 4,096 clusters stays near a minute on one core.
        index.cp.niter = 10
        rng = np.random.default_rng(seed)
        take = min(n, _TRAIN_PER_LIST * nlist)
        sample = vectors if take == n else vectors[np.sort(rng.choice(n, take, replace=False))]
        index.train(np.ascontiguousarray(sample, dtype=np.float32))
        index.nprobe = min(nprobe, nlist)
    else:
        raise DataError(f"index kind={kind!r} must be 'auto', 'flat' or 'ivf'")
    if n:
        index.add_with_ids(
            np.ascontiguousarray(vectors, dtype=np.float32), np.ascontiguousarray(ids, np.int64)
        )
    return index


def index_kind(index) -> str:
    """``"flat"`` or ``"ivf"`` of an index made by :func:`build_index`."""
    faiss = faiss_module()
    return "ivf" if isinstance(faiss.downcast_index(index), faiss.IndexIVF) else "flat"


def save_index(path: Path, index, *, generation: int, fingerprint: str) -> Path:
    """Write ``index`` tagged with the catalog ``generation`` it reflects, atomically.

    Examples
    --------
    >>> save_index(Path("cat/index.safetensors"), index, generation=3, fingerprint="ab")  # doctest: +SKIP
    """
    import safetensors.numpy

    from torchmusic.io.container import _sha256

    faiss = faiss_module()
    payload = faiss.serialize_index(index)  # uint8 numpy array
    metadata = {
        "format": INDEX_FORMAT,
        "format_version": str(INDEX_FORMAT_VERSION),
        "generation": str(int(generation)),
        "fingerprint": fingerprint,
        "ntotal": str(int(index.ntotal)),
        "kind": index_kind(index),
        "payload_sha256": _sha256(memoryview(payload)),
    }
    blob = safetensors.numpy.save({"faiss": payload}, metadata=metadata)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)  # atomic: readers see the old index or the new one
    finally:
        tmp.unlink(missing_ok=True)
    return path


def index_header(path: Path) -> dict[str, str] | None:
    """The metadata of an index file (read without its payload), or None if unreadable."""
    import json
    import struct

    try:
        with open(path, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            if n > 100_000_000:
                return None
            meta = json.loads(f.read(n)).get("__metadata__")
    except (OSError, struct.error, ValueError, AttributeError):
        return None
    return meta if isinstance(meta, dict) and meta.get("format") == INDEX_FORMAT else None


def load_index(path: Path, *, generation: int, fingerprint: str, ntotal: int):
    """The index in ``path`` if it is intact and reflects ``generation``; else why not.

    Returns
    -------
    (faiss.Index, None) or (None, str)
        The index, or ``None`` and the reason it cannot be used (``"missing"``,
        ``"corrupt: ..."``, ``"stale: ..."``), for the caller to rebuild and report.
    """
    import safetensors
    import safetensors.numpy

    from torchmusic.io.container import _sha256, _split_safetensors

    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None, "missing"
    except OSError as exc:
        return None, f"unreadable: {exc.strerror or exc}"
    try:
        header, _ = _split_safetensors(raw, path)
        meta = header.get("__metadata__")
        if not isinstance(meta, dict) or meta.get("format") != INDEX_FORMAT:
            return None, "corrupt: not a torchmusic catalog index"
    except DataError:
        return None, "corrupt: not a safetensors file, or truncated"
    if meta.get("fingerprint") != fingerprint:
        return None, "stale: built with another model's embeddings"
    if meta.get("generation") != str(generation) or meta.get("ntotal") != str(ntotal):
        return None, (
            f"stale: index reflects generation {meta.get('generation')} "
            f"({meta.get('ntotal')} vectors), catalog is at generation {generation} "
            f"({ntotal} tracks)"
        )
    try:
        payload = safetensors.numpy.load(raw).get("faiss")
    except safetensors.SafetensorError as exc:
        return None, f"corrupt: {exc}"
    if payload is None or payload.dtype != np.uint8 or payload.ndim != 1:
        return None, "corrupt: no index data"
    if _sha256(memoryview(np.ascontiguousarray(payload))) != meta.get("payload_sha256"):
        return None, "corrupt: checksum mismatch"
    faiss = faiss_module()
    try:
        index = faiss.deserialize_index(np.ascontiguousarray(payload))
    except RuntimeError as exc:  # FAISS reports parse errors as RuntimeError
        return None, f"corrupt: {exc}"
    return index, None
