"""Every error leaves the server as JSON ``{"error": slug, "detail": message}``, never a traceback.

:class:`ApiError` is raised by the routes with the status and a short machine-readable
slug; torchmusic's own exceptions are mapped here (bad parameters and bad audio are
the client's fault: 4xx), and anything else is logged with its traceback and answered
``500 {"error": "internal"}`` without details (they could leak paths or data).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from torchmusic.errors import AudioFileError, DataError, DependencyError, ParameterError

log = logging.getLogger("torchmusic.web")

#: Slug of a plain HTTP status (Starlette's own 404 / 405 and the like).
_SLUGS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
    422: "bad_parameter",
    503: "busy",
}


class ApiError(Exception):
    """An error answer: HTTP ``status``, a slug ``error`` and a human ``detail``.

    Parameters
    ----------
    status : int
        HTTP status code.
    error : str
        Machine-readable kind, e.g. ``"unknown_model"``.
    detail : str
        What went wrong, echoing the bad value.
    headers : dict, optional
        Extra response headers (``Retry-After``, ``WWW-Authenticate``).
    """

    def __init__(
        self, status: int, error: str, detail: str, *, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status, self.error, self.detail = status, error, detail
        self.headers = headers or {}


def error_response(
    status: int, error: str, detail: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The JSON error body every failure uses.

    Parameters
    ----------
    status : int
        HTTP status code.
    error : str
        Machine-readable kind.
    detail : str
        What went wrong.
    headers : dict, optional
        Extra response headers.

    Returns
    -------
    fastapi.responses.JSONResponse
        ``{"error": error, "detail": detail}``.
    """
    return JSONResponse({"error": error, "detail": detail}, status_code=status, headers=headers)


def _validation_detail(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
        got = err.get("input")
        echo = f" (got {got!r})" if got is not None and not isinstance(got, dict) else ""
        parts.append(f"{where or 'request'}: {err.get('msg', 'invalid')}{echo}")
    return "; ".join(parts) or "invalid request"


def install(app: FastAPI) -> None:
    """Register the handlers that turn every exception into a JSON error.

    Parameters
    ----------
    app : fastapi.FastAPI
    """

    @app.exception_handler(ApiError)
    async def _api(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.error, exc.detail, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        slug = _SLUGS.get(exc.status_code, "error" if exc.status_code < 500 else "internal")
        return error_response(exc.status_code, slug, detail, getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, "bad_parameter", _validation_detail(exc))

    @app.exception_handler(ParameterError)
    async def _parameter(_: Request, exc: ParameterError) -> JSONResponse:
        return error_response(422, "bad_parameter", str(exc))

    @app.exception_handler(AudioFileError)
    async def _audio(_: Request, exc: AudioFileError) -> JSONResponse:
        return error_response(422, "bad_audio", _hide_paths(str(exc)))

    @app.exception_handler(DataError)
    async def _data(_: Request, exc: DataError) -> JSONResponse:
        return error_response(422, "bad_data", _hide_paths(str(exc)))

    @app.exception_handler(DependencyError)
    async def _dependency(_: Request, exc: DependencyError) -> JSONResponse:
        return error_response(501, "not_available", str(exc))

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        log.error(
            "internal error on %s %s", request.method, request.url.path, exc_info=exc
        )
        return error_response(
            500, "internal", f"internal error ({type(exc).__name__}); see the server log"
        )


def _hide_paths(text: str) -> str:
    """Messages name the server's temporary upload path: show the upload's name only."""
    import re

    return re.sub(r"(/[^\s'\"]*)?/upload-[0-9a-f]+-", "", text)


def describe(exc: BaseException) -> dict[str, Any]:
    """``{error, detail}`` of an exception raised inside a job (stored with the job).

    Parameters
    ----------
    exc : BaseException

    Returns
    -------
    dict
        The slug and message a request would have got; ``internal`` (logged with its
        traceback, no details) for anything that is not torchmusic's or the API's.
    """
    if isinstance(exc, ApiError):
        return {"error": exc.error, "detail": exc.detail}
    for kind, slug in (
        (ParameterError, "bad_parameter"),
        (AudioFileError, "bad_audio"),
        (DataError, "bad_data"),
        (DependencyError, "not_available"),
    ):
        if isinstance(exc, kind):
            return {"error": slug, "detail": _hide_paths(str(exc))}
    log.error("job failed", exc_info=exc)
    return {"error": "internal", "detail": f"internal error ({type(exc).__name__}); see the log"}
