"""Decode and resample audio files in worker processes, yielded in input order.

:func:`decode_stream` is the front half of every folder job (``predict``, ``embed``,
``catalog add``): N worker processes decode, mix to mono and resample (and, when
given a ``prepare`` callable, also compute features), while the calling process
consumes the results in input order. At most ``ahead`` files per worker are in
flight or waiting, so memory does not grow with the size of the library. A file
that cannot be read comes back as a :class:`Decoded` with ``error`` set; a worker
that dies (a decoder crash) is replaced and the job goes on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import multiprocessing
import os
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import numpy as np

from torchmusic import audio
from torchmusic.errors import ParameterError, TorchMusicError

#: Environment variables that cap the thread pools of BLAS/OpenMP libraries.
_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


@dataclasses.dataclass
class Decoded:
    """One file's outcome in :func:`decode_stream`.

    Attributes
    ----------
    path : pathlib.Path
        The audio file.
    value : Any
        The mono waveform ``(samples,)`` float32 numpy array at ``sr``, or what
        ``prepare`` returned for it; None when ``error`` is set.
    n_samples : int
        Length of the decoded waveform in samples (0 on error).
    error : str or None
        Why the file could not be decoded (or prepared).
    """

    path: Path
    value: Any
    n_samples: int = 0
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the file was decoded."""
        return self.error is None


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask, e.g. under ``taskset``)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def check_workers(workers: int | None) -> int:
    """``workers`` as an int >= 0 (None: up to 4, one per CPU); else ParameterError.

    Examples
    --------
    >>> check_workers(2)
    2
    """
    if workers is None:
        return min(4, usable_cpus())
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 0:
        raise ParameterError(f"workers={workers!r} must be an int >= 0 (0: decode inline)")
    return workers


def worker_context() -> multiprocessing.context.BaseContext:
    """forkserver on Linux, spawn elsewhere; ``TORCHMUSIC_START_METHOD`` overrides.

    Not fork: the calling process runs the model, so its OpenMP / intra-op thread
    pools are already started when a pool is (re)created, and forking a process with
    live thread pools can deadlock the child. The fork server is started once, with
    torch and this module preloaded, so each worker then starts by a cheap fork of it
    instead of a fresh interpreter importing torch (as with spawn).

    As with any start method but fork, a script that starts a job must guard its
    entry point with ``if __name__ == "__main__":`` (the workers import it).
    """
    method = os.environ.get("TORCHMUSIC_START_METHOD")
    if method is None:
        method = "forkserver" if sys.platform.startswith("linux") else "spawn"
    ctx = multiprocessing.get_context(method)
    if method == "forkserver":
        # What the workers run (decoding, and the feature windows of batching.py).
        ctx.set_forkserver_preload(["torch", "torchmusic.scale.batching"])
    return ctx


def _init_worker() -> None:
    import torch

    # Parallelism comes from the processes: a worker using every core for its own
    # FFTs or resampler would oversubscribe the CPUs N times over.
    for var in _THREAD_VARS:
        os.environ[var] = "1"
    torch.set_num_threads(1)
    with contextlib.suppress(RuntimeError):  # only settable before first use
        torch.set_num_interop_threads(1)


def _message(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, TorchMusicError) else f"{type(exc).__name__}: {exc}"


def decode_one(
    path: str | os.PathLike[str], sr: int, prepare: Callable[[Any], Any] | None = None
) -> Decoded:
    """Decode ``path`` to mono at ``sr`` (and ``prepare`` it); errors are returned, not raised.

    This is what a worker runs. Every exception is caught: in a job over a whole
    library one unreadable or odd file must cost only its own result.

    Examples
    --------
    >>> d = decode_one("song.ogg", 22050)  # doctest: +SKIP
    >>> d.value.shape, d.error  # doctest: +SKIP
    ((661500,), None)
    """
    path = Path(path)
    try:
        y, _ = audio.load(path, sr=sr, mono=True)
        n = int(y.shape[-1])
        if n == 0:
            return Decoded(path, None, error=f"audio file {str(path)!r} holds no samples")
        value = prepare(y) if prepare is not None else np.ascontiguousarray(y.numpy())
        return Decoded(path, value, n_samples=n)
    except Exception as exc:  # every error: see the docstring
        return Decoded(path, None, error=_message(exc))


def decode_stream(
    paths: Iterable[str | os.PathLike[str]],
    *,
    sr: int,
    workers: int | None = None,
    ahead: int = 2,
    prepare: Callable[[Any], Any] | None = None,
) -> Iterator[Decoded]:
    """Decode audio files in worker processes; outcomes are yielded in input order.

    Parameters
    ----------
    paths : iterable of path
        Audio files; consumed lazily (a generator may compute them as the job runs).
    sr : int
        Sample rate to resample to (files are mixed to mono).
    workers : int, optional
        Worker processes (default: up to 4, one per CPU). ``0`` decodes in the calling
        process, one file at a time (as is a single file, whatever ``workers``).
    ahead : int
        Files per worker in flight or waiting to be consumed: the bound on memory.
    prepare : callable, optional
        Run in the worker on the waveform (a ``(samples,)`` float32 tensor), e.g. to
        compute features there; must be picklable (a module-level function or a
        dataclass instance). Its result becomes :attr:`Decoded.value`.

    Yields
    ------
    Decoded
        One per path, in input order: ``value`` (a ``(samples,)`` float32 numpy
        array, or ``prepare``'s result) or ``error``.

    Notes
    -----
    Each worker runs torch with one thread. Waveforms come back pickled through a
    pipe (5 MB a minute of audio at 22,050 Hz: milliseconds, against about 0.2 s of a
    core to decode that minute of compressed audio).
    If a worker dies, the pool is replaced and the files that were in flight are
    decoded again one at a time: the one that kills a worker again is reported as
    failed, the others are not lost. Closing the generator
    early stops the workers.

    Examples
    --------
    >>> for d in decode_stream(["a.ogg", "broken.ogg"], sr=22050, workers=2):  # doctest: +SKIP
    ...     print(d.path.name, d.n_samples, d.error)
    a.ogg 661500 None
    broken.ogg 0 ... not a supported audio file ...
    """
    workers = check_workers(workers)
    if isinstance(sr, bool) or not isinstance(sr, int) or sr < 1:
        raise ParameterError(f"sr={sr!r} must be a positive integer")
    if isinstance(ahead, bool) or not isinstance(ahead, int) or ahead < 1:
        raise ParameterError(f"ahead={ahead!r} must be a positive integer")
    todo = (Path(p) for p in paths)
    # A single file is decoded here: starting workers would cost more than it saves.
    first = list(itertools.islice(todo, 2))
    if workers == 0 or len(first) < 2:
        for path in itertools.chain(first, todo):
            yield decode_one(path, sr, prepare)
        return
    yield from _pooled(
        itertools.chain(first, todo), sr=sr, workers=workers, limit=ahead * workers, prepare=prepare
    )


def _pooled(
    todo: Iterator[Path],
    *,
    sr: int,
    workers: int,
    limit: int,
    prepare: Callable[[Any], Any] | None,
) -> Iterator[Decoded]:
    ctx = worker_context()

    def new_pool() -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker)

    pool = new_pool()
    # The files in flight, or done but not yet yielded, in input order.
    window: deque[tuple[Path, Future]] = deque()
    try:
        while True:
            while len(window) < limit and (path := next(todo, None)) is not None:
                window.append((path, pool.submit(decode_one, path, sr, prepare)))
            if not window:
                return
            path, future = window[0]
            try:
                result = future.result()
            except BrokenProcessPool:
                # A worker died (decoder crash, out of memory) and took every file in
                # flight with it. Redo those one at a time in a fresh pool, so the
                # file that kills a worker is the one reported and no other.
                pool.shutdown(wait=True, cancel_futures=True)
                lost = list(window)
                window.clear()
                pool = new_pool()
                for lost_path, lost_future in lost:
                    redone, pool = _isolated(lost_path, lost_future, pool, new_pool, sr, prepare)
                    window.append((lost_path, redone))
                continue
            window.popleft()
            yield result
    finally:
        # Also reached when the consumer stops early (generator closed): drop queued work.
        pool.shutdown(wait=True, cancel_futures=True)


def _done(result: Decoded) -> Future:
    future: Future = Future()
    future.set_result(result)
    return future


def _isolated(
    path: Path,
    future: Future,
    pool: ProcessPoolExecutor,
    new_pool: Callable[[], ProcessPoolExecutor],
    sr: int,
    prepare: Callable[[Any], Any] | None,
) -> tuple[Future, ProcessPoolExecutor]:
    """``path`` decoded alone (unless it finished before the crash), and the pool to go on with."""
    if future.done() and not future.cancelled() and future.exception() is None:
        return future, pool
    try:
        return _done(pool.submit(decode_one, path, sr, prepare).result()), pool
    except BrokenProcessPool:
        pool.shutdown(wait=True, cancel_futures=True)
        failed = Decoded(
            path, None, error="worker process died decoding this file (crash or out of memory)"
        )
        return _done(failed), new_pool()
