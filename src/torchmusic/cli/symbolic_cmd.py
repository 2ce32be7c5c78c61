"""Handlers of the symbolic-music commands (``datasets build folk``, ``train lm``)."""

from __future__ import annotations

import argparse


def build_folk(args: argparse.Namespace) -> int:
    """``torchmusic datasets build folk --out DIR``: MIDI + metadata.csv from music21."""
    from torchmusic.symbolic.folk import build_folk_corpus

    report = build_folk_corpus(
        args.out,
        collections=args.collections,
        limit=args.limit,
        seed=args.seed,
        workers=args.workers,
        progress=not args.no_progress,
    )
    print(report.summary())
    # Skipped tunes are expected (music21 cannot read every ABC tune): not a failure.
    return 0
