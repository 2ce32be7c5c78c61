"""``--engine local|ray`` and the Ray options of ``predict`` and ``embed`` (argparse only).

Imported by ``torchmusic --help``: no Ray, torch or numpy here. The Ray job itself is
:mod:`torchmusic.cli.ray_cmd` (over :mod:`torchmusic.scale.ray_engine`).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from torchmusic.cli._flags import DeprecatedAlias

#: ``--out`` names that are a results table (a folder of part files written by Ray).
TABLE_SUFFIXES = (".parquet", ".jsonl")


def is_table(path: str | None) -> bool:
    """Whether ``path`` names a Parquet / JSON Lines table (by its suffix)."""
    return path is not None and Path(path).suffix.lower() in TABLE_SUFFIXES


def add_engine_options(p: argparse.ArgumentParser) -> None:
    """``--engine``, ``--address``, ``--actors``, ``--gpus-per-actor``."""
    p.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="local: this machine (default); ray: a Ray cluster (pip install 'torchmusic[ray]')",
    )
    p.add_argument(
        "--address",
        default=None,
        metavar="ADDR",
        help="--engine ray: cluster to join, e.g. auto or ray://head:10001 (default: local Ray)",
    )
    p.add_argument(
        "--actors",
        type=int,
        default=None,
        metavar="N",
        help="--engine ray: model copies (actors) to run (default: one per CPU core)",
    )
    p.add_argument(
        "--gpus-per-actor",
        type=float,
        default=0.0,
        metavar="F",
        help="--engine ray: GPU share of each actor, e.g. 0.25 packs 4 per GPU (default 0)",
    )


class OutTableOrCatalog(DeprecatedAlias):
    """``embed --out``: a ``.parquet`` / ``.jsonl`` name is the Ray job's results table
    (stored in ``table``, no warning); anything else is the old spelling of
    ``--catalog`` (stored in ``catalog``, with the deprecation warning)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        if is_table(values):
            namespace.table = values
            return
        super().__call__(parser, namespace, values, option_string)


def check_embed_outputs(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """``embed``: ``--catalog`` is required, unless ``--engine ray`` writes ``--out TABLE``."""
    table = getattr(args, "table", None)
    if table is not None and args.engine != "ray":
        parser.error(
            f"--out {table} (a results table) needs --engine ray; the local engine writes "
            "into --catalog/-c"
        )
    if args.catalog is None and table is None:
        parser.error("the following arguments are required: --catalog/-c")
