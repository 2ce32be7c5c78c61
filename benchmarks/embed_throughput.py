"""Embedding throughput: tracks per second from audio files to track embeddings.

Run: ``python benchmarks/embed_throughput.py [--tracks 12] [--threads 1] [--workers 2]
[--out bench_out] [--audio DIR] [--devices cpu,cuda]``

Tracks are Wesnoth music files (Debian ``wesnoth-1.16-music``: Ogg Vorbis,
44.1 kHz stereo, 1.5-9 min), so every figure includes decoding, resampling to
22,050 Hz mono and features of the whole track. Each embedder runs
:func:`torchmusic.embed.embed_tracks` over the same files (decoding in
``--workers`` threads, the model in the main thread with ``--threads`` torch
threads); ``decode only`` is the loading alone, in one thread. The
networks are untrained (speed does not depend on the weights) at their default
sizes: 3 s windows of 64-band log-mel. On a CUDA machine the networks are also
run with ``device="cuda"``. ``--audio DIR`` takes the tracks from another folder
(e.g. ``../shared/data/recordings`` where Wesnoth's music is not installed) and
``--devices cuda`` measures only the GPU rows (and the decoding).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import DEFAULT_OUT, print_table, write_json

WESNOTH = Path("/usr/share/games/wesnoth/1.16/data/core/music")
AUDIO_SUFFIXES = {".ogg", ".wav", ".flac", ".mp3", ".opus"}


def make_model_files(folder: Path) -> dict[str, Path]:
    import torch

    from torchmusic.features import FeatureConfig
    from torchmusic.models import clip_frames
    from torchmusic.models.embed import EmbeddingModelSpec, build_embedder, save_embedding_model

    feature = FeatureConfig(n_mels=64)
    out = {}
    for arch in ("autoencoder", "contrastive"):
        torch.manual_seed(0)
        model = build_embedder(arch, n_mels=64, n_frames=clip_frames(3.0, feature))
        spec = EmbeddingModelSpec(arch, {}, feature.to_dict(), 3.0)
        out[arch] = save_embedding_model(folder / f"{arch}.safetensors", model, spec)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tracks", type=int, default=12)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default=str(DEFAULT_OUT))
    parser.add_argument("--audio", default=None, help=f"folder of tracks (default: {WESNOTH})")
    parser.add_argument(
        "--devices", default=None, help="comma list of cpu,cuda (default: cpu, plus cuda if any)"
    )
    args = parser.parse_args()

    import soundfile as sf
    import torch

    from torchmusic import audio
    from torchmusic.embed import embed_tracks, get_embedder

    torch.set_num_threads(args.threads)
    if args.audio is None:
        files = sorted(WESNOTH.glob("*.ogg"))[: args.tracks]
    else:
        folder = Path(args.audio)
        files = sorted(p for p in folder.glob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
        files = files[: args.tracks]
    if not files:
        raise SystemExit(
            f"no audio in {args.audio or WESNOTH}: apt-get install wesnoth-1.16-music "
            "or pass --audio DIR"
        )
    minutes = sum(sf.info(f).duration for f in files) / 60
    tmp = Path(tempfile.mkdtemp(prefix="embed_throughput_"))
    models = make_model_files(tmp)
    devices = (
        args.devices.split(",")
        if args.devices
        else ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    )
    contenders: list[tuple[str, str, Any]] = [("mfcc", "cpu", "mfcc")] if "cpu" in devices else []
    for device in devices:
        contenders += [(name, device, path) for name, path in models.items()]
        contenders.append(("classifier:drums", device, "drums"))

    rows, results = [], []
    t0 = time.perf_counter()
    for f in files:
        audio.load(f, sr=22050, mono=True)
    decode = time.perf_counter() - t0
    rows.append(["decode only", "cpu", "-", len(files) / decode, minutes * 60 / decode])
    results.append({"embedder": "decode only", "seconds": decode})
    for name, device, model in contenders:
        embedder = get_embedder(model, device=device)
        embed_tracks(files[:1], embedder, progress=False, workers=0)  # warm-up
        t0 = time.perf_counter()
        emb, failed = embed_tracks(files, embedder, progress=False, workers=args.workers)
        seconds = time.perf_counter() - t0
        assert not failed and len(emb) == len(files)
        rows.append([name, device, embedder.dim, len(files) / seconds, minutes * 60 / seconds])
        results.append({"embedder": name, "device": device, "seconds": seconds})
        print(f"{name} on {device}: {seconds:.1f} s", flush=True)

    print_table(
        f"Embedding throughput, {len(files)} tracks ({minutes:.0f} min of audio), "
        f"{args.threads} torch thread(s), {args.workers} decoding thread(s)",
        ["embedder", "device", "dim", "tracks/s", "audio s per s"],
        rows,
    )
    write_json(
        f"{args.out}/embed_throughput.json",
        {"args": vars(args), "tracks": [str(f) for f in files], "minutes": minutes,
         "results": results},
    )  # fmt: skip


if __name__ == "__main__":
    main()
