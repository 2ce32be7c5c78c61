"""Folder jobs: threads (one file at a time) vs worker processes + cross-track batches.

Run: ``python benchmarks/folder_jobs.py [--manifest /tmp/soundtracks/manifest.csv]
[--files 12] [--workers 2] [--out bench_out]`` (``--audio DIR`` takes every audio
file of a folder instead, e.g. ``../shared/data/recordings``: short files, where
batching across tracks matters most).

Rows, all over the same files with the same ``--workers``: the decode + resample
floor (:func:`torchmusic.scale.decode.decode_stream` returning only each length; also a row returning the waveforms); librosa's
load + melspectrogram loop (one process); ``predict`` with the shipped ``drums``
classifier, ``embed`` with ``music-embed`` and ``mfcc``, each the old way (decoding
threads, the model one file at a time) and the scale way (decoding and features in
worker processes, the network batched across tracks); ``features`` (log-mel into a
fresh cache, its own process pool); ``catalog add`` with mfcc both ways. Every figure includes decoding compressed audio. Rows run round-robin,
``--repeats`` times, and the median is reported (the machine may be shared).
"""

from __future__ import annotations

import argparse
import csv
import tempfile
from pathlib import Path

from _common import DEFAULT_OUT, interleaved_medians, machine, print_table, write_json

AUDIO_SUFFIXES = {".ogg", ".wav", ".flac", ".mp3", ".opus"}


def _files(args: argparse.Namespace) -> list[Path]:
    if args.audio:
        found = sorted(p for p in Path(args.audio).rglob("*") if p.suffix in AUDIO_SUFFIXES)
    else:
        with open(args.manifest, newline="") as f:
            rows = list(csv.DictReader(f))
        if args.pick == "shortest":  # the ">= 50 files, >= 1 h" in the least time
            rows.sort(key=lambda row: float(row.get("seconds") or 0.0))
        found = [Path(row["path"]) for row in rows]
    return found[: args.files]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--manifest", default="/tmp/soundtracks/manifest.csv")
    parser.add_argument("--audio", default=None, help="folder of audio files (instead)")
    parser.add_argument("--files", type=int, default=12)
    parser.add_argument(
        "--pick", choices=("first", "shortest"), default="first", help="which manifest rows"
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--out", default=str(DEFAULT_OUT))
    parser.add_argument("--skip", default="", help="row names to skip, separated by ';'")
    parser.add_argument("--repeats", type=int, default=3, help="runs per row (median)")
    args = parser.parse_args()

    import soundfile as sf

    from torchmusic.data.extract import extract_features
    from torchmusic.embed.embedders import get_embedder
    from torchmusic.embed.tracks import embed_tracks
    from torchmusic.features.config import FeatureConfig
    from torchmusic.recommend.catalog import Catalog
    from torchmusic.scale.decode import decode_stream
    from torchmusic.scale.jobs import embed_files, embed_stream, predict_files
    from torchmusic.serve.predict import Predictor, predict_paths

    files = _files(args)
    hours = sum(sf.info(str(p)).duration for p in files) / 3600
    w, b = args.workers, args.batch_size
    skip = {name.strip() for name in args.skip.split(";") if name.strip()}
    drums = Predictor("drums")
    embedders = {name: get_embedder(name) for name in ("music-embed", "mfcc")}

    def librosa_loop() -> None:
        import librosa

        for p in files:
            y, sr = librosa.load(p, sr=22050)
            librosa.feature.melspectrogram(y=y, sr=sr)

    def catalog(stream) -> None:
        with tempfile.TemporaryDirectory() as tmp, Catalog(Path(tmp) / "c") as cat:
            cat.add(files, embedder="mfcc", workers=w, stream=stream)

    jobs = {
        # The floor: decode + resample in the workers and send back only the length
        # (`len` is picklable), so no row is compared with a floor that also pays for
        # moving waveforms between processes.
        "decode floor (processes)": lambda: sum(
            1 for _ in decode_stream(files, sr=22050, workers=w, prepare=len)
        ),
        "decode, waveforms to the parent (processes)": lambda: sum(
            1 for _ in decode_stream(files, sr=22050, workers=w)
        ),
        "decode floor (inline)": lambda: sum(1 for _ in decode_stream(files, sr=22050, workers=0)),
        "librosa load + melspectrogram (1 process)": librosa_loop,
        "predict drums, per file (old)": lambda: predict_paths(files, model=drums, progress=False),
        "predict drums, scale": lambda: predict_files(
            files, model=drums, workers=w, batch_size=b, progress=False
        ),
    }
    for name, emb in embedders.items():
        jobs[f"embed {name}, threads (old)"] = lambda emb=emb: embed_tracks(
            files, emb, workers=w, progress=False
        )
        jobs[f"embed {name}, scale"] = lambda emb=emb: embed_files(
            files, emb, workers=w, batch_size=b, progress=False
        )

    def features() -> None:
        with tempfile.TemporaryDirectory() as tmp:  # a fresh cache: every file computed
            extract_features(files, FeatureConfig(), cache_dir=tmp, workers=w, progress=False)

    jobs["features logmel (process pool)"] = features
    jobs["catalog add mfcc, threads (old)"] = lambda: catalog(None)
    jobs["catalog add mfcc, scale"] = lambda: catalog(embed_stream(workers=w, batch_size=b))

    # Start the fork server once so no row pays for it (a real job pays it once: ~1-2 s).
    # (Two files: a single file is decoded inline and would start nothing.)
    sum(1 for _ in decode_stream(files[:2], sr=22050, workers=w, prepare=len))
    jobs = {name: fn for name, fn in jobs.items() if name not in skip}
    # Round-robin, median of --repeats: load from other processes hits every row alike.
    results = interleaved_medians(jobs, repeats=args.repeats, warmup=0)
    floor = results.get("decode floor (processes)")
    rows = []
    for name, seconds in results.items():
        ratio = f"{seconds / floor:.2f}" if floor else "-"
        rows.append((name, f"{seconds:.1f}", f"{len(files) / seconds:.2f}", ratio))
    title = (
        f"{len(files)} files, {hours:.2f} h of audio, {w} workers, batch {b} windows, "
        f"median of {args.repeats}"
    )
    print_table(title, ("job", "seconds", "files/s", "x decode floor"), rows)
    write_json(
        Path(args.out) / "folder_jobs.json",
        {
            "machine": machine(),
            "files": len(files),
            "hours": hours,
            "workers": w,
            "batch_size": b,
            "seconds": results,
        },
    )


if __name__ == "__main__":
    main()
