"""Fit the MFCC standardisation shipped with the ``mfcc`` embedder (v2).

Run::

    torchmusic datasets build soundtracks --out /tmp/soundtracks
    nice -n 15 python benchmarks/mfcc_reference_stats.py --manifest /tmp/soundtracks/manifest.csv

For every track of the manifest's ``train`` split (Debian's game soundtracks: the
tracks the vocoder and denoiser trained on; ``valid`` and ``test`` are left out so
they can measure retrieval), a 60 s excerpt from the middle of the track (the whole
track when shorter) is loaded at 22,050 Hz mono and its 60 raw statistics computed
(:func:`torchmusic.embed.mfcc.raw_mfcc_statistics`); their per-dimension mean and
standard deviation are written, with their provenance, to
``src/torchmusic/embed/mfcc_reference_stats.json`` (``--write``; default: print only).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from _common import REPO

TARGET = REPO / "src" / "torchmusic" / "embed" / "mfcc_reference_stats.json"
EXCERPT_S = 60.0


def read_split(manifest: Path, split: str) -> list[dict[str, str]]:
    with open(manifest, newline="", encoding="utf-8") as f:
        return [row for row in csv.DictReader(f) if row["split"] == split]


def excerpt_rows(
    rows: list[dict[str, str]], *, excerpt_s: float, sr: int, compute: Callable[[Any], np.ndarray]
) -> np.ndarray:
    """``compute`` of the middle ``excerpt_s`` seconds of every track, stacked ``(n, dim)``."""
    from torchmusic import audio

    out = []
    for i, row in enumerate(rows):
        offset = max(0.0, (float(row["seconds"]) - excerpt_s) / 2)
        y, _ = audio.load(row["path"], sr=sr, mono=True, offset=offset, duration=excerpt_s)
        out.append(compute(y))
        print(f"  {i + 1}/{len(rows)} {Path(row['path']).name}", file=sys.stderr, flush=True)
    return np.stack(out)


def fit_reference(
    *, script: str, target: Path, sr: int, compute: Callable[[Any], np.ndarray], fit: Callable
) -> None:
    """The command line shared by the reference-statistics scripts: read the manifest's
    split, compute one row per track with ``compute``, fit with ``fit(raw, fitted_on=,
    provenance=)`` and print (or ``--write`` to ``target``) the statistics."""
    parser = argparse.ArgumentParser(description=f"Fit {target.name}")
    parser.add_argument("--manifest", default="/tmp/soundtracks/manifest.csv")
    parser.add_argument("--split", default="train")
    parser.add_argument("--excerpt", type=float, default=EXCERPT_S, help="seconds per track")
    parser.add_argument("--write", action="store_true", help=f"write {target.name}")
    args = parser.parse_args()

    import torch

    import torchmusic

    torch.set_num_threads(1)
    rows = read_split(Path(args.manifest), args.split)
    t0 = time.perf_counter()
    raw = excerpt_rows(rows, excerpt_s=args.excerpt, sr=sr, compute=compute)
    packages = sorted({row["package"] for row in rows})
    stats = fit(
        raw,
        fitted_on=(
            f"Debian game soundtracks ({', '.join(packages)}), {args.split} split: "
            f"{len(rows)} tracks, {args.excerpt:g} s from the middle of each"
        ),
        provenance={
            "corpus": "torchmusic datasets build soundtracks (Debian packages, no audio copied)",
            "packages": packages,
            "split": args.split,
            "excerpt": f"{args.excerpt:g} s from the middle of each track (whole track if shorter)",
            "tracks": [f"{row['package']}: {Path(row['path']).name}" for row in rows],
            "command": (
                "torchmusic datasets build soundtracks --out /tmp/soundtracks && "
                f"python benchmarks/{script} --manifest /tmp/soundtracks/manifest.csv --write"
            ),
            "torchmusic": torchmusic.__version__,
        },
    )
    seconds = time.perf_counter() - t0
    print(f"{len(rows)} tracks in {seconds:.0f} s; first means {np.round(stats.mean[:4], 3)}")
    if args.write:
        target.write_text(json.dumps(stats.to_dict(), indent=1) + "\n", encoding="utf-8")
        print(f"written: {target}")


def main() -> None:
    from torchmusic.embed.mfcc import fit_mfcc_standardisation, raw_mfcc_statistics
    from torchmusic.features import FeatureConfig

    feature = FeatureConfig(kind="mfcc", n_mfcc=20, sr=22050)
    fit_reference(
        script="mfcc_reference_stats.py",
        target=TARGET,
        sr=feature.sr,
        compute=lambda y: raw_mfcc_statistics(y, feature=feature, delta_width=9),
        fit=fit_mfcc_standardisation,
    )


if __name__ == "__main__":
    main()
