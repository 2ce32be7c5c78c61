"""Bounded compute: a worker pool with a queue limit, and asynchronous jobs with results.

Every piece of CPU/GPU work of the server (a prediction, a feature image, a
generated tune) runs on :class:`JobManager`'s thread pool, never on the event loop,
so the server keeps answering while it computes. At most ``workers`` computations
run and ``queue_size`` wait; one more is refused at once with ``503`` and a
``Retry-After`` estimate, so one client sending many requests cannot make everyone
else wait without bound. Torch releases the GIL in its kernels, so threads do run
in parallel; models are shared between them (inference only).

Short work is awaited by the request (:meth:`JobManager.run`). Long work is a
:class:`Job` (:meth:`JobManager.start`): the request answers ``202`` with its id,
``GET /api/jobs/{id}`` reports status and progress, and its result files live in
the job's folder until ``job_ttl_s`` after it finished. At shutdown running jobs
finish; queued ones are cancelled.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import secrets
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from torchmusic.web.errors import ApiError, describe

#: Job states, in order.
STATES = ("queued", "running", "done", "failed", "cancelled")


@dataclasses.dataclass
class Job:
    """One asynchronous computation and its result.

    Attributes
    ----------
    id : str
        Random, unguessable (results are only reachable through it).
    kind : str
        What it computes (``"generate"``, ``"denoise"``, ...).
    status : str
        One of :data:`STATES`.
    progress : float
        0..1, set by the work function as it goes.
    folder : pathlib.Path
        Where the work function writes result files.
    result : dict
        JSON-ready result of a finished job.
    files : dict of str to pathlib.Path
        Downloadable result files by name.
    error : dict, optional
        ``{error, detail}`` of a failed job.
    """

    id: str
    kind: str
    folder: Path
    status: str = "queued"
    progress: float = 0.0
    created: float = dataclasses.field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    result: dict[str, Any] = dataclasses.field(default_factory=dict)
    files: dict[str, Path] = dataclasses.field(default_factory=dict)
    error: dict[str, str] | None = None

    def add_file(self, name: str, path: Path) -> None:
        """Offer ``path`` for download as ``/api/jobs/{id}/files/{name}``.

        Parameters
        ----------
        name : str
            The file's name in the URL.
        path : pathlib.Path
            The file, in :attr:`folder`.
        """
        self.files[name] = path

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready status: the result and file links once done."""
        out: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "status": self.status,
            "progress": round(self.progress, 3),
            "created": self.created,
            "started": self.started,
            "finished": self.finished,
        }
        if self.status == "done":
            out["result"] = self.result
            out["files"] = {n: f"/api/jobs/{self.id}/files/{n}" for n in self.files}
        if self.error is not None:
            out["error"] = self.error
        return out


class JobManager:
    """The worker pool, its queue limit and the jobs.

    Parameters
    ----------
    workers : int
        Computations at the same time.
    queue_size : int
        Computations waiting beyond those before new ones get ``503``.
    job_ttl_s : float
        Seconds a finished job (and its files) is kept.
    folder : callable
        ``folder(job_id) -> Path``: a new folder for a job's files.
    """

    def __init__(
        self,
        *,
        workers: int,
        queue_size: int,
        job_ttl_s: float,
        folder: Callable[[str], Path],
    ) -> None:
        self.workers, self.capacity = workers, workers + queue_size
        self.job_ttl_s = job_ttl_s
        self._folder = folder
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="torchmusic-web")
        self._lock = threading.Lock()
        self._inflight = 0
        self._running = 0
        self._closing = False
        self._seconds = 1.0  # running mean of a computation's duration, for Retry-After
        self.jobs: dict[str, Job] = {}
        self.refused = 0

    # -- admission ----------------------------------------------------------------------
    def _refusal(self, receiving: int = 0) -> ApiError | None:
        # Called with the lock held.
        if self._closing:
            return ApiError(
                503, "shutting_down", "the server is shutting down", headers={"Retry-After": "5"}
            )
        load = max(self._inflight, receiving)
        if load >= self.capacity:
            retry = max(1, math.ceil(load / self.workers * self._seconds))
            return ApiError(
                503,
                "busy",
                f"all {self.workers} workers are busy and {self.capacity - self.workers} "
                f"requests are waiting or being uploaded; retry in {retry} s",
                headers={"Retry-After": str(retry)},
            )
        return None

    def refusal(self, receiving: int = 0) -> ApiError | None:
        """The ``503`` a new computation would get now (counted as a refusal), else None.

        Parameters
        ----------
        receiving : int
            Requests in progress that the pool does not count yet (uploads being
            received); at ``capacity`` of them a new one is refused as well.

        Returns
        -------
        ApiError or None
        """
        with self._lock:
            refusal = self._refusal(receiving)
            if refusal is not None:
                self.refused += 1
            return refusal

    def _admit(self) -> None:
        with self._lock:
            refusal = self._refusal()
            if refusal is not None:
                self.refused += 1
                raise refusal
            self._inflight += 1

    def _wrap(self, fn: Callable[[], Any]) -> Callable[[], Any]:
        def call() -> Any:
            import torch

            with self._lock:
                self._running += 1
            t0 = time.perf_counter()
            try:
                # All of it in inference mode (the server never trains): torchmusic.features
                # keeps a per-thread scratch tensor, and one made in inference mode (by a
                # prediction) cannot be written outside it (a 500 for the next feature
                # image or vocoding on that thread).
                with torch.inference_mode():
                    return fn()
            finally:
                seconds = time.perf_counter() - t0
                with self._lock:
                    self._running -= 1
                    self._inflight -= 1
                    self._seconds = 0.8 * self._seconds + 0.2 * seconds

        return call

    def stats(self) -> dict[str, int]:
        """Running and waiting computations, capacity and refusals so far."""
        with self._lock:
            return {
                "running": self._running,
                "waiting": self._inflight - self._running,
                "workers": self.workers,
                "capacity": self.capacity,
                "refused": self.refused,
                "jobs": len(self.jobs),
            }

    # -- short work ---------------------------------------------------------------------
    async def run(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn()`` on the pool and await its result.

        Parameters
        ----------
        fn : callable
            Work without arguments, run on a worker thread in inference mode.

        Returns
        -------
        object
            What ``fn`` returned (its exception is raised here).

        Raises
        ------
        ApiError
            ``503 busy`` when the pool and its queue are full, ``503 shutting_down``.
        """
        self._admit()
        try:
            future = self._pool.submit(self._wrap(fn))
        except RuntimeError:  # the pool is shut down
            with self._lock:
                self._inflight -= 1
            raise ApiError(503, "shutting_down", "the server is shutting down") from None
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            # The request was cancelled (client gone, server stopping): a computation that
            # never started gives its place back, or the pool would shrink for good.
            if future.cancel():
                with self._lock:
                    self._inflight -= 1
            raise

    # -- jobs ---------------------------------------------------------------------------
    def start(self, kind: str, work: Callable[[Job], dict[str, Any]]) -> Job:
        """Queue ``work(job)`` as a job; returns it at once (``503`` when full).

        Parameters
        ----------
        kind : str
            What it computes (``"generate"``, ...).
        work : callable
            ``work(job) -> dict``: writes files into ``job.folder`` (offering them with
            :meth:`Job.add_file`), may set ``job.progress``, returns the JSON result;
            an exception fails the job with its ``{error, detail}``.

        Returns
        -------
        Job
            Queued; poll it with :meth:`get`.
        """
        self.expire()
        self._admit()
        job_id = secrets.token_urlsafe(12)
        job = Job(id=job_id, kind=kind, folder=self._folder(job_id))

        def body() -> None:
            job.status, job.started = "running", time.time()
            try:
                job.result = work(job)
                job.progress, job.status = 1.0, "done"
            except BaseException as exc:  # reported through the job, never lost
                job.error, job.status = describe(exc), "failed"
            finally:
                job.finished = time.time()

        self.jobs[job_id] = job
        try:
            self._pool.submit(self._wrap(body))
        except RuntimeError:
            with self._lock:
                self._inflight -= 1
            del self.jobs[job_id]
            raise ApiError(503, "shutting_down", "the server is shutting down") from None
        return job

    def get(self, job_id: str) -> Job:
        """A job by id (``404 unknown_job`` when there is none or it expired).

        Parameters
        ----------
        job_id : str

        Returns
        -------
        Job
        """
        self.expire()
        job = self.jobs.get(job_id)
        if job is None:
            raise ApiError(
                404,
                "unknown_job",
                f"no job {job_id!r} (results are kept {self.job_ttl_s:g} s after they finish)",
            )
        return job

    def expire(self, now: float | None = None) -> list[str]:
        """Forget finished jobs older than ``job_ttl_s`` and delete their files.

        Parameters
        ----------
        now : float, optional
            The time to compare with (default: now).

        Returns
        -------
        list of str
            The ids of the jobs forgotten.
        """
        now = time.time() if now is None else now
        old = [
            j.id
            for j in list(self.jobs.values())
            if j.finished is not None and now - j.finished > self.job_ttl_s
        ]
        for job_id in old:
            job = self.jobs.pop(job_id, None)
            if job is not None:
                shutil.rmtree(job.folder, ignore_errors=True)
        return old

    def shutdown(self) -> None:
        """Refuse new work, let running computations finish, cancel the queued ones."""
        with self._lock:
            self._closing = True
        self._pool.shutdown(wait=True, cancel_futures=True)
        for job in self.jobs.values():
            if job.status == "queued":
                job.status = "cancelled"
