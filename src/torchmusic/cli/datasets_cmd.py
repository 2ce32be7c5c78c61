"""``torchmusic datasets build NAME``."""

from __future__ import annotations

import argparse


def build_demo(args: argparse.Namespace) -> int:
    from torchmusic.data.demo import build_demo_corpus

    manifest = build_demo_corpus(
        args.out,
        per_class=args.per_class,
        seed=args.seed,
        workers=args.workers,
        soundfont=args.soundfont,
        progress=not args.no_progress,
    )
    print(f"demo corpus written: {manifest}")
    return 0
