"""``torchmusic serve``: a FastAPI web app, REST API and offline page over every capability.

- :mod:`torchmusic.web.settings`: :class:`~torchmusic.web.settings.Settings` (host,
  port, token, limits, catalog, models).
- :mod:`torchmusic.web.app`: :func:`~torchmusic.web.app.create_app`, the app factory.
- :mod:`torchmusic.web.uploads`: size-limited streaming uploads, content sniffing, the
  temporary folder (cleaned at start and exit, also after a crash).
- :mod:`torchmusic.web.jobs`: the bounded worker pool and queue (``503`` + ``Retry-After``
  when full), job status, results and their expiry, graceful shutdown.
- :mod:`torchmusic.web.models`: models loaded once and shared by every request.
- ``routes_*``: one module per area of the API; ``static/``: the page.

FastAPI, Starlette and uvicorn (the ``torchmusic[serve]`` extra) are imported only
inside this package, never by ``import torchmusic`` or ``torchmusic --help``.
"""

from __future__ import annotations

from torchmusic._lazy import lazy_package

_LAZY: dict[str, str] = {
    "Settings": "torchmusic.web.settings",
    "create_app": "torchmusic.web.app",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_package(__name__, _LAZY, submodules=True)
