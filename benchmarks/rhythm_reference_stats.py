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

from _common import REPO
from mfcc_reference_stats import fit_reference

TARGET = REPO / "src" / "torchmusic" / "embed" / "rhythm_reference_stats.json"


def main() -> None:
    from torchmusic.embed.rhythm import SR, fit_rhythm_standardisation, raw_rhythm_profile

    fit_reference(
        script="rhythm_reference_stats.py",
        target=TARGET,
        sr=SR,
        compute=raw_rhythm_profile,
        fit=fit_rhythm_standardisation,
    )


if __name__ == "__main__":
    main()
