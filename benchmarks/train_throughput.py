"""Training throughput (clips/s) of each network through the real training pipeline.

Run: ``python benchmarks/train_throughput.py [--out bench_out] [--epochs 3]``

Each network trains with :func:`torchmusic.training.train_classifier` on the demo
corpus (3 s random crops of 30 s tracks, 128-band log-mel, features cached
before training), so the figure includes data loading, augmentation (gain,
SpecAugment, mixup) and the optimizer step: the ``train_clips_per_s`` metric
(steady state: the first batch of each epoch is left out; median over epochs).
Beside it, the same model's bare training step on a resident batch
(forward + backward + AdamW, no loader) gives the ceiling: ``pipeline / bare``
near 1 means data loading is not the bottleneck.

On a GPU the run is repeated there (mixed precision, the recommended batch
size) while a thread samples GPU utilisation every 0.2 s with
``torch.cuda.utilization()`` (NVML; ``nvidia-smi`` as fallback); the table
reports the mean utilisation and the share of samples >= 90 %.

``--synthetic-corpus N`` trains on N generated 30 s tracks per class (tones in noise,
same layout and labels as the demo corpus) instead of the demo corpus, for machines
without FluidSynth or music21 (the speed does not depend on what the audio is);
``--devices cuda`` measures only the GPU rows.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from _common import DEFAULT_OUT, machine, print_table, write_json

MODELS = ("simple_cnn", "crnn", "shortchunk")
MODEL_CONFIG: dict[str, dict[str, Any]] = {
    "simple_cnn": {"dense_units": 256},
    "crnn": {},
    "shortchunk": {"width": 32},
}
FEATURE: dict[str, Any] = {
    "kind": "logmel",
    "sr": 22050,
    "n_fft": 2048,
    "hop_length": 512,
    "n_mels": 128,
}
CLIP_SECONDS = 3.0
# Recommended batch sizes: 32 on CPU (larger batches gain nothing on a few cores
# and slow convergence on small sets); 256 on a GPU, enough to keep it busy.
BATCH = {"cpu": 32, "gpu": 256}


class UtilisationSampler:
    """Samples GPU utilisation (%) in a background thread until stopped."""

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _read(self) -> float | None:
        import torch

        try:
            return float(torch.cuda.utilization())
        except Exception:  # NVML missing: ask nvidia-smi
            try:
                out = subprocess.run(
                    ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"],
                    capture_output=True,
                    text=True,
                    timeout=5,
                    check=True,
                )
                return float(out.stdout.split()[0])
            except (OSError, subprocess.SubprocessError, ValueError, IndexError):
                return None

    def _run(self) -> None:
        while not self._stop.is_set():
            value = self._read()
            if value is not None:
                self.samples.append(value)
            self._stop.wait(self.interval)

    def __enter__(self) -> UtilisationSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def synthetic_corpus(folder: Path, per_class: int, *, seconds: float = 30.0) -> Path:
    """``per_class`` seeded 30 s tracks for each of 5 classes and a demo-style manifest."""
    import csv

    import numpy as np
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    sr = FEATURE["sr"]
    t = np.arange(int(seconds * sr)) / sr
    rng = np.random.default_rng(0)
    rows = []
    for c in range(5):
        for i in range(per_class):
            f0 = 110.0 * 2 ** (c / 5) * (1 + 0.01 * i)
            y = 0.2 * np.sin(2 * np.pi * f0 * t) * (1 + np.sin(2 * np.pi * (c + 1) * t))
            y += 0.05 * rng.standard_normal(t.size)
            rel = f"class{c}/track{i:03d}.wav"
            (folder / rel).parent.mkdir(exist_ok=True)
            sf.write(folder / rel, y.astype(np.float32), sr, subtype="PCM_16")
            split = "valid" if i % 5 == 1 else "test" if i % 5 == 3 else "train"
            rows.append({"path": rel, "tune_type": f"class{c}", "split": split})
    manifest = folder / "manifest.csv"
    with open(manifest, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["path", "tune_type", "split"])
        writer.writeheader()
        writer.writerows(rows)
    return manifest


def bare_step_rate(
    model_name: str, *, n_frames: int, n_classes: int, batch: int, device: str, steps: int
) -> float:
    """Clips/s of forward + backward + AdamW on one resident batch (no data loading)."""
    import torch

    from torchmusic.models import build_classifier

    model = build_classifier(
        model_name,
        n_mels=FEATURE["n_mels"],
        n_frames=n_frames,
        n_classes=n_classes,
        **MODEL_CONFIG[model_name],
    ).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randn(batch, FEATURE["n_mels"], n_frames, device=device)
    y = torch.randint(0, n_classes, (batch,), device=device)
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if device == "cuda" else None

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        if amp is not None:
            with amp:
                loss = torch.nn.functional.cross_entropy(model(x).float(), y)
        else:
            loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    return batch * steps / (time.perf_counter() - t0)


def pipeline_rate(
    manifest: Path,
    model_name: str,
    run_dir: Path,
    *,
    device: str,
    batch: int,
    epochs: int,
    cache_dir: Path,
) -> dict[str, Any]:
    """Clips/s of :func:`train_classifier` (and GPU utilisation when on a GPU)."""
    from torchmusic.training import TrainConfig, train_classifier

    shutil.rmtree(run_dir, ignore_errors=True)
    cfg = TrainConfig(
        data=str(manifest),
        model=model_name,
        model_config=dict(MODEL_CONFIG[model_name]),
        label_column="tune_type",
        split_column="split",
        feature=dict(FEATURE),
        clip_seconds=CLIP_SECONDS,
        clips_per_track=4 if device == "cpu" else 64,
        batch_size=batch,
        max_epochs=epochs,
        patience=0,
        test_after_fit=False,
        augment={"gain_db": 6.0, "time_mask": 0.1, "freq_mask": 0.1, "mixup": 0.2},
        accelerator="gpu" if device == "cuda" else "cpu",
        devices=1,
        cache_dir=str(cache_dir),
        out_dir=str(run_dir),
        seed=0,
    )
    util: list[float] = []
    if device == "cuda":
        with UtilisationSampler() as sampler:
            result = train_classifier(cfg, progress=False)
        util = sampler.samples
    else:
        result = train_classifier(cfg, progress=False)
    out: dict[str, Any] = {"clips_per_s": result.metrics.get("train_clips_per_s")}
    if util:
        # Validation and start-up are sampled too: report busy share over samples
        # where the GPU was doing anything, and over all samples.
        out["gpu_util_mean"] = round(statistics.fmean(util), 1)
        out["gpu_util_ge90_share"] = round(sum(u >= 90 for u in util) / len(util), 3)
        out["gpu_util_samples"] = len(util)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument(
        "--per-class",
        type=int,
        default=50,
        help="demo corpus size (tracks per tune type; the corpus of classify_demo.py)",
    )
    parser.add_argument(
        "--corpus",
        type=Path,
        default=None,
        help="an existing demo corpus manifest (default: build one)",
    )
    parser.add_argument(
        "--synthetic-corpus",
        type=int,
        default=None,
        metavar="N",
        help="train on N generated tracks per class instead of the demo corpus",
    )
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument(
        "--devices",
        default=None,
        help="comma list of cpu,cuda (default: cpu, plus cuda when available)",
    )
    parser.add_argument("--bare-steps", type=int, default=10)
    args = parser.parse_args(argv)

    import torch

    from torchmusic.features import FeatureConfig
    from torchmusic.models import clip_frames

    devices = (
        args.devices.split(",")
        if args.devices
        else ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    )
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    if args.corpus:
        manifest = args.corpus
    elif args.synthetic_corpus:
        manifest = synthetic_corpus(args.out / "synthetic_corpus", args.synthetic_corpus)
    else:
        from torchmusic.data.demo import build_demo_corpus

        manifest = build_demo_corpus(
            args.out / "demo_corpus", per_class=args.per_class, progress=False
        )
    n_frames = clip_frames(CLIP_SECONDS, FeatureConfig(**FEATURE))
    rows, results = [], []
    for device in devices:
        batch = BATCH["gpu" if device == "cuda" else "cpu"]
        for model in models:
            pipe = pipeline_rate(
                manifest,
                model,
                args.out / "throughput_runs" / f"{device}-{model}",
                device=device,
                batch=batch,
                epochs=args.epochs,
                cache_dir=args.out / "cache",
            )
            bare = bare_step_rate(
                model,
                n_frames=n_frames,
                n_classes=5,
                batch=batch,
                device=device,
                steps=args.bare_steps,
            )
            rate = pipe["clips_per_s"]
            entry = {
                "device": device,
                "model": model,
                "batch_size": batch,
                **pipe,
                "bare_clips_per_s": round(bare, 1),
                "pipeline_over_bare": round(rate / bare, 3) if rate else None,
            }
            results.append(entry)
            util = (
                f"{pipe['gpu_util_mean']} % (>=90 %: {pipe['gpu_util_ge90_share']:.0%})"
                if "gpu_util_mean" in pipe
                else "-"
            )
            rows.append(
                [device, model, batch, rate, round(bare, 1), entry["pipeline_over_bare"], util]
            )
            print(f"{device} {model}: {rate} clips/s (bare {bare:.1f})", flush=True)
    facts = machine()
    table = print_table(
        f"Training throughput, {CLIP_SECONDS:g} s clips, 128-band log-mel "
        f"({facts['cpu']}, {facts['cpu_count']} CPUs, {facts['cuda'] or 'no GPU'})",
        [
            "device",
            "model",
            "batch",
            "pipeline clips/s",
            "bare step clips/s",
            "pipeline / bare",
            "GPU utilisation",
        ],
        rows,
    )
    write_json(
        args.out / "train_throughput.json",
        {
            "command": "python "
            + " ".join([sys.argv[0], *(argv if argv is not None else sys.argv[1:])]),
            "feature": FEATURE,
            "clip_seconds": CLIP_SECONDS,
            "model_config": MODEL_CONFIG,
            "results": results,
            "table": table,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
