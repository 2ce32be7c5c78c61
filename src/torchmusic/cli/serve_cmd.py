"""``torchmusic serve``: build :class:`~torchmusic.web.settings.Settings` and run uvicorn."""

from __future__ import annotations

import argparse
import importlib.util
import logging
import sys
from pathlib import Path

from torchmusic.errors import DependencyError


def run(args: argparse.Namespace) -> int:
    """Handler of ``torchmusic serve``: serve until Ctrl-C (running jobs finish first)."""
    # python-multipart is importable as `python_multipart` (>= 0.0.13) or `multipart`.
    wanted = {"fastapi": ("fastapi",), "uvicorn": ("uvicorn",),
              "python-multipart": ("python_multipart", "multipart")}  # fmt: skip
    missing = [n for n, mods in wanted.items() if not any(importlib.util.find_spec(m) for m in mods)]
    if missing:
        raise DependencyError(
            f"torchmusic serve needs {', '.join(missing)}: pip install 'torchmusic[serve]'"
        )
    import torch
    import uvicorn

    from torchmusic.web import Settings, create_app
    from torchmusic.web.settings import parse_model_option

    models = dict(parse_model_option(m) for m in args.model)
    classifier = args.classifier or ("drums" if not models else next(iter(models)))
    settings = Settings.from_env(
        host=args.host, port=args.port, token=args.token,
        catalog=Path(args.catalog) if args.catalog else None,
        recommender=args.recommender, models=models, classifier=classifier,
        max_upload_mb=args.max_upload_mb, max_duration_s=args.max_duration,
        workers=args.workers, queue_size=args.queue_size, device=args.device,
    )  # fmt: skip
    # Each worker gets its share of the cores: concurrent requests must not oversubscribe.
    torch.set_num_threads(settings.threads_per_worker())
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(name)s: %(message)s")
    if settings.host not in ("127.0.0.1", "localhost", "::1") and settings.token is None:
        print(
            f"torchmusic: warning: listening on {settings.host} without --token: anyone who "
            "can reach this port can use the API",
            file=sys.stderr,
        )
    print(f"torchmusic serve: http://{settings.host}:{settings.port}/ (API docs at /docs)")
    uvicorn.run(
        create_app(settings), host=settings.host, port=settings.port, log_level="info",
        timeout_graceful_shutdown=60,
    )  # fmt: skip
    return 0
