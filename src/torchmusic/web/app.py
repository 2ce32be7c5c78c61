"""The app factory: :func:`create_app` wires settings, error handlers, routes and the page.

Examples
--------
>>> from torchmusic.web import Settings, create_app
>>> app = create_app(Settings(catalog=None))  # doctest: +SKIP
>>> # uvicorn.run(app, host="127.0.0.1", port=8000)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

from torchmusic.web import errors
from torchmusic.web.settings import Settings
from torchmusic.web.state import ServerState, TokenGate, require_token
from torchmusic.web.uploads import BodyLimit, BusyShortcut

log = logging.getLogger("torchmusic.web")

STATIC = Path(__file__).resolve().parent / "static"
#: Version of the vendored Swagger UI (static/vendor/LICENSES.md).
SWAGGER_UI = "5.35.0"


def create_app(settings: Settings | None = None) -> FastAPI:
    """A FastAPI app serving the API under ``/api``, the page at ``/`` and OpenAPI at ``/docs``.

    Parameters
    ----------
    settings : Settings, optional
        Default: :meth:`Settings.from_env` (loopback, no catalog, shipped models).

    Returns
    -------
    fastapi.FastAPI
        Its lifespan opens the shared state (temp folder, worker pool, catalog) and
        closes it (running jobs finish, the temp folder is removed).
    """
    from torchmusic import __version__
    from torchmusic.web import (
        routes_audio,
        routes_generate,
        routes_jobs,
        routes_predict,
        routes_similar,
        routes_system,
    )

    settings = settings or Settings.from_env()
    server = ServerState(settings)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        server.open()
        for folder in server.temp.removed_stale:
            log.info("removed a dead server's temporary folder %s", folder)
        sweeper = asyncio.create_task(_expire_jobs(server))
        try:
            yield
        finally:
            sweeper.cancel()
            server.close()

    app = FastAPI(
        title="torchmusic",
        version=__version__,
        description="Music models over HTTP: tags, features, similar tracks, "
        "recommendations, generation, denoising. Every error is JSON {error, detail}.",
        lifespan=lifespan,
        docs_url=None,  # served below from the vendored Swagger UI: no CDN, works offline
        redoc_url=None,
    )
    app.state.torchmusic = server
    errors.install(app)
    # Outermost last: body size, then the token, then the pool's 503, all before the body.
    app.add_middleware(BusyShortcut, server=server)
    app.add_middleware(TokenGate, token=settings.token)
    app.add_middleware(BodyLimit, limit=settings.max_upload_bytes)

    app.include_router(routes_system.public)
    guarded = [Depends(require_token)]
    for module in (
        routes_system, routes_predict, routes_similar, routes_generate, routes_audio, routes_jobs
    ):  # fmt: skip
        app.include_router(module.router, prefix="/api", dependencies=guarded)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="torchmusic API",
            swagger_js_url=f"/static/vendor/swagger-ui-{SWAGGER_UI}-bundle.js",
            swagger_css_url=f"/static/vendor/swagger-ui-{SWAGGER_UI}.css",
            swagger_favicon_url="data:,",
        )

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    return app


async def _expire_jobs(server: ServerState, every_s: float = 30.0) -> None:
    """Delete expired job results now and then, also when nobody polls."""
    while True:
        await asyncio.sleep(every_s)
        if server.jobs is not None:
            server.jobs.expire()
