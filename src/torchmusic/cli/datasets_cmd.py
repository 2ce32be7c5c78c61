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


def build_renders(args: argparse.Namespace) -> int:
    """music21's corpus rendered on seeded GM instruments (docs/embeddings.md)."""
    import csv

    from torchmusic.data.renders import build_renders as build

    manifest = build(
        args.out,
        count=args.count,
        seconds=args.seconds,
        seed=args.seed,
        collections=args.collections,
        soundfonts=args.soundfont,
        workers=args.workers,
        progress=not args.no_progress,
    )
    with open(manifest, newline="") as fh:
        rows = list(csv.DictReader(fh))
    hours = sum(float(r["duration_s"]) for r in rows) / 3600
    skipped = (manifest.parent / "skipped.txt").read_text().splitlines()
    print(f"{len(rows)} pieces, {hours:.2f} h: {manifest}")
    if skipped:
        print(f"{len(skipped)} pieces skipped (listed in {manifest.parent / 'skipped.txt'})")
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


def build_drums(args: argparse.Namespace) -> int:
    """The drum-hit manifest and its kit-disjoint fold manifests (docs/drums-dataset.md)."""
    from torchmusic.data import drums as dr
    from torchmusic.errors import ParameterError

    if args.folds < 2:
        raise ParameterError(f"--folds {args.folds}: need at least 2 kit-disjoint folds")
    root = args.kits or dr.DEFAULT_ROOT
    samples = dr.hydrogen_drum_samples(root)
    manifest = dr.write_drums_manifest(f"{args.out}/drums", root=root, samples=samples)
    kits = len({s.kit for s in samples})
    print(f"{len(samples)} samples from {kits} kits: {manifest}")
    for fold in dr.kit_disjoint_splits(samples, n_splits=args.folds, seed=args.seed):
        path = dr.write_split_manifest(manifest, fold, balance_train=True)
        print(f"fold {fold.index}: test kits {', '.join(fold.test_kits)} -> {path}")
    return 0
