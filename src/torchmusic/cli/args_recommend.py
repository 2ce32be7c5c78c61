"""Argument parsers for embeddings and recommendation: `embed`, `catalog`, `similar`, `recommend`.

Argparse only: this module is imported by ``torchmusic --help`` and must not import
torch, numpy or any other heavy package. Handlers are named as ``"module:function"``
strings and imported when their command runs.
"""

from __future__ import annotations

import argparse


def register(
    sub: argparse._SubParsersAction,
    *,
    datasets: argparse._SubParsersAction,
    train: argparse._SubParsersAction,
) -> None:
    """Add this area's commands: top-level ones to ``sub``, dataset builders to
    ``datasets`` (``torchmusic datasets build NAME``) and training tasks to ``train``
    (``torchmusic train TASK``)."""
    p = sub.add_parser(
        "embed",
        help="embed audio files/folders into a catalog (SQLite + FAISS index)",
        description="Compute track embeddings (pooled clip embeddings) with an embedding "
        "model file, a classifier model file, or 'mfcc' (MFCC-mean baseline) and add "
        "them to the catalog CATALOG. Bad files are skipped and listed.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="audio files or folders")
    p.add_argument("--model", "-m", required=True, help="embedding/classifier model file or 'mfcc'")
    p.add_argument("--out", "-o", required=True, metavar="CATALOG", help="catalog folder")
    _add_common(p)
    p.set_defaults(handler="torchmusic.cli.catalog_cmd:embed")

    p = sub.add_parser("catalog", help="manage a track catalog (add, remove, info, reindex)")
    csub = p.add_subparsers(dest="catalog_command", metavar="ACTION", required=True)
    c = csub.add_parser("add", help="embed and add audio files/folders (same file twice: no-op)")
    c.add_argument("paths", nargs="+", metavar="PATH")
    c.add_argument("--catalog", "-c", required=True, help="catalog folder")
    c.add_argument("--model", "-m", default=None, help="model (default: the catalog's own)")
    _add_common(c)
    c.set_defaults(handler="torchmusic.cli.catalog_cmd:add")
    c = csub.add_parser("remove", help="remove tracks by id or path")
    c.add_argument("items", nargs="+", metavar="TRACK")
    c.add_argument("--catalog", "-c", required=True)
    c.set_defaults(handler="torchmusic.cli.catalog_cmd:remove")
    c = csub.add_parser("info", help="tracks, model and index of a catalog")
    c.add_argument("--catalog", "-c", required=True)
    c.set_defaults(handler="torchmusic.cli.catalog_cmd:info")
    c = csub.add_parser("reindex", help="rebuild the FAISS index from SQLite")
    c.add_argument("--catalog", "-c", required=True)
    c.set_defaults(handler="torchmusic.cli.catalog_cmd:reindex")

    p = sub.add_parser("similar", help="nearest tracks of an audio file or a catalog track id")
    p.add_argument("query", metavar="QUERY", help="audio file or track id")
    p.add_argument("--catalog", "-c", required=True)
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--format", choices=("table", "json", "csv"), default="table")
    p.add_argument("--device", default="cpu")
    p.set_defaults(handler="torchmusic.cli.catalog_cmd:similar")

    p = sub.add_parser(
        "recommend",
        help="recommend items for a user or for a session of liked items, with reasons",
    )
    p.add_argument("--model", "-m", required=True, help="recommender model file")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", default=None, help="user id")
    who.add_argument("--like", nargs="+", default=None, metavar="ITEM", help="liked item ids/names")
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--format", choices=("table", "json", "csv"), default="table")
    p.set_defaults(handler="torchmusic.cli.recommend_cmd:run")

    t = train.add_parser(
        "embed",
        help="train an audio embedding model (autoencoder or contrastive) on a folder",
    )
    t.add_argument("--data", required=True, help="audio folder or manifest")
    t.add_argument(
        "--model",
        default=None,
        help="autoencoder | contrastive (default: --config's, else contrastive)",
    )
    t.add_argument("--config", default=None)
    t.add_argument("--out", "-o", default=None)
    t.add_argument("--resume", action="store_true")
    t.add_argument("--devices", default=None)
    t.add_argument("--num-nodes", type=int, default=None)
    t.add_argument("--accelerator", default=None)
    t.add_argument("--no-progress", action="store_true")
    t.set_defaults(handler="torchmusic.cli.catalog_cmd:train_embed", accepts_overrides=True)

    t = train.add_parser(
        "recommend",
        help="train a recommender on listening data (Last.fm-2k layout)",
    )
    t.add_argument("--data", required=True, help="folder with user_artists.dat etc.")
    t.add_argument(
        "--model", default="hybrid", help="popularity | itemknn | als | bpr | content | hybrid"
    )
    t.add_argument("--config", default=None)
    t.add_argument("--out", "-o", required=True, help="recommender model file to write")
    t.add_argument("--devices", default=None)
    t.add_argument("--accelerator", default=None)
    t.add_argument("--no-progress", action="store_true")
    t.set_defaults(handler="torchmusic.cli.recommend_cmd:train", accepts_overrides=True)


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="cpu")
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--allow-failures", action="store_true", help="exit 0 even if files failed")
    p.add_argument("--no-progress", action="store_true")
