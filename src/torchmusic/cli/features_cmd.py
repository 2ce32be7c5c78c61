"""``torchmusic features``: compute (cached) features for files and folders."""

from __future__ import annotations

import argparse
import sys


def feature_config_from_args(args: argparse.Namespace):
    """The :class:`~torchmusic.features.FeatureConfig` the CLI flags describe."""
    from torchmusic.features import FeatureConfig

    return FeatureConfig(
        kind=args.kind,
        sr=args.sr,
        n_fft=args.n_fft,
        hop_length=args.hop_length,
        n_mels=args.n_mels,
        fmin=args.fmin,
        fmax=args.fmax,
        htk=args.htk,
        n_mfcc=args.n_mfcc,
        top_db=args.top_db,
    )


def print_failures(report) -> None:
    if report.failed:
        print(f"\n{len(report.failed)} file(s) failed:", file=sys.stderr)
        for failure in report.failed:
            print(f"  {failure.path}: {failure.error}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from torchmusic.data import default_cache_dir, extract_features

    config = feature_config_from_args(args)
    report = extract_features(
        args.paths,
        config,
        cache_dir=args.cache_dir or default_cache_dir(),
        workers=args.workers,
        progress=not args.no_progress,
        out_dir=args.out,
    )
    print(report.summary())
    print_failures(report)
    if report.failed and not args.allow_failures:
        return 1
    return 0
