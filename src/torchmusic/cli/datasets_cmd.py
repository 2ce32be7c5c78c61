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


def build_soundtracks(args: argparse.Namespace) -> int:
    """Manifest and LICENSES.md of the Debian soundtrack packages (no audio is copied)."""
    from torchmusic.data import soundtracks as st

    tracks = st.soundtrack_tracks(args.root, packages=args.packages)
    splits = st.split_tracks(tracks, valid=args.valid, test=args.test, seed=args.seed)
    seconds = st.track_seconds(tracks)
    manifest = st.write_vocoder_manifest(f"{args.out}/manifest.csv", splits, seconds=seconds)
    licences = st.write_licences(f"{args.out}/LICENSES.md", tracks)
    for name, items in splits.items():
        total = sum(seconds[str(t.path)] for t in items)
        print(f"{name}: {len(items)} tracks, {total / 60:.1f} min")
    print(f"written: {manifest} and {licences}")
    return 0
