"""Run a function over many small jobs in worker processes, results in job order.

Shared by the folk-corpus builder and corpus tokenisation: both are CPU-bound
Python (music21, miditok) with tiny inputs and outputs, so jobs are sent in chunks
to cut inter-process traffic, and results come back in order so the callers can
record them (resume state, failures) as they arrive.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from tqdm.auto import tqdm

from torchmusic.errors import ParameterError, TorchMusicError

J = TypeVar("J")
R = TypeVar("R")


def resolve_workers(workers: int | None, n_jobs: int) -> int:
    """Worker processes to use: ``workers`` (None = CPU count), at most one per job."""
    if workers is None:
        workers = os.cpu_count() or 1
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise ParameterError(f"workers={workers!r} must be an int >= 0 (0 or 1 = no processes)")
    return max(1, min(workers, n_jobs))


def _context() -> multiprocessing.context.BaseContext:
    # fork on Linux as torch's DataLoader does (spawn would re-import music21 and
    # torch in every worker, seconds each); TORCHMUSIC_START_METHOD overrides.
    method = os.environ.get("TORCHMUSIC_START_METHOD")
    if method is None:
        method = "fork" if sys.platform.startswith("linux") else "spawn"
    return multiprocessing.get_context(method)


def run_jobs(
    fn: Callable[[J], R],
    jobs: Sequence[J],
    *,
    workers: int | None = None,
    progress: bool = True,
    desc: str = "",
    unit: str = "file",
    initializer: Callable[..., Any] | None = None,
    initargs: tuple[Any, ...] = (),
) -> Iterator[R]:
    """Yield ``fn(job)`` for each job, in order, computed by worker processes.

    ``fn`` must catch its own errors and return them as results: one bad input
    must not stop the batch. With one worker everything runs in this process
    (``initializer`` is called here first).

    Raises
    ------
    TorchMusicError
        If a worker process dies (e.g. killed for memory); the message suggests a
        rerun with fewer workers.
    """
    n_workers = resolve_workers(workers, len(jobs))
    bar = tqdm(total=len(jobs), desc=desc, unit=unit, disable=not progress)
    try:
        if n_workers == 1:
            if initializer is not None:
                initializer(*initargs)
            for job in jobs:
                yield fn(job)
                bar.update()
            return
        chunksize = max(1, min(32, len(jobs) // (n_workers * 8)))
        pool = ProcessPoolExecutor(
            max_workers=n_workers,
            mp_context=_context(),
            initializer=initializer,
            initargs=initargs,
        )
        try:
            for result in pool.map(fn, jobs, chunksize=chunksize):
                yield result
                bar.update()
        except BrokenProcessPool as err:
            raise TorchMusicError(
                f"a worker process died during {desc or 'the batch'} ({err}); "
                "rerun with fewer workers (finished work is kept where resumable)"
            ) from err
        finally:
            # Ctrl-C or an early stop: drop the queued jobs instead of finishing them.
            pool.shutdown(wait=True, cancel_futures=True)
    finally:
        bar.close()
