"""Fit the rhythm standardisation shipped with the ``rhythm`` part of ``music-embed``.

Run::

    torchmusic datasets build soundtracks --out /tmp/soundtracks
    nice -n 15 python benchmarks/rhythm_reference_stats.py --manifest /tmp/soundtracks/manifest.csv --write

The same tracks and excerpts as ``mfcc_reference_stats.py``: every track of the
manifest's ``train`` split (Debian's game soundtracks; ``valid`` and ``test`` are left
out so they can measure retrieval), 60 s from the middle of each (the whole track when
shorter), 22,050 Hz mono; its raw rhythm profile
(:func:`torchmusic.embed.rhythm.raw_rhythm_profile`); their per-dimension mean and
standard deviation (floored at ``MIN_STD``) are written with their provenance to
``src/torchmusic/embed/rhythm_reference_stats.json`` (``--write``; default: print only).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from _common import REPO
from mfcc_reference_stats import EXCERPT_S, read_split

TARGET = REPO / "src" / "torchmusic" / "embed" / "rhythm_reference_stats.json"


def excerpt_profiles(rows: list[dict[str, str]], *, excerpt_s: float) -> np.ndarray:
    """Raw profiles ``(n, N_BINS)`` of the middle ``excerpt_s`` seconds of every track."""
    from torchmusic import audio
    from torchmusic.embed.rhythm import SR, raw_rhythm_profile

    out = []
    for i, row in enumerate(rows):
        offset = max(0.0, (float(row["seconds"]) - excerpt_s) / 2)
        y, _ = audio.load(row["path"], sr=SR, mono=True, offset=offset, duration=excerpt_s)
        out.append(raw_rhythm_profile(y))
        print(f"  {i + 1}/{len(rows)} {Path(row['path']).name}", file=sys.stderr, flush=True)
    return np.stack(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--manifest", default="/tmp/soundtracks/manifest.csv")
    parser.add_argument("--split", default="train")
    parser.add_argument("--excerpt", type=float, default=EXCERPT_S, help="seconds per track")
    parser.add_argument("--write", action="store_true", help=f"write {TARGET.name}")
    args = parser.parse_args()

    import torch

    import torchmusic
    from torchmusic.embed.rhythm import fit_rhythm_standardisation

    torch.set_num_threads(1)
    rows = read_split(Path(args.manifest), args.split)
    t0 = time.perf_counter()
    raw = excerpt_profiles(rows, excerpt_s=args.excerpt)
    packages = sorted({row["package"] for row in rows})
    stats = fit_rhythm_standardisation(
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
                "python benchmarks/rhythm_reference_stats.py "
                "--manifest /tmp/soundtracks/manifest.csv --write"
            ),
            "torchmusic": torchmusic.__version__,
        },
    )
    seconds = time.perf_counter() - t0
    print(f"{len(rows)} tracks in {seconds:.0f} s; means {np.round(stats.mean[:6], 3)}")
    if args.write:
        TARGET.write_text(json.dumps(stats.to_dict(), indent=1) + "\n", encoding="utf-8")
        print(f"written: {TARGET}")


if __name__ == "__main__":
    main()
