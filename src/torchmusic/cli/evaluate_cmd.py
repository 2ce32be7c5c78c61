"""``torchmusic evaluate``: score a model file on labelled audio and print a summary table.

Writes ``report.json`` (and confusion-matrix PNGs for single-label models) to
``--out`` when given. Unreadable audio files are skipped and listed on stderr, and
the exit status is then 1 unless ``--allow-failures`` (as in predict / features).
Never imports Lightning.
"""

from __future__ import annotations

import argparse
import sys


def parse_split_lists(items: list[str] | None) -> dict[str, str] | None:
    """``["test=FILE", ...]`` -> ``{"test": "FILE"}`` (None when no item)."""
    from torchmusic.errors import ParameterError

    if not items:
        return None
    lists: dict[str, str] = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise ParameterError(
                f"--split-lists entry {item!r} must look like NAME=FILE, e.g. test=test_filtered.txt"
            )
        if name.strip() in lists:
            raise ParameterError(f"--split-lists names split {name.strip()!r} twice")
        lists[name.strip()] = path.strip()
    return lists


def run(args: argparse.Namespace) -> int:
    from torchmusic.serve.evaluate import evaluate_model

    report = evaluate_model(
        args.model,
        args.data,
        split=args.split,
        split_lists=parse_split_lists(args.split_lists),
        label_column=args.label_column,
        hop_seconds=args.hop_seconds,
        device=args.device,
        out_dir=args.out,
        progress=not args.no_progress,
        # --allow-seen-tracks: score a held-out split the model's run trained on.
        allow_seen_tracks=getattr(args, "allow_seen_tracks", False),
    )
    print(report.summary())
    if report.files:
        print("\nwritten: " + ", ".join(report.files.values()))
    if report.skipped:
        print(f"\n{len(report.skipped)} file(s) skipped:", file=sys.stderr)
        for item in report.skipped:
            print(f"  {item['path']}: {item['error']}", file=sys.stderr)
        # As predict / features / embed: skipped files fail the run unless allowed
        # (getattr: the flag is --allow-failures where the parser defines it).
        if not getattr(args, "allow_failures", False):
            return 1
    return 0
