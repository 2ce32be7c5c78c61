"""Argument parsers for embeddings and recommendation: `embed`, `catalog`, `similar`, `recommend`.

Argparse only: this module is imported by ``torchmusic --help`` and must not import
torch, numpy or any other heavy package. Handlers are named as ``"module:function"``
strings and imported when their command runs.
"""

from __future__ import annotations

import argparse

from torchmusic.cli._engine import OutTableOrCatalog, add_engine_options, check_embed_outputs
from torchmusic.cli._flags import (
    DEVICE_HELP,
    add_pipeline_options,
    add_training_devices,
    add_training_options,
    after_parse,
    deprecated,
    examples,
)


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
        "model file, a classifier model file, or 'mfcc' (standardised MFCC statistics, no "
        "training) and add "
        "them to the catalog --catalog. Bad files are skipped and listed. With --engine ray "
        "the job runs on a Ray cluster; --out FILE.parquet|.jsonl then keeps its results "
        "table (imported into --catalog when given; see docs/scale.md).",
        epilog=examples(
            "torchmusic embed music/ --model mfcc --catalog my_catalog",
            "torchmusic embed music/ -m runs/emb/model.safetensors -c emb_catalog --device cuda",
            "torchmusic embed music/ -m mfcc --engine ray --out emb.parquet -c my_catalog",
        ),
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="audio files or folders")
    p.add_argument(
        "--model", "-m", required=True, help="embedding or classifier model file, or 'mfcc'"
    )
    p.add_argument("--catalog", "-c", default=None, help="catalog folder (created if new)")
    # --out TABLE.parquet|.jsonl: the Ray job's results; any other --out: old --catalog.
    p.add_argument(
        "--out", "-o", action=OutTableOrCatalog, new="--catalog/-c", dest="catalog", metavar="FILE"
    )
    p.set_defaults(table=None)
    add_engine_options(p)
    _add_common(p)
    p.set_defaults(handler="torchmusic.cli.catalog_cmd:embed")
    after_parse(p, check_embed_outputs)

    p = sub.add_parser(
        "catalog",
        help="manage a track catalog (add, import, remove, info, reindex)",
        description="Manage a track catalog: a folder with an SQLite database of tracks "
        "and embeddings and a FAISS index (see docs/catalog.md).",
        epilog=examples(
            "torchmusic catalog add more_music/ --catalog my_catalog",
            "torchmusic catalog info -c my_catalog",
        ),
    )
    csub = p.add_subparsers(dest="catalog_command", metavar="ACTION", required=True)
    c = csub.add_parser(
        "add",
        help="embed and add audio files/folders (same file twice: no-op)",
        description="Embed audio files and folders with the catalog's model (or --model "
        "for a new catalog) and add them; a file already in the catalog is a no-op.",
        epilog=examples(
            "torchmusic catalog add more_music/ --catalog my_catalog",
            "torchmusic catalog add kick.wav snare.wav -c my_catalog",
        ),
    )
    c.add_argument("paths", nargs="+", metavar="PATH", help="audio files or folders")
    _add_catalog(c)
    c.add_argument(
        "--model", "-m", default=None, help="embedding model (default: the catalog's own)"
    )
    _add_common(c)
    c.set_defaults(handler="torchmusic.cli.catalog_cmd:add")
    c = csub.add_parser(
        "import",
        help="add an embeddings table (Parquet/JSONL from 'embed --engine ray')",
        description="Add the embeddings of a results table (a .parquet/.jsonl file or folder "
        "of parts, as 'torchmusic embed --engine ray --out' writes) without decoding audio: "
        "the model fingerprint must match the catalog's, known content is skipped, error "
        "rows are listed.",
        epilog=examples(
            "torchmusic catalog import emb.parquet --catalog my_catalog",
            "torchmusic catalog import emb.jsonl -c emb_catalog -m runs/emb/model.safetensors",
        ),
    )
    c.add_argument("table", metavar="TABLE", help="embeddings table: file or folder of parts")
    _add_catalog(c)
    c.add_argument(
        "--model", "-m", default=None, help="the table's model file (new catalog, file moved)"
    )
    c.add_argument("--allow-failures", action="store_true", help="exit 0 even if rows failed")
    c.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    c.set_defaults(handler="torchmusic.cli.catalog_cmd:import_table")
    c = csub.add_parser(
        "remove",
        help="remove tracks by id or path",
        description="Remove tracks from a catalog, given by track id or by path.",
        epilog=examples(
            "torchmusic catalog remove 1 --catalog my_catalog",
            "torchmusic catalog remove more_music/x.wav -c my_catalog",
        ),
    )
    c.add_argument("items", nargs="+", metavar="TRACK", help="track ids or paths")
    _add_catalog(c)
    c.set_defaults(handler="torchmusic.cli.catalog_cmd:remove")
    c = csub.add_parser(
        "info",
        help="tracks, model and index of a catalog",
        description="Print a catalog's track count, generation, model and index state.",
        epilog=examples(
            "torchmusic catalog info --catalog my_catalog",
            "torchmusic catalog info -c emb_catalog",
        ),
    )
    _add_catalog(c)
    c.set_defaults(handler="torchmusic.cli.catalog_cmd:info")
    c = csub.add_parser(
        "reindex",
        help="rebuild the FAISS index from SQLite (--restandardise: refit mfcc statistics)",
        description="Rebuild a catalog's FAISS index from its SQLite database (after a "
        "crash, or when the index file was lost). With --restandardise, an mfcc catalog's "
        "per-dimension statistics are refitted on its own tracks and every embedding is "
        "rewritten (one transaction); a catalog built with the legacy mfcc v1 embedder is "
        "upgraded to v2 by re-reading its audio files.",
        epilog=examples(
            "torchmusic catalog reindex --catalog my_catalog",
            "torchmusic catalog reindex -c emb_catalog",
            "torchmusic catalog reindex -c my_catalog --restandardise",
        ),
    )
    _add_catalog(c)
    c.add_argument(
        "--restandardise",
        action="store_true",
        help="mfcc catalogs: refit the standardisation on the catalog's tracks, rewrite vectors",
    )
    c.add_argument("--device", default="cpu", help=DEVICE_HELP)
    c.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    c.set_defaults(handler="torchmusic.cli.catalog_cmd:reindex")

    p = sub.add_parser(
        "similar",
        help="nearest tracks of an audio file or a catalog track id",
        description="Find the tracks of a catalog nearest to QUERY: an audio file (embedded "
        "with the catalog's model) or the id of a track in the catalog.",
        epilog=examples(
            "torchmusic similar kick.wav --catalog my_catalog -k 3",
            "torchmusic similar 2 -c my_catalog --top-k 2 --format json",
        ),
    )
    p.add_argument("query", metavar="QUERY", help="audio file or track id")
    _add_catalog(p)
    p.add_argument(
        "--top-k", "-k", type=int, metavar="N", default=10, help="tracks to show (default 10)"
    )
    p.add_argument(
        "--format", choices=("table", "json", "csv"), default="table", help="output format"
    )
    p.add_argument("--device", default="cpu", help=DEVICE_HELP)
    p.set_defaults(handler="torchmusic.cli.catalog_cmd:similar")

    p = sub.add_parser(
        "recommend",
        help="recommend items for a user or for a session of liked items, with reasons",
        description="Print the top-k items of a recommender model file for a user, or for "
        "a session of liked items (ids or names), each with the reason it was chosen.",
        epilog=examples(
            "torchmusic recommend --model hybrid.safetensors --user 2 -k 10",
            'torchmusic recommend -m hybrid.safetensors --like "Daft Punk" "Air" --format json',
        ),
    )
    p.add_argument("--model", "-m", required=True, help="recommender model file")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", default=None, help="user id")
    who.add_argument("--like", nargs="+", default=None, metavar="ITEM", help="liked item ids/names")
    p.add_argument(
        "--top-k", "-k", type=int, metavar="N", default=10, help="items to show (default 10)"
    )
    p.add_argument(
        "--format", choices=("table", "json", "csv"), default="table", help="output format"
    )
    p.set_defaults(handler="torchmusic.cli.recommend_cmd:run")

    t = train.add_parser(
        "embed",
        help="train an audio embedding model (autoencoder or contrastive) on a folder",
        description="Train an audio embedding model on a folder or manifest; its model "
        "file is what 'torchmusic embed --model' takes. Settings come from --config YAML, "
        "then the flags, then '--key value' overrides.",
        epilog=examples(
            "torchmusic train embed --data music/ --arch contrastive --out runs/emb",
            "torchmusic train embed --config configs/embed-music-cpu.yaml --data "
            "soundtracks/manifest.csv drums/drums/drums_fold0.csv --data_split train",
        ),
    )
    t.add_argument(
        "--data",
        required=True,
        nargs="+",
        help="audio folder(s), file(s) or manifest(s) (--data_split S keeps one split)",
    )
    add_training_options(
        t,
        arch_help="architecture to train: autoencoder | contrastive "
        "(default: --config's, else contrastive)",
        config_example="configs/embed.yaml",
    )
    t.set_defaults(handler="torchmusic.cli.catalog_cmd:train_embed", accepts_overrides=True)

    t = train.add_parser(
        "recommend",
        help="train a recommender on listening data (Last.fm-2k layout)",
        description="Fit a recommender on listening data and write its model file. "
        "Settings: the --config section named after --arch (e.g. 'als:'), then "
        "'--key value' overrides.",
        epilog=examples(
            "torchmusic train recommend --config configs/lastfm.yaml --data lastfm_2k/ --out hybrid.safetensors",
            "torchmusic train recommend --data lastfm_2k/ --arch als --out als.safetensors --factors 128",
        ),
    )
    t.add_argument("--data", required=True, help="folder with user_artists.dat etc.")
    t.add_argument(
        "--arch",
        default="hybrid",
        help="recommender to train: popularity | itemknn | als | bpr | content | hybrid "
        "(default: hybrid)",
    )
    deprecated(t, "--model", new="--arch", dest="arch", note="--model names a model file")
    t.add_argument(
        "--config", default=None, metavar="YAML", help="YAML recipe, e.g. configs/lastfm.yaml"
    )
    t.add_argument(
        "--out", "-o", required=True, metavar="FILE", help="recommender model file to write"
    )
    add_training_devices(t, nodes=False)
    t.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    t.set_defaults(handler="torchmusic.cli.recommend_cmd:train", accepts_overrides=True)


def _add_catalog(p: argparse.ArgumentParser) -> None:
    p.add_argument("--catalog", "-c", required=True, help="catalog folder")


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="cpu", help=DEVICE_HELP)
    add_pipeline_options(
        p,
        batch_size=None,
        batch_help="clip windows per forward pass, across tracks (default: the model's, 64)",
    )
    p.add_argument(
        "--commit-every",
        type=int,
        default=32,
        metavar="N",
        help="files per catalog transaction: a killed run redoes at most N (default 32)",
    )
    p.add_argument("--allow-failures", action="store_true", help="exit 0 even if files failed")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
