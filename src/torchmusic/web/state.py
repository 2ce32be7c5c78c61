"""What the routes share: settings, models, the worker pool, the temp folder, the catalog.

One :class:`ServerState` per app, created by :func:`torchmusic.web.app.create_app` and
opened/closed by its lifespan; routes reach it with the :func:`state` dependency.
"""

from __future__ import annotations

import contextlib
import hmac
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import Request, UploadFile

from torchmusic.web.errors import ApiError, error_response
from torchmusic.web.jobs import JobManager
from torchmusic.web.models import Models
from torchmusic.web.settings import Settings
from torchmusic.web.uploads import TempSpace

#: Sample rate at which ``max_duration_s`` also bounds an upload's decoded samples (stereo).
DECODE_RATE = 96_000


class ServerState:
    """Shared objects of one app.

    Parameters
    ----------
    settings : Settings
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.models = Models(settings)
        self.temp = TempSpace(settings.temp_root)
        self.jobs: JobManager | None = None
        self.started = time.time()
        self._local = threading.local()
        self.recommender: Any = None

    def open(self) -> None:
        """Clean dead servers' temp folders, create ours, start the pool, open data."""
        self.temp.open()
        s = self.settings
        self.jobs = JobManager(
            workers=s.workers, queue_size=s.queue_size, job_ttl_s=s.job_ttl_s,
            folder=self.temp.job_dir,
        )  # fmt: skip
        if s.catalog is not None:
            self.catalog()  # fail at start, not at the first request, if it is no catalog
        if s.recommender is not None:
            from torchmusic.recommend import load_recommender

            self.recommender = load_recommender(s.recommender)

    def close(self) -> None:
        """Finish running work, then remove the temp folder."""
        if self.jobs is not None:
            self.jobs.shutdown()
        self.temp.close()

    def require_catalog(self) -> None:
        """``404 no_catalog`` when the server has no catalog."""
        if self.settings.catalog is None:
            raise ApiError(
                404, "no_catalog", "this server has no catalog (start it with --catalog DIR)"
            )

    def catalog(self) -> Any:
        """This thread's :class:`~torchmusic.recommend.catalog.Catalog` (SQLite connections
        belong to the thread that opened them), ``404 no_catalog`` without one."""
        self.require_catalog()
        cat = getattr(self._local, "catalog", None)
        if cat is None:
            from torchmusic.recommend.catalog import Catalog

            cat = self._local.catalog = Catalog(self.settings.catalog).require()
        return cat

    def pool(self) -> JobManager:
        """The worker pool (created at start-up)."""
        if self.jobs is None:  # pragma: no cover - the lifespan opens it first
            raise ApiError(503, "starting", "the server is starting")
        return self.jobs

    async def checked_upload(self, file: UploadFile) -> Path:
        """An upload stored in the temp folder and checked (audio, size, duration).

        Parameters
        ----------
        file : fastapi.UploadFile

        Returns
        -------
        pathlib.Path
            The stored file; the caller removes it (:meth:`upload` does it for a
            request's lifetime).

        Raises
        ------
        ApiError
            ``415`` not audio, ``413`` too large or too long, ``422`` empty.
        AudioFileError
            Undecodable (``422 bad_audio``).
        """
        from torchmusic import audio

        path = await self.temp.save_upload(file, limit=self.settings.max_upload_bytes)
        try:
            info = audio.info(path)  # AudioFileError (422 bad_audio) if it does not decode
            limit = self.settings.max_duration_s
            if info.duration > limit:
                raise ApiError(
                    413,
                    "too_long",
                    f"upload {file.filename!r} lasts {info.duration:.1f} s, over the server's "
                    f"limit of {limit:g} s (torchmusic serve --max-duration)",
                )
            # A few kB of FLAC can hold 10 minutes at 384 kHz on 8 channels (GBs once
            # decoded): the limit also holds in samples, as if at 96 kHz stereo.
            samples, most = info.frames * info.channels, int(limit * DECODE_RATE * 2)
            if samples > most:
                raise ApiError(
                    413,
                    "too_long",
                    f"upload {file.filename!r} holds {samples} samples ({info.channels} "
                    f"channels at {info.sample_rate} Hz), over the server's limit of {most} "
                    f"({limit:g} s at {DECODE_RATE // 1000} kHz stereo; --max-duration)",
                )
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return path

    @contextlib.asynccontextmanager
    async def upload(self, file: UploadFile) -> AsyncIterator[Path]:
        """:meth:`checked_upload` for the duration of a ``with`` block, then removed.

        Parameters
        ----------
        file : fastapi.UploadFile

        Yields
        ------
        pathlib.Path
        """
        path = await self.checked_upload(file)
        try:
            yield path
        finally:
            path.unlink(missing_ok=True)

    def start_with_upload(self, kind: str, path: Path, work: Any) -> Any:
        """Start job ``work(job, path)`` on a checked upload.

        Parameters
        ----------
        kind : str
            The job's kind.
        path : pathlib.Path
            A :meth:`checked_upload`; removed after the job (or at once when the pool
            refuses it).
        work : callable
            ``work(job, path) -> dict`` (see :meth:`JobManager.start`).

        Returns
        -------
        Job
        """

        def body(job: Any) -> dict[str, Any]:
            try:
                return work(job, path)
            finally:
                path.unlink(missing_ok=True)

        try:
            return self.pool().start(kind, body)
        except BaseException:
            path.unlink(missing_ok=True)
            raise


def state(request: Request) -> ServerState:
    """FastAPI dependency: the app's :class:`ServerState`.

    Parameters
    ----------
    request : fastapi.Request

    Returns
    -------
    ServerState
    """
    return request.app.state.torchmusic


def token_refusal(token: str | None, header: str) -> ApiError | None:
    """The ``401`` / ``403`` for an ``Authorization`` header, or None when it may pass.

    Parameters
    ----------
    token : str or None
        The server's token; None: no authentication.
    header : str
        The request's ``Authorization`` header ("" when absent).

    Returns
    -------
    ApiError or None
    """
    if token is None:
        return None
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given:
        return ApiError(
            401,
            "missing_token",
            "this server needs 'Authorization: Bearer <token>' (its --token)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        return ApiError(
            403, "wrong_token", "the bearer token is wrong", headers={"WWW-Authenticate": "Bearer"}
        )
    return None


def require_token(request: Request) -> None:
    """FastAPI dependency: the bearer token, when the server has one.

    Parameters
    ----------
    request : fastapi.Request

    Raises
    ------
    ApiError
        ``401 missing_token`` or ``403 wrong_token`` (see :func:`token_refusal`).
    """
    token = request.app.state.torchmusic.settings.token
    refusal = token_refusal(token, request.headers.get("authorization", ""))
    if refusal is not None:
        raise refusal


class TokenGate:
    """ASGI middleware: check the token of an ``/api`` request before its body is read.

    FastAPI parses a whole upload before it runs the route's dependencies, so without
    this a client without the token could still make the server receive and parse
    50 MB bodies. :func:`require_token` stays on the routes as well.

    Parameters
    ----------
    app : ASGI app
    token : str or None
        The server's token; None: everything passes.
    """

    def __init__(self, app: Any, *, token: str | None) -> None:
        self.app, self.token = app, token

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if (
            self.token is not None
            and scope["type"] == "http"
            and scope["path"].startswith("/api/")
            and scope["path"] != "/api/health"
        ):
            header = dict(scope.get("headers") or []).get(b"authorization", b"")
            refusal = token_refusal(self.token, header.decode("latin-1"))
            if refusal is not None:
                await error_response(
                    refusal.status, refusal.error, refusal.detail, refusal.headers
                )(scope, receive, send)
                return
        await self.app(scope, receive, send)
