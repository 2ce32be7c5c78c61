"""Arguments of ``torchmusic serve`` (argparse only: ``torchmusic --help`` stays instant)."""

from __future__ import annotations

import argparse

from torchmusic.cli import _flags


def register(sub: argparse._SubParsersAction, **_: object) -> None:
    """Add ``serve`` to ``sub``."""
    p = sub.add_parser(
        "serve",
        help="web app + REST API: tags, features, similar tracks, generation, denoising",
        description="Serve the page and the HTTP API (OpenAPI at /docs) with FastAPI and "
        "uvicorn (pip install 'torchmusic[serve]'). Listens on 127.0.0.1 unless --host says "
        "otherwise; with --token (or $TORCHMUSIC_SERVE_TOKEN) every /api route but "
        "/api/health needs 'Authorization: Bearer TOKEN'. Clients name models, never paths: "
        "shipped models, and those given with --model NAME=FILE. See docs/serve.md.",
        epilog=_flags.examples(
            "torchmusic serve",
            "torchmusic serve --catalog my_catalog --model genre=runs/gtzan/model.safetensors",
            "torchmusic serve --host 0.0.0.0 --port 8080 --token \"$TOKEN\" --workers 4",
        ),
    )
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    p.add_argument(
        "--token",
        default=None,
        help="bearer token for every /api route but /api/health (default: $TORCHMUSIC_SERVE_TOKEN)",
    )
    p.add_argument(
        "--catalog", "-c", default=None, metavar="DIR", help="catalog folder for /api/similar"
    )
    p.add_argument(
        "--model",
        "-m",
        action="append",
        default=[],
        metavar="NAME=FILE",
        help="a model file clients may name (repeatable); shipped models are always offered",
    )
    p.add_argument(
        "--classifier", default=None, help="model /api/predict uses by default (default: the first --model, else drums)"
    )
    p.add_argument(
        "--recommender", default=None, metavar="FILE", help="recommender model file for /api/recommend"
    )
    p.add_argument(
        "--max-upload-mb", type=float, default=50.0, help="largest upload in MB (default 50)"
    )
    p.add_argument(
        "--max-duration", type=float, default=600.0, help="longest upload in seconds (default 600)"
    )
    p.add_argument(
        "--workers", type=int, default=2, help="computations at the same time (default 2)"
    )
    p.add_argument(
        "--queue-size", type=int, default=8, help="requests waiting before 503 (default 8)"
    )
    p.add_argument("--device", default="cpu", help=_flags.DEVICE_HELP)
    p.set_defaults(handler="torchmusic.cli.serve_cmd:run")
