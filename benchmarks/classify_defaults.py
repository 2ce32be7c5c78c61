"""``train classify`` with its defaults (no ``--config``) vs ``--arch mfcc-svm``, same command.

Run::

    # the demo corpus (torchmusic datasets build demo, or classify_demo.py's copy)
    python benchmarks/classify_defaults.py demo --data demo_corpus/manifest.csv \
        [--labels tune_type,instrument_family] [--models default,mfcc-svm]
    # the drums kit-disjoint folds of classify_drums.py (hydrogen-drumkits installed)
    python benchmarks/classify_defaults.py drums [--folds 3] [--only-folds 0]

Each contender is trained by exactly the command a user types, run as a subprocess::

    torchmusic train classify --data MANIFEST --out RUN --split_column split \
        [--label_column LABEL] [--arch mfcc-svm]

("default" adds nothing else), then scored on the manifest's test split at track
level (window probabilities averaged per track, as ``torchmusic evaluate`` does).
The table gives accuracy and macro-F1 per task (mean ± std over the drum folds) and
the wall time of each training command.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import DEFAULT_OUT, REPO, machine, print_table, write_json
from classify_drums import majority_baseline, summarise

TORCHMUSIC = [sys.executable, "-m", "torchmusic"]


def train_command(
    manifest: Path, run: Path, model: str, label: str | None, extra: list[str] = ()
) -> list[str]:
    cmd = ["train", "classify", "--data", str(manifest), "--out", str(run), "--no-progress"]
    cmd += ["--split_column", "split"]
    if label:
        cmd += ["--label_column", label]
    if model != "default":
        cmd += ["--arch", model]
    return cmd + list(extra)


def run_one(
    manifest: Path, run: Path, model: str, label: str | None, extra: list[str] = ()
) -> dict[str, Any]:
    """Train with the command line, then score the test split at track level."""
    from torchmusic.serve.evaluate import evaluate_model

    shutil.rmtree(run, ignore_errors=True)
    cmd = train_command(manifest, run, model, label, extra)
    t0 = time.perf_counter()
    proc = subprocess.run([*TORCHMUSIC, *cmd], capture_output=True, text=True, cwd=REPO)
    train_s = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"torchmusic {' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    report = evaluate_model(
        run / "model.safetensors",
        manifest,
        split="test",
        label_column=label or "label",
        out_dir=run / "eval",
        progress=False,
    )
    metrics = json.loads((run / "metrics.json").read_text())
    return {
        "command": "torchmusic " + " ".join(cmd),
        "accuracy": report.track["accuracy"],
        "macro_f1": report.track["macro_f1"],
        "clip_macro_f1": report.clip["macro_f1"],
        "per_class_f1": {k: v["f1"] for k, v in report.track["per_class"].items()},
        "val_macro_f1": metrics.get("val_macro_f1"),
        "epochs_trained": metrics.get("epochs_trained"),
        "kept_weights": metrics.get("kept_weights"),
        "train_s": round(train_s, 1),
    }


def demo(args: argparse.Namespace) -> dict[str, Any]:
    manifest = Path(args.data).resolve()
    out: dict[str, Any] = {"tables": {}, "results": {}}
    for label in args.labels.split(","):
        per_model: dict[str, list[dict[str, Any]]] = {
            "majority": [majority_baseline(manifest, label)]
        }
        for model in args.models.split(","):
            extra = args.extra.split() if model == "default" else []
            run = Path(args.work) / f"{label}-{model}{args.tag}"
            res = run_one(manifest, run, model, label, extra)
            print(f"{label} {model}: {res}", flush=True)
            per_model[model] = [res]
        out["results"][label] = per_model
        out["tables"][label] = print_table(
            f"demo corpus, {label}: test tracks (track level)",
            ["model", "accuracy", "macro-F1", "macro-F1 per run", "train s"],
            summarise(per_model),
        )
    return out


def drums(args: argparse.Namespace) -> dict[str, Any]:
    from torchmusic.data.drums import (
        DEFAULT_ROOT,
        hydrogen_drum_samples,
        kit_disjoint_splits,
        write_drums_manifest,
        write_split_manifest,
    )

    root = Path(args.kits) if args.kits else DEFAULT_ROOT
    work = Path(args.work)
    samples = hydrogen_drum_samples(root)
    manifest = write_drums_manifest(work / "drums", root=root, samples=samples, seconds=1.0)
    folds = kit_disjoint_splits(samples, n_splits=args.folds, seed=0)
    if args.only_folds:
        keep = {int(i) for i in args.only_folds.split(",")}
        folds = [f for i, f in enumerate(folds) if i in keep]
    per_fold: dict[str, list[dict[str, Any]]] = {"majority": []}
    for fold in folds:
        fold_manifest = write_split_manifest(manifest, fold, balance_train=True)
        per_fold["majority"].append(majority_baseline(fold_manifest, "label"))
        for model in args.models.split(","):
            extra = args.extra.split() if model == "default" else []
            name = f"fold{fold.index}-{model}{args.tag}"
            res = run_one(fold_manifest, work / name, model, None, extra)
            print(f"fold {fold.index} {model}: {res}", flush=True)
            per_fold.setdefault(model, []).append(res)
    table = print_table(
        f"drums, kit-disjoint folds {[f.index for f in folds]}: test kits (track level)",
        ["model", "accuracy", "macro-F1", "macro-F1 per fold", "train s / fold"],
        summarise(per_fold),
    )
    return {"tables": {"drums": table}, "results": {"drums": per_fold}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="task", required=True)
    d = sub.add_parser("demo")
    d.add_argument("--data", required=True, help="the demo corpus's manifest.csv")
    d.add_argument("--labels", default="tune_type,instrument_family")
    r = sub.add_parser("drums")
    r.add_argument("--kits", default=None, help="Hydrogen drumkits folder")
    r.add_argument("--folds", type=int, default=3)
    r.add_argument("--only-folds", default=None)
    for p in (d, r):
        p.add_argument("--models", default="default,mfcc-svm")
        p.add_argument("--work", default=DEFAULT_OUT / "classify_defaults_runs")
        p.add_argument("--json", default=None)
        p.add_argument("--extra", default="", help="more arguments of the 'default' command")
        p.add_argument("--tag", default="", help="suffix of the run folders")
    args = parser.parse_args()
    t0 = time.perf_counter()
    result = demo(args) if args.task == "demo" else drums(args)
    result.update(
        command="python " + " ".join(sys.argv),
        machine=machine(),
        load_average=os.getloadavg(),
        total_s=round(time.perf_counter() - t0, 1),
    )
    write_json(Path(args.json or DEFAULT_OUT / f"classify_defaults_{args.task}.json"), result)
    print(f"{result['total_s']:.0f} s")


if __name__ == "__main__":
    main()
