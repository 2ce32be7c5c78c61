"""``torchmusic embed``, ``catalog add|remove|info|reindex``, ``similar`` and ``train embed``.

Files that cannot be read are skipped and listed on stderr; the exit status is 1
when any failed, unless ``--allow-failures``. Index repairs (a stale, missing or
corrupt index file rebuilt from SQLite) are reported on stderr.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from typing import Any


def _print_events(catalog: Any) -> None:
    for event in catalog.events:
        print(f"torchmusic: {event}", file=sys.stderr)


def _finish_add(catalog: Any, report: Any, args: argparse.Namespace) -> int:
    print(report.summary().splitlines()[0])
    model = catalog.model
    if model is not None:
        print(f"catalog {catalog.root}: {len(catalog)} tracks, model {model.describe()}")
    _print_events(catalog)
    from torchmusic.recommend.catalog.catalog import reindex_advice

    advice = reindex_advice(model, catalog.root)
    if advice:
        print(f"torchmusic: catalog {advice}", file=sys.stderr)
    if report.failed:
        print(f"\n{len(report.failed)} file(s) skipped:", file=sys.stderr)
        for failure in report.failed:
            print(f"  {failure.path}: {failure.error}", file=sys.stderr)
        if not args.allow_failures:
            return 1
    return 0


def _add(args: argparse.Namespace, *, catalog_dir: str, model: str | None) -> int:
    from torchmusic.recommend.catalog import Catalog
    from torchmusic.scale.jobs import embed_stream

    # Decoding in worker processes, the network batched across tracks (docs/scale.md).
    stream = embed_stream(workers=args.workers, batch_size=args.batch_size)
    # Closed on return: a command leaves no SQLite -wal / -shm files behind.
    with Catalog(catalog_dir) as catalog:
        report = catalog.add(
            args.paths,
            embedder=model,
            device=args.device,
            batch_size=args.commit_every,
            progress=not args.no_progress,
            stream=stream,
        )
        return _finish_add(catalog, report, args)


def embed(args: argparse.Namespace) -> int:
    """``torchmusic embed PATH... --model M --catalog CATALOG [--engine ray --out TABLE]``."""
    if getattr(args, "engine", "local") == "ray":
        from torchmusic.cli.ray_cmd import embed as embed_on_ray

        return embed_on_ray(args)
    return _add(args, catalog_dir=args.catalog, model=args.model)


def import_table(args: argparse.Namespace) -> int:
    """``torchmusic catalog import TABLE --catalog C [--model M]``."""
    from torchmusic.recommend.catalog import Catalog

    with Catalog(args.catalog) as catalog:
        report = catalog.import_embeddings(
            args.table, model=args.model, progress=not args.no_progress
        )
        return _finish_add(catalog, report, args)


def add(args: argparse.Namespace) -> int:
    """``torchmusic catalog add PATH... --catalog C [--model M]``."""
    return _add(args, catalog_dir=args.catalog, model=args.model)


def remove(args: argparse.Namespace) -> int:
    """``torchmusic catalog remove TRACK... --catalog C`` (ids or paths)."""
    from torchmusic.recommend.catalog import Catalog

    with Catalog(args.catalog) as catalog:
        report = catalog.remove(args.items)
        print(f"removed {len(report.removed)} track(s); {len(catalog)} left")
        _print_events(catalog)
    if report.missing:
        print(f"no such track(s): {', '.join(report.missing)}", file=sys.stderr)
        return 1
    return 0


def info(args: argparse.Namespace) -> int:
    """``torchmusic catalog info --catalog C``."""
    from torchmusic.recommend.catalog import Catalog

    with Catalog(args.catalog) as catalog:
        facts = catalog.require().info()  # a mistyped path: "no catalog at ..."
    model = facts["model"] or {}
    print(f"catalog     {facts['path']}")
    print(f"tracks      {facts['tracks']}")
    print(f"generation  {facts['generation']}")
    if model:
        print(f"model       {model['name']} v{model['version']}, dim {model['dim']}")
        print(f"fingerprint {model['fingerprint']}")
        print(f"source      {model['source']}")
    print(f"index       {facts['index']['kind']}, {facts['index']['state']}")
    if facts["needs_reindex"]:
        print(f"reindex     needed: {facts['needs_reindex']}")
    return 0


def reindex(args: argparse.Namespace) -> int:
    """``torchmusic catalog reindex --catalog C [--restandardise]``."""
    from torchmusic.recommend.catalog import Catalog

    with Catalog(args.catalog) as catalog:
        if args.restandardise:
            catalog.require()
            report = catalog.restandardise(device=args.device, progress=not args.no_progress)
            print(report.summary())
        else:
            print(f"rebuilt {catalog.rebuild_index()}")
    return 0


def format_neighbours(query: str, neighbours: list[Any], fmt: str) -> str:
    """Table, JSON or CSV text of a ``similar`` result."""
    if fmt == "json":
        doc = {"query": query, "neighbours": [n.to_dict() for n in neighbours]}
        return json.dumps(doc, indent=2) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["rank", "id", "score", "name", "path"])
        for rank, n in enumerate(neighbours, start=1):
            writer.writerow([rank, n.id, f"{n.score:.6f}", n.name, n.path])
        return buf.getvalue()
    width = min(60, max([len("name"), *(len(n.name) for n in neighbours)]))
    lines = [f"nearest tracks to {query}", f"{'rank':>4}  {'score':>6}  {'id':>6}  name"]
    for rank, n in enumerate(neighbours, start=1):
        lines.append(f"{rank:>4}  {n.score:6.3f}  {n.id:>6}  {n.name:<{width}}")
    return "\n".join(lines) + "\n"


def similar(args: argparse.Namespace) -> int:
    """``torchmusic similar QUERY --catalog C -k 10`` (QUERY: audio file or track id)."""
    from torchmusic.recommend.catalog import Catalog

    with Catalog(args.catalog) as catalog:
        catalog.require()
        # A digit string is a track id when the catalog has it, else a file of that
        # name (Catalog.resolve_query); when both readings were possible, say which.
        query, note = catalog.resolve_query(args.query)
        if note:
            print(f"torchmusic: {note}", file=sys.stderr)
        neighbours = catalog.similar(query, k=args.top_k, device=args.device)
        _print_events(catalog)
    sys.stdout.write(format_neighbours(args.query, neighbours, args.format))
    return 0


def train_embed(args: argparse.Namespace) -> int:
    """``torchmusic train embed --data DIR --model autoencoder|contrastive``."""
    from torchmusic.cli.train_cmd import _devices
    from torchmusic.training.embed import EmbedTrainConfig, train_embedder

    cfg = EmbedTrainConfig.from_sources(
        config=args.config,
        overrides=getattr(args, "overrides", None) or [],
        data=args.data[0] if len(args.data) == 1 else list(args.data),
        model=args.arch,
        out_dir=args.out,
        resume=True if args.resume else None,
        devices=_devices(args.devices),
        num_nodes=args.num_nodes,
        accelerator=args.accelerator,
    )
    result = train_embedder(cfg, progress=not args.no_progress)
    if result.skipped:
        print(f"skipped {len(result.skipped)} undecodable file(s):", file=sys.stderr)
        for path, error in result.skipped:
            print(f"  {path}: {error}", file=sys.stderr)
    for key in ("train_loss", "val_loss", "val_top1", "epochs_trained"):
        if key in result.metrics:
            value = result.metrics[key]
            print(f"{key:>16}  {value:.4f}" if isinstance(value, float) else f"{key:>16}  {value}")
    print(f"model file: {result.model_file}")
    print(f"run folder: {result.run_dir}")
    return 0
