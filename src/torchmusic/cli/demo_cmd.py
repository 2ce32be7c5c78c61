"""``torchmusic demo``: the README's main job on the built-in demo corpus.

1. build the demo corpus (folk tunes rendered with FluidSynth) into ``OUT/corpus``;
2. extract its log-mel features into the cache ``OUT/cache`` with a progress bar;
3. print a summary table: tracks per class and split, instrument families, feature
   shapes and cache use.

Every step is resumable: a second run reuses the corpus and the cached features.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path


def _table(title: str, header: list[str], rows: list[list[object]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    line = "  ".join(f"{h:<{w}}" for h, w in zip(header, widths, strict=True))
    out = [title, line, "  ".join("-" * w for w in widths)]
    for row in rows:
        out.append("  ".join(f"{x!s:<{w}}" for x, w in zip(row, widths, strict=True)))
    return "\n".join(out)


def run(args: argparse.Namespace) -> int:
    from torchmusic.data import ManifestDataset, extract_features
    from torchmusic.data.demo import build_demo_corpus
    from torchmusic.features import FeatureConfig

    out = Path(args.out)
    progress = not args.no_progress
    t0 = time.perf_counter()
    print(f"[1/2] demo corpus -> {out / 'corpus'}")
    manifest = build_demo_corpus(
        out / "corpus",
        per_class=args.per_class,
        seed=args.seed,
        workers=args.workers,
        progress=progress,
    )
    t_corpus = time.perf_counter() - t0

    dataset = ManifestDataset(manifest, label_column="tune_type")
    families = ManifestDataset(manifest, label_column="instrument_family")
    config = FeatureConfig(kind="logmel")
    print(f"[2/2] log-mel features of {len(dataset)} tracks -> cache {out / 'cache'}")
    t1 = time.perf_counter()
    report = extract_features(
        [t.path for t in dataset.tracks],
        config,
        cache_dir=out / "cache",
        workers=args.workers,
        progress=progress,
    )
    t_features = time.perf_counter() - t1

    splits = sorted({t.split for t in dataset.tracks if t.split})
    per_class = Counter((t.label, t.split) for t in dataset.tracks)
    rows = [
        [c, *(per_class[(c, s)] for s in splits), sum(per_class[(c, s)] for s in splits)]
        for c in dataset.classes
    ]
    print()
    print(_table("Tracks per tune type and split", ["tune type", *splits, "total"], rows))
    fam = Counter(t.label for t in families.tracks)
    print()
    print(_table("Instrument families", ["family", "tracks"], sorted(fam.items())))
    shapes = Counter(tuple(item.load(mmap=True).shape) for item in report.ok)
    print()
    print(
        _table(
            "Features",
            ["kind", "shape (bins, frames)", "files", "computed", "reused", "failed"],
            [
                [
                    config.kind,
                    ", ".join(f"{s} x{n}" for s, n in shapes.most_common()),
                    len(report.ok),
                    report.computed,
                    report.reused,
                    len(report.failed),
                ]
            ],
        )
    )
    print(
        f"\ncorpus {t_corpus:.1f} s, features {t_features:.1f} s, "
        f"total {time.perf_counter() - t0:.1f} s; manifest: {manifest}"
    )
    if report.failed:
        print(report.summary())
        return 1
    return 0
