"""Audio similarity: precision@10 of retrieving other clips of the same recording.

Run: ``python benchmarks/audio_similarity.py [--epochs 80] [--threads 1] [--out bench_out]
[--no-training]`` (``--no-training``: only the embedders that need no training, ~1 min)

Test pool: every recording of at least 33 s from ``../shared/data/recordings``
(real music, a humpback whale, ...) and every other Wesnoth music track (Debian
package ``wesnoth-1.16-music``, sorted by name) is cut into 11 clips of 3 s,
evenly spaced. Each clip queries all the others (cosine similarity of track
embeddings); a hit is a clip of the same recording, so P@10 = 1 means all ten
neighbours come from the query's recording (random ranking: ~10/(N-1)).

Contenders:

- ``mfcc v1 (mean)``: mean MFCCs of the clip (c0 left out), no training (the
  legacy ``mfcc`` embedder, :class:`~torchmusic.embed.MFCCMeanEmbedder`);
- ``mfcc v1 with c0``: the same with the loudness coefficient kept (ablation);
- ``mfcc v2 (standardised statistics)``: the ``mfcc`` embedder: means and stds of
  the MFCCs and stds of their deltas, standardised with the shipped statistics;
- ``autoencoder`` and ``contrastive``: trained with :func:`train_embedder` on the
  *other* Wesnoth tracks (disjoint from the test pool), 1.5 s crops of 64-band
  log-mel; a 3 s clip is two windows, pooled;
- ``classifier:drums``: penultimate layer of the shipped drum-hit classifier
  (an embedding taken from a classification model file, trained on other data).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from _common import DEFAULT_OUT, SHARED_DATA, print_table, write_json

WESNOTH = Path("/usr/share/games/wesnoth/1.16/data/core/music")
SR = 22050
CLIP_S = 3.0
CLIPS_PER_RECORDING = 11
MIN_SECONDS = CLIP_S * CLIPS_PER_RECORDING


def split_files() -> tuple[list[Path], list[Path]]:
    """``(test recordings, training tracks)``: disjoint, deterministic."""
    import soundfile as sf

    shared = sorted((SHARED_DATA / "recordings").glob("*.ogg"))
    wesnoth = sorted(WESNOTH.glob("*.ogg"))
    long_enough = [p for p in wesnoth if sf.info(p).duration >= MIN_SECONDS]
    test_w = long_enough[::2]
    train = [p for p in wesnoth if p not in test_w]
    test = [p for p in shared if sf.info(p).duration >= MIN_SECONDS] + test_w
    return test, train


def cut_clips(paths: list[Path]) -> tuple[list[Any], np.ndarray, list[str]]:
    """11 evenly spaced 3 s clips per recording (mono, 22050 Hz) and their recording index."""
    from torchmusic import audio

    clips, owner, source = [], [], []
    n = round(CLIP_S * SR)
    for i, path in enumerate(paths):
        y, _ = audio.load(path, sr=SR, mono=True)
        for start in np.linspace(0, y.shape[-1] - n, CLIPS_PER_RECORDING).astype(int):
            clips.append(y[start : start + n].clone())
            owner.append(i)
            source.append("wesnoth" if WESNOTH in path.parents else "shared")
    return clips, np.array(owner), source


def precision_at_10(vectors: np.ndarray, owner: np.ndarray) -> np.ndarray:
    """Per-query P@10 (the query itself excluded)."""
    v = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    sims = v @ v.T
    np.fill_diagonal(sims, -np.inf)
    top = np.argsort(-sims, axis=1)[:, :10]
    return (owner[top] == owner[:, None]).mean(axis=1)


def train(kind: str, files: list[Path], out: Path, *, epochs: int, seed: int) -> tuple[Path, float]:
    from torchmusic.training.embed import EmbedTrainConfig, train_embedder

    run = out / f"run-{kind}-s{seed}"
    model_file = run / "model.safetensors"
    if model_file.is_file():
        return model_file, float("nan")
    cfg = EmbedTrainConfig(
        data=[str(p) for p in files],
        model=kind,
        feature={"kind": "logmel", "n_mels": 64},
        clip_seconds=1.5,
        clips_per_track=16,
        batch_size=32,
        max_epochs=epochs,
        val_fraction=0.2,
        seed=seed,
        out_dir=str(run),
        cache_dir=str(out / "cache"),
        extract_workers=1,
        accelerator="cpu",
        devices=1,
    )
    t0 = time.perf_counter()
    result = train_embedder(cfg, progress=False)
    return result.model_file, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=80)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=str(DEFAULT_OUT))
    parser.add_argument(
        "--no-training", action="store_true", help="skip the autoencoder and contrastive rows"
    )
    args = parser.parse_args()

    import torch

    from torchmusic.embed import MFCCEmbedder, MFCCMeanEmbedder, get_embedder

    torch.set_num_threads(args.threads)
    out = Path(args.out) / "audio_similarity"
    out.mkdir(parents=True, exist_ok=True)
    test, train_files = split_files()
    print(f"test recordings: {len(test)}, training tracks: {len(train_files)}", flush=True)
    clips, owner, source = cut_clips(test)
    source = np.array(source)

    contenders: dict[str, Any] = {
        "mfcc v1 (mean)": MFCCMeanEmbedder(),
        "mfcc v1 with c0": MFCCMeanEmbedder(drop_c0=False),
        "mfcc v2 (standardised statistics)": MFCCEmbedder(),
        "classifier:drums": get_embedder("drums"),
    }
    train_seconds: dict[str, float] = {}
    for seed in [] if args.no_training else args.seeds:
        for kind in ("autoencoder", "contrastive"):
            model_file, seconds = train(kind, train_files, out, epochs=args.epochs, seed=seed)
            name = kind if len(args.seeds) == 1 else f"{kind} (seed {seed})"
            contenders[name] = get_embedder(model_file)
            train_seconds[name] = seconds
            print(f"trained {name} in {seconds:.0f} s", flush=True)

    rows, results = [], {}
    for name, embedder in contenders.items():
        t0 = time.perf_counter()
        vectors = np.stack([embedder.embed_waveform(c) for c in clips])
        seconds = time.perf_counter() - t0
        p = precision_at_10(vectors, owner)
        results[name] = {
            "p_at_10": float(p.mean()),
            "p_at_10_shared": float(p[source == "shared"].mean()),
            "p_at_10_wesnoth": float(p[source == "wesnoth"].mean()),
            "dim": embedder.dim,
            "embed_seconds": seconds,
            "train_seconds": train_seconds.get(name),
        }
        rows.append(
            [name, embedder.dim, results[name]["p_at_10"], results[name]["p_at_10_shared"],
             results[name]["p_at_10_wesnoth"], train_seconds.get(name, "-")]
        )  # fmt: skip
    chance = (CLIPS_PER_RECORDING - 1) / (len(clips) - 1)
    rows.append(["random", "-", chance, chance, chance, "-"])
    print_table(
        f"P@10, {len(clips)} clips of {len(test)} recordings "
        f"({int((source == 'shared').sum() / CLIPS_PER_RECORDING)} shared, "
        f"{int((source == 'wesnoth').sum() / CLIPS_PER_RECORDING)} Wesnoth)",
        ["embedder", "dim", "P@10", "P@10 shared", "P@10 Wesnoth", "train s"],
        rows,
    )
    write_json(
        out.parent / "audio_similarity.json",
        {
            "args": vars(args),
            "test": [str(p) for p in test],
            "train": [str(p) for p in train_files],
            "results": results,
        },
    )


if __name__ == "__main__":
    main()
