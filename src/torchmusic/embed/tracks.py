"""Embed many audio files: decoding in background threads, one model pass per file."""

from __future__ import annotations

import dataclasses
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from torchmusic.data.discover import AUDIO_EXTENSIONS, collect_inputs
from torchmusic.data.extract import FailedFile
from torchmusic.embed.embedders import Embedder, get_embedder
from torchmusic.embed.info import ModelInfo
from torchmusic.errors import ParameterError, TorchMusicError


@dataclasses.dataclass
class EmbeddedFile:
    """One file's outcome in :func:`iter_embeddings`: a vector, or the error that stopped it.

    ``raw`` holds the raw features the vector was computed from when the embedder
    keeps any (the ``mfcc`` embedder's raw MFCC statistics; None otherwise).
    """

    path: Path
    vector: np.ndarray | None
    duration: float = 0.0
    error: str | None = None
    raw: np.ndarray | None = None


@dataclasses.dataclass
class TrackEmbeddings:
    """Embeddings of the files :func:`embed_tracks` could read.

    Attributes
    ----------
    paths : list of pathlib.Path
        The files, in input order.
    names : list of str
        Their names relative to the searched folders.
    vectors : np.ndarray [shape=(n_tracks, dim)], float32
        Unit-norm track embeddings, row ``i`` of ``paths[i]``.
    durations : list of float
        Track lengths in seconds.
    info : ModelInfo
        The model that produced them.
    """

    paths: list[Path]
    names: list[str]
    vectors: np.ndarray
    durations: list[float]
    info: ModelInfo

    def __len__(self) -> int:
        return len(self.paths)


#: ``stream(files, embedder)``: an :class:`EmbeddedFile` per file, in order (as
#: :func:`iter_embeddings`); what :func:`embed_tracks` and ``Catalog.add`` run.
EmbedStream = Callable[[Iterable[Path], Embedder], Iterator[EmbeddedFile]]


def _check_workers(workers: int | None) -> int:
    if workers is None:
        return min(4, os.cpu_count() or 1)
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 0:
        raise ParameterError(f"workers={workers!r} must be an int >= 0 (0: decode inline)")
    return workers


def _decode(embedder: Embedder, path: Path) -> torch.Tensor | BaseException:
    try:
        return embedder.load(path)
    # One bad file must not cost the others: decoding errors (and a file too long
    # for memory) are reported; anything else is a bug and is raised by the caller.
    except (TorchMusicError, OSError, MemoryError) as exc:
        return exc


def _message(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, TorchMusicError) else f"{type(exc).__name__}: {exc}"


def iter_embeddings(
    files: Iterable[str | os.PathLike[str]], embedder: Embedder, *, workers: int | None = None
) -> Iterator[EmbeddedFile]:
    """Embed ``files`` in order, yielding each outcome as soon as it is known.

    Decoding and resampling run ahead in ``workers`` threads (soundfile and soxr
    release the GIL) while the calling thread computes features and runs the
    model, so both overlap without copying tensors between processes.

    Parameters
    ----------
    files : iterable of path
        Audio files; consumed lazily, a few ahead of the file being embedded.
    embedder : Embedder
    workers : int, optional
        Decoding threads (default: up to 4; 0 decodes in the calling thread).

    Yields
    ------
    EmbeddedFile
        ``vector`` ``(dim,)`` float32, or ``error`` for an unreadable file.

    Examples
    --------
    >>> for item in iter_embeddings(["a.ogg", "bad.ogg"], get_embedder("mfcc")):  # doctest: +SKIP
    ...     print(item.path.name, item.error)
    a.ogg None
    bad.ogg ... not a supported audio file ...
    """
    workers = _check_workers(workers)
    paths = (Path(f) for f in files)
    sr = embedder.feature.sr

    def finish(path: Path, y: torch.Tensor | BaseException) -> EmbeddedFile:
        if isinstance(y, BaseException):
            return EmbeddedFile(path, None, error=_message(y))
        try:
            vector, raw = embedder.embed_with_raw(y)
        except (TorchMusicError, MemoryError) as exc:
            return EmbeddedFile(path, None, error=_message(exc))
        return EmbeddedFile(path, vector, duration=y.shape[-1] / sr, raw=raw)

    if workers == 0:
        for path in paths:
            yield finish(path, _decode(embedder, path))
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="decode") as pool:
        ahead: deque[tuple[Path, Future]] = deque()
        todo = iter(paths)
        # Bounded look-ahead: at most 2 decoded waveforms per thread wait in memory.
        for path in todo:
            ahead.append((path, pool.submit(_decode, embedder, path)))
            if len(ahead) >= 2 * workers:
                break
        while ahead:
            path, future = ahead.popleft()
            nxt = next(todo, None)
            if nxt is not None:
                ahead.append((nxt, pool.submit(_decode, embedder, nxt)))
            yield finish(path, future.result())


def embed_tracks(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    model: str | os.PathLike[str] | Embedder,
    *,
    device: str | torch.device = "cpu",
    workers: int | None = None,
    progress: bool = True,
    hop_seconds: float | None = None,
    extensions: Sequence[str] = AUDIO_EXTENSIONS,
    stream: EmbedStream | None = None,
) -> tuple[TrackEmbeddings, list[FailedFile]]:
    """Track embeddings of audio files and folders; unreadable files are skipped and reported.

    Parameters
    ----------
    paths : path or iterable of paths
        Audio files (any extension) and folders (searched recursively for ``extensions``).
    model : str, os.PathLike or Embedder
        ``"mfcc"``, an embedding or classifier model file, or a ready embedder
        (see :func:`get_embedder`).
    device : str or torch.device
        Where features and networks run.
    workers : int, optional
        Decoding threads (default up to 4).
    progress : bool
        Progress bar on stderr (when there is more than one file).
    hop_seconds : float, optional
        Window hop for network embedders (default: their clip length).
    extensions : sequence of str
        Extensions searched for in folders.
    stream : callable, optional
        ``stream(files, embedder)`` yielding an :class:`EmbeddedFile` per file in
        order; default :func:`iter_embeddings` with ``workers`` threads.
        :func:`torchmusic.scale.embed_files` passes decoding worker processes and
        cross-track batches here.

    Returns
    -------
    embeddings : TrackEmbeddings
        One unit-norm row per readable file.
    failures : list of FailedFile
        Unreadable files and inputs that do not exist.

    Examples
    --------
    >>> emb, failed = embed_tracks(["music/"], "mfcc", progress=False)  # doctest: +SKIP
    >>> emb.vectors.shape, len(failed)  # doctest: +SKIP
    ((12, 19), 0)
    """
    embedder = get_embedder(model, device=device, hop_seconds=hop_seconds)
    inputs, missing = collect_inputs(paths, extensions=extensions)
    failures = [FailedFile(p, "no such file or folder") for p in missing]
    names = dict(inputs)
    kept: list[EmbeddedFile] = []
    bar = tqdm(
        total=len(inputs), desc="embed", unit="file", disable=not progress or len(inputs) < 2
    )
    if stream is None:
        items = iter_embeddings([p for p, _ in inputs], embedder, workers=workers)
    else:
        items = stream([p for p, _ in inputs], embedder)
    for item in items:
        bar.update(1)
        if item.vector is None:
            failures.append(FailedFile(item.path, item.error or "unknown error"))
        else:
            kept.append(item)
    bar.close()
    dim = embedder.info.dim
    vectors = (
        np.stack([k.vector for k in kept]).astype(np.float32)
        if kept
        else np.zeros((0, dim), np.float32)
    )
    result = TrackEmbeddings(
        paths=[k.path for k in kept],
        names=[names[k.path] for k in kept],
        vectors=vectors,
        durations=[k.duration for k in kept],
        info=embedder.info,
    )
    return result, failures
