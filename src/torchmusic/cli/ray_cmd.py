"""``torchmusic predict|embed ... --engine ray``: the same commands as a Ray Data job.

``--out X.parquet`` / ``--out X.jsonl`` keeps the job's results table (a folder of
part files written by the workers); ``embed -c CATALOG`` then imports the table
(without ``--out`` the rows come back to this process and are imported from a
temporary file). Other outputs (``predict`` table/JSON/CSV text) are formatted
exactly as with the local engine.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from torchmusic.cli._engine import is_table
from torchmusic.cli.predict_cmd import print_failures


def _ray_options(args: argparse.Namespace) -> dict[str, Any]:
    gpus = args.gpus_per_actor
    return {
        "address": args.address,
        "concurrency": args.actors,
        "num_gpus": gpus,
        # --device keeps its default (cpu) unless actors get GPUs and it was not set.
        "device": None if (gpus and args.device == "cpu") else args.device,
        "hop_seconds": args.hop_seconds if hasattr(args, "hop_seconds") else None,
        "progress": not args.no_progress,
    }


def _report_from_rows(rows: list[dict[str, Any]], failed: list[Any]) -> Any:
    """The local engine's ``PredictionReport`` of the job's rows (for its formatters)."""
    from torchmusic.serve.predict import PredictionReport, TrackPrediction

    def ranked(pairs: list[dict[str, Any]]) -> list[tuple[str, float]]:
        return [(p["label"], p["probability"]) for p in pairs]

    predictions = [
        TrackPrediction(
            path=Path(r["path"]),
            labels=ranked(r["labels"]),
            segments=[(s["start"], s["end"], ranked(s["labels"])) for s in r["segments"]],
            duration=r["duration"],
            name=r["name"],
        )
        for r in rows
        if not r["error"]
    ]
    return PredictionReport(predictions=predictions, failed=failed)


def predict(args: argparse.Namespace) -> int:
    """``torchmusic predict MODEL PATH... --engine ray [--address A] [--out T.parquet]``."""
    from torchmusic.cli.predict_cmd import split_model_and_paths, write_report
    from torchmusic.scale.ray_engine import predict_dataset
    from torchmusic.serve.predict import Predictor

    model, paths = split_model_and_paths(args)
    table = args.out if is_table(args.out) else None
    job = predict_dataset(
        paths,
        model,
        top_k=args.top_k,
        timeline=args.timeline,
        output=table,
        overwrite=True,  # as the local --out, which replaces its file
        **_ray_options(args),
    )
    if table is not None:
        print(f"wrote predictions for {job.tracks} file(s) to {table} ({job.summary()})")
        return print_failures(job.failed, args)
    report = _report_from_rows(job.rows or [], job.failed)
    # CSV needs no model; the table and JSON headers name it: load it here (CPU, once).
    predictor = None if args.format == "csv" else Predictor(model, hop_seconds=args.hop_seconds)
    return write_report(report, predictor, args)


def _embedder_for_catalog(catalog: Any, model: str) -> Any:
    """What the actors embed with: the catalog's own mfcc embedder for ``-m mfcc`` on an
    mfcc catalog (as ``catalog add`` does), else ``model``, checked against the catalog
    before any cluster time is spent."""
    from torchmusic.embed.embedders import get_embedder
    from torchmusic.errors import DataError

    have = catalog.model
    if have is None:
        return model
    if model.lower() == "mfcc" and have.name == "mfcc":
        return catalog.embedder()
    info = get_embedder(model).info
    if info.fingerprint != have.fingerprint:
        raise DataError(
            f"embeddings from model {info.describe()} cannot join catalog "
            f"{str(catalog.root)!r}, built with model {have.describe()}: use that model or "
            "start a new catalog"
        )
    return model


def embed(args: argparse.Namespace) -> int:
    """``torchmusic embed PATH... -m M --engine ray [--out T.parquet] [-c CATALOG]``."""
    from torchmusic.cli.catalog_cmd import _finish_add
    from torchmusic.recommend.catalog import Catalog
    from torchmusic.scale.ray_engine import embed_dataset

    catalog = Catalog(args.catalog) if args.catalog else None
    try:
        model = args.model if catalog is None else _embedder_for_catalog(catalog, args.model)
        job = embed_dataset(
            args.paths, model, output=args.table, overwrite=True, **_ray_options(args)
        )
        print(job.summary())
        if catalog is None:
            return print_failures(job.failed, args)
        # The table knows its model; a model file is passed on so that a new catalog
        # keeps a copy of it (the catalog's own embedder needs nothing).
        named = args.model if isinstance(model, str) else None
        if args.table is not None:
            report = catalog.import_embeddings(args.table, model=named)
        else:
            with tempfile.TemporaryDirectory(prefix="torchmusic-embed-") as tmp:
                rows_file = Path(tmp) / "embeddings.jsonl"
                with open(rows_file, "w", encoding="utf-8") as f:
                    for row in job.rows or []:
                        f.write(json.dumps(row) + "\n")
                report = catalog.import_embeddings(rows_file, model=named)
        return _finish_add(catalog, report, args)
    finally:
        if catalog is not None:
            catalog.close()
