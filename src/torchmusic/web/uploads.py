"""Uploads: a size limit enforced while the body streams in, content sniffing, a temp folder.

- :class:`BodyLimit`: ASGI middleware answering ``413`` as soon as a request body
  (declared by ``Content-Length`` or streamed chunked) passes the limit, so an
  oversized upload is never stored whole.
- :func:`sniff`: the audio container from the first bytes, so a non-audio upload gets
  ``415`` whatever its name or declared type says.
- :class:`TempSpace`: one ``run-<pid>`` folder per server process under the temp root,
  holding uploads and job results. Each holds a ``flock`` on its ``lock`` file while
  it lives; at start every folder whose lock is free (its process died, even by
  ``kill -9``) is removed, and the own folder is removed at exit.
"""

from __future__ import annotations

import fcntl
import os
import re
import secrets
import shutil
import time
from pathlib import Path
from typing import Any

from starlette.exceptions import HTTPException as StarletteHTTPException

from torchmusic.web.errors import ApiError, error_response

#: Bytes read per chunk when copying an upload to disk.
CHUNK = 1 << 20
#: Seconds a folder being built (``.new-run-*``) is left alone by other servers' cleaning.
BUILD_GRACE_S = 60.0


class BodyTooLarge(StarletteHTTPException):
    """A request body past the limit (``413 too_large``).

    An HTTP exception, not an :class:`ApiError`: FastAPI turns any other exception
    raised while it parses a form into ``400``.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(
            413,
            f"request body is over the upload limit of {limit / 1e6:g} MB "
            "(torchmusic serve --max-upload-mb)",
        )


class BodyLimit:
    """ASGI middleware: refuse request bodies over ``limit`` bytes with ``413``.

    Parameters
    ----------
    app : ASGI app
    limit : int
        Largest body in bytes.
    """

    def __init__(self, app: Any, *, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await error_response(413, "too_large", BodyTooLarge(self.limit).detail)(
                scope, receive, send
            )
            return
        seen = 0
        started = False

        async def limited_receive() -> dict:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    # Raised inside the route's body parsing: FastAPI lets HTTP-style
                    # errors through, and the handler below answers it if it escapes.
                    raise BodyTooLarge(self.limit)
            return message

        async def tracking_send(message: dict) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge as exc:
            if not started:
                await error_response(413, "too_large", exc.detail)(scope, receive, send)


class BusyShortcut:
    """ASGI middleware: refuse a ``POST /api/...`` at once (``503``) while the pool is full.

    FastAPI reads and parses a whole upload before the route can ask the pool for a
    place, so a refusal would cost the server the upload's parsing; this check comes
    before the body is read. The pool's own admission still decides (this one may let
    a request through that the pool then refuses). ``POST`` requests in progress
    (receiving their upload or computing) are counted here too: at the pool's
    capacity a new one is refused, so many simultaneous uploads cannot all be stored
    before the pool sees any of them.

    Parameters
    ----------
    app : ASGI app
    server : ServerState
        Its ``jobs`` pool is asked.
    """

    def __init__(self, app: Any, *, server: Any) -> None:
        self.app, self.server = app, server
        self.active = 0  # POST /api requests in progress (on the event loop: no lock)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        pool = self.server.jobs
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not scope["path"].startswith("/api/")
            or pool is None
        ):
            await self.app(scope, receive, send)
            return
        refusal = pool.refusal(receiving=self.active)
        if refusal is not None:
            await error_response(refusal.status, refusal.error, refusal.detail, refusal.headers)(
                scope, receive, send
            )
            return
        self.active += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.active -= 1


#: (offset, magic bytes, container) checked in order.
_MAGIC: list[tuple[int, bytes, str]] = [
    (0, b"OggS", "ogg"),
    (0, b"fLaC", "flac"),
    (0, b"ID3", "mp3"),
    (0, b".snd", "au"),
    (0, b"riff\x2e\x91\xcf\x11", "w64"),
]


def sniff(head: bytes) -> str | None:
    """The audio container of a file from its first bytes, or None if it is not one we read.

    Parameters
    ----------
    head : bytes
        The first bytes of the file (16 are enough).

    Returns
    -------
    str or None
        ``"wav"``, ``"ogg"``, ``"flac"``, ``"mp3"``, ``"aiff"``, ``"au"``, ``"w64"``.

    Examples
    --------
    >>> sniff(b"RIFF\\x24\\x00\\x00\\x00WAVEfmt ")
    'wav'
    >>> sniff(b"%PDF-1.7") is None
    True
    """
    if head[:4] in (b"RIFF", b"RIFX", b"RF64") and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    for offset, magic, kind in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return kind
    # An MPEG audio frame header without an ID3 tag: 11 sync bits, layer bits not 00.
    if len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0 and (head[1] & 0x06):
        return "mp3"
    return None


def _safe_name(name: str | None) -> str:
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(name or "upload").name).strip("._")
    return (stem or "upload")[:80]


class TempSpace:
    """This process's temporary folder, and the removal of dead processes' folders.

    Parameters
    ----------
    root : pathlib.Path
        Parent folder shared by every server process (created if missing).
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.path = root / f"run-{os.getpid()}-{secrets.token_hex(4)}"
        self._lock: int | None = None
        self.removed_stale: list[Path] = []

    def open(self) -> TempSpace:
        """Remove dead processes' folders, then create and lock this one.

        The folder is built and locked under a name the cleaning of a server starting
        at the same moment leaves alone (``.new-run-...``), then renamed into place:
        a ``run-*`` folder is never seen unlocked while its server lives.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        self.removed_stale = self._remove_stale()
        building = self.root / f".new-{self.path.name}"
        (building / "uploads").mkdir(parents=True)
        (building / "jobs").mkdir()
        self._lock = os.open(building / "lock", os.O_CREAT | os.O_RDWR, 0o600)
        fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        building.rename(self.path)
        return self

    def close(self) -> None:
        """Remove this process's folder (at exit)."""
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None
        shutil.rmtree(self.path, ignore_errors=True)

    def _remove_stale(self) -> list[Path]:
        removed = []
        now = time.time()
        for folder in [*self.root.glob("run-*"), *self.root.glob(".new-run-*")]:
            if not folder.is_dir() or folder == self.path:
                continue
            try:
                age = now - folder.stat().st_mtime
            except OSError:  # renamed or removed meanwhile
                continue
            if folder.name.startswith(".new-") and age < BUILD_GRACE_S:
                continue  # another server is building it (its lock may not exist yet)
            lock = folder / "lock"
            try:
                fd = os.open(lock, os.O_RDWR)
            except FileNotFoundError:  # died before locking, or half removed
                fd = None
            except OSError:
                continue
            if fd is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:  # a live server holds it
                    os.close(fd)
                    continue
                os.close(fd)
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
        return removed

    def job_dir(self, job_id: str) -> Path:
        """A new folder for one job's results.

        Parameters
        ----------
        job_id : str

        Returns
        -------
        pathlib.Path
        """
        path = self.path / "jobs" / job_id
        path.mkdir(parents=True, exist_ok=True)
        return path

    async def save_upload(self, upload: Any, *, limit: int) -> Path:
        """Copy an upload (a Starlette ``UploadFile``) into the folder after checking it.

        Parameters
        ----------
        upload : starlette.datastructures.UploadFile
        limit : int
            Largest size in bytes (checked again here: the body limit counts the
            whole request, this the file).

        Returns
        -------
        pathlib.Path
            The stored file; the caller removes it when done.

        Raises
        ------
        ApiError
            ``415`` if its first bytes are not an audio container we read, ``413``
            past the limit, ``422`` for an empty file.
        """
        name = _safe_name(getattr(upload, "filename", None))
        head = await upload.read(16)
        if not head:
            raise ApiError(422, "bad_audio", f"upload {name!r} is empty")
        kind = sniff(head)
        if kind is None:
            raise ApiError(
                415,
                "unsupported_media_type",
                f"upload {name!r} is not audio torchmusic reads (first bytes {head[:8]!r}); "
                "send WAV, FLAC, OGG/Opus, MP3, AIFF or AU",
            )
        path = self.path / "uploads" / f"upload-{secrets.token_hex(6)}-{name}"
        size = len(head)
        try:
            with open(path, "wb") as f:
                f.write(head)
                while chunk := await upload.read(CHUNK):
                    size += len(chunk)
                    if size > limit:
                        raise BodyTooLarge(limit)
                    f.write(chunk)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return path
