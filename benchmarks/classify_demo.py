"""Demo corpus: tune type and instrument family, three networks vs MFCC+SVM.

Run: ``python benchmarks/classify_demo.py [--out bench_out] [--per-class 50] [--seeds 0,1]``

The corpus (:func:`torchmusic.data.demo.build_demo_corpus`: folk tunes rendered
with FluidSynth, 30 s each) is built into ``<out>/demo_corpus`` once and reused.
Its own seeded train/valid/test split is used for both label columns; each
network trains once per seed (a short CPU schedule, random 3 s crops) and is
scored on the test tracks by sliding 3 s windows whose probabilities are averaged
per track (track level) as well as per window (clip level). The table gives the
mean and standard deviation over the seeds (the MFCC+SVM baseline is
deterministic: one run).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from _common import DEFAULT_OUT, print_table, write_json
from classify_drums import majority_baseline, summarise, train_and_evaluate

LABELS = ("tune_type", "instrument_family")
MODELS = ("simple_cnn", "crnn", "shortchunk", "mfcc-svm")
FEATURE: dict[str, Any] = {
    "kind": "logmel",
    "sr": 22050,
    "n_fft": 2048,
    "hop_length": 512,
    "n_mels": 96,
}
NETWORK_BASE: dict[str, Any] = {
    "batch_size": 32,
    "lr": 2e-3,
    "weight_decay": 1e-2,
    "scheduler": "cosine",
    "patience": 0,
    "clips_per_track": 3,  # three random 3 s crops of each 30 s track per epoch
    "augment": {"gain_db": 6.0, "time_mask": 0.1, "freq_mask": 0.1, "n_masks": 1, "mixup": 0.0},
}
RECIPES: dict[str, dict[str, Any]] = {
    # Its large dense layer (no batch norm) dies at lr 2e-3 (see classify_drums.py).
    "simple_cnn": {"model_config": {"dense_units": 256}, "lr": 5e-4},
    "crnn": {"model_config": {"rnn": "gru", "rnn_hidden": 64, "rnn_layers": 1}},
    "shortchunk": {"model_config": {"width": 32}},
    "mfcc-svm": {"model_config": {"classifier": "svm", "C": [1.0, 10.0]}},
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--per-class", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--clip-seconds", type=float, default=3.0)
    parser.add_argument("--seeds", default="0,1", help="training seeds of the networks")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--labels", default=",".join(LABELS))
    args = parser.parse_args(argv)

    from torchmusic.data.demo import build_demo_corpus

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    labels = [c.strip() for c in args.labels.split(",") if c.strip()]
    seeds = [int(s) for s in args.seeds.split(",")]
    t0 = time.perf_counter()
    manifest = build_demo_corpus(args.out / "demo_corpus", per_class=args.per_class, progress=False)
    print(f"corpus ready in {time.perf_counter() - t0:.0f} s: {manifest}", flush=True)
    results: dict[str, dict[str, list[dict[str, Any]]]] = {}
    tables = {}
    t_start = time.perf_counter()
    for column in labels:
        per_model: dict[str, list[dict[str, Any]]] = {
            "majority": [majority_baseline(manifest, column)]
        }
        for model in models:
            per_model[model] = []
            for seed in seeds if model != "mfcc-svm" else seeds[:1]:
                settings: dict[str, Any] = dict(NETWORK_BASE) if model != "mfcc-svm" else {}
                settings.update(
                    RECIPES[model],
                    label_column=column,
                    feature=FEATURE,
                    clip_seconds=args.clip_seconds,
                    max_epochs=args.epochs,
                    seed=seed,
                    cache_dir=str(args.out / "cache"),
                )
                run_dir = args.out / "demo_runs" / f"{column}-{model}-seed{seed}"
                res = train_and_evaluate(manifest, model, run_dir, settings=settings)
                per_model[model].append(res)
                print(
                    f"{column:17s} {model:11s} seed {seed}: macro-F1 {res['macro_f1']:.3f} "
                    f"accuracy {res['accuracy']:.3f} ({res['train_s']:.0f} s)",
                    flush=True,
                )
        results[column] = per_model
        tables[column] = print_table(
            f"Demo corpus ({args.per_class} tracks per tune type), label {column!r}, test split, "
            f"track level (mean ± std over seeds {seeds})",
            ["model", "accuracy", "macro-F1", "macro-F1 per seed", "train s / run"],
            summarise(per_model),
        )
    write_json(
        args.out / "classify_demo.json",
        {
            "command": "python "
            + " ".join([sys.argv[0], *(argv if argv is not None else sys.argv[1:])]),
            "manifest": str(manifest),
            "feature": FEATURE,
            "network_base": NETWORK_BASE,
            "recipes": {m: RECIPES[m] for m in models},
            "epochs": args.epochs,
            "clip_seconds": args.clip_seconds,
            "seeds": seeds,
            "results": results,
            "tables": tables,
            "total_s": round(time.perf_counter() - t_start, 1),
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
