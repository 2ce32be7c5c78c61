"""Drum-hit classification on Debian's Hydrogen kits, kit-disjoint: three networks vs MFCC+SVM.

Run: ``python benchmarks/classify_drums.py [--out bench_out] [--folds 3] [--epochs 20]
[--ship shortchunk]``

The samples of ``hydrogen-drumkits`` are mapped to eight classes
(:mod:`torchmusic.data.drums`, mapping in ``docs/drums-dataset.md``); the first
second of each is one example. Kits are dealt to ``--folds`` test folds
(:func:`~torchmusic.data.drums.kit_disjoint_splits`): in each fold the test kits
are unseen in training and validation, and one more kit (the one covering the
most classes) is held out for validation (monitored only: the final weights are
kept). Training rows are oversampled to balanced classes. Every model trains
through :func:`torchmusic.training.train_classifier` with the recipe in
:data:`RECIPES` and is scored on the test kits with
:func:`torchmusic.serve.evaluate.evaluate_model`. The table gives accuracy and
macro-F1, mean and standard deviation over the folds; the JSON also holds every
fold's figures and per-class F1. ``--ship MODEL`` then trains MODEL's recipe on
all kits (one validation kit held out) and writes the shipped model file and its
licence note.
"""

from __future__ import annotations

import argparse
import copy
import shutil
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from _common import DEFAULT_OUT, print_table, write_json

# Log-mel of 1 s clips: hop 256 keeps 87 frames of a short hit's attack and decay;
# 96 mel bands up to Nyquist separate hi-hats from rides and crashes.
FEATURE: dict[str, Any] = {
    "kind": "logmel",
    "sr": 22050,
    "n_fft": 1024,
    "hop_length": 256,
    "n_mels": 96,
}

# Shared by the networks. Kits differ mostly in recording level, room, EQ and
# tuning, so each network normalises every clip to its own peak (model_config
# example_norm="max": level-invariant, see EXAMPLE_NORM), and the augmentation
# targets colour (random smooth EQ up to +-10 dB), tuning (spectra shifted by up
# to 3% of the mel bins, 3 of 96), level (gain +-20 dB, which only matters to
# the masks' fill level once clips are peak-normalised) and detail (SpecAugment
# masks); mixup regularises the few hundred examples.
EXAMPLE_NORM = "max"
NETWORK_BASE: dict[str, Any] = {
    "batch_size": 32,
    "lr": 2e-3,
    "weight_decay": 1e-2,
    "scheduler": "cosine",
    # A fixed schedule, keeping the final weights ("step" only grows): one held-out
    # kit of ~15 samples is far too noisy to stop on or to pick an epoch by.
    "patience": 0,
    "monitor": "step",
    "augment": {
        "gain_db": 20.0,
        "eq_db": 10.0,
        "freq_shift": 0.03,
        "time_mask": 0.12,
        "freq_mask": 0.12,
        "n_masks": 1,
        "mixup": 0.4,
    },
}

# model -> TrainConfig settings (on top of NETWORK_BASE for the networks).
RECIPES: dict[str, dict[str, Any]] = {
    # Its 8 M-weight dense layer (no batch norm) dies at lr 2e-3: every ReLU off
    # after the first steps, the loss stuck at ln(8).
    "simple_cnn": {
        "model_config": {"dense_units": 256, "dropout": 0.5, "example_norm": EXAMPLE_NORM},
        "lr": 5e-4,
    },
    "crnn": {
        "model_config": {
            "rnn": "gru",
            "rnn_hidden": 64,
            "rnn_layers": 1,
            "example_norm": EXAMPLE_NORM,
        }
    },
    "shortchunk": {"model_config": {"width": 32, "example_norm": EXAMPLE_NORM}},
    # C picked on the validation kit from the grid.
    "mfcc-svm": {"model_config": {"classifier": "svm", "C": [1.0, 3.0, 10.0]}},
}
MODELS = ("simple_cnn", "crnn", "shortchunk", "mfcc-svm")
SHIPPED = (
    Path(__file__).resolve().parents[1] / "src" / "torchmusic" / "pretrained" / "drums.safetensors"
)


def train_and_evaluate(
    manifest: Path, model: str, run_dir: Path, *, settings: dict[str, Any]
) -> dict[str, Any]:
    """Train ``model`` on the manifest's train/valid splits, score its test split.

    ``settings`` are further :class:`~torchmusic.training.TrainConfig` fields
    (label column, features, clip length, recipe). Returns the test figures at
    track and clip level (accuracy, macro-F1, per-class F1), the validation
    macro-F1 of the kept checkpoint and the training wall time.
    """
    from torchmusic.serve.evaluate import evaluate_model
    from torchmusic.training import TrainConfig, train_classifier

    # Benchmarks are re-run: a stale run folder would be refused (or resumed).
    shutil.rmtree(run_dir, ignore_errors=True)
    cfg = TrainConfig(
        data=str(manifest),
        model=model,
        split_column="split",
        out_dir=str(run_dir),
        test_after_fit=False,
        accelerator="cpu",
        **copy.deepcopy(settings),
    )
    t0 = time.perf_counter()
    result = train_classifier(cfg, progress=False)
    train_s = time.perf_counter() - t0
    report = evaluate_model(
        result.model_file,
        manifest,
        split="test",
        label_column=cfg.label_column,
        out_dir=run_dir / "eval",
        progress=False,
    )
    return {
        "accuracy": report.track["accuracy"],
        "macro_f1": report.track["macro_f1"],
        "clip_accuracy": report.clip["accuracy"],
        "clip_macro_f1": report.clip["macro_f1"],
        "per_class_f1": {k: v["f1"] for k, v in report.track["per_class"].items()},
        "val_macro_f1": result.metrics.get("val_macro_f1"),
        "train_s": round(train_s, 1),
        "model_bytes": result.model_file.stat().st_size,
        "model_file": str(result.model_file),
    }


def recipe_settings(model: str, *, epochs: int) -> dict[str, Any]:
    """TrainConfig fields of ``model``'s drum recipe (:data:`NETWORK_BASE` + :data:`RECIPES`)."""
    settings = copy.deepcopy(NETWORK_BASE) if model != "mfcc-svm" else {}
    settings.update(copy.deepcopy(RECIPES[model]), max_epochs=epochs, seed=0)
    return settings


def majority_baseline(manifest: Path, label_column: str) -> dict[str, float]:
    """Figures of always answering the training split's most frequent class."""
    import csv

    from sklearn.metrics import accuracy_score, f1_score

    with open(manifest, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    # Unique files: balanced manifests repeat training rows of the rare classes.
    train = Counter({r["path"]: r[label_column] for r in rows if r["split"] == "train"}.values())
    guess = min(train, key=lambda lab: (-train[lab], lab))
    truth = [r[label_column] for r in rows if r["split"] == "test"]
    pred = [guess] * len(truth)
    return {
        "accuracy": float(accuracy_score(truth, pred)),
        "macro_f1": float(f1_score(truth, pred, average="macro", zero_division=0)),
    }


def summarise(per_fold: dict[str, list[dict[str, Any]]]) -> list[list[Any]]:
    """Table rows: model, accuracy mean ± std, macro-F1 mean ± std, per-fold macro-F1."""

    def pm(values: list[float]) -> str:
        sd = statistics.pstdev(values) if len(values) > 1 else 0.0
        return f"{statistics.fmean(values):.3f} ± {sd:.3f}"

    rows = []
    for model, folds in per_fold.items():
        acc = [f["accuracy"] for f in folds]
        f1 = [f["macro_f1"] for f in folds]
        secs = [f.get("train_s", 0.0) for f in folds]
        rows.append(
            [
                model,
                pm(acc),
                pm(f1),
                " / ".join(f"{v:.3f}" for v in f1),
                f"{statistics.fmean(secs):.0f}",
            ]
        )
    return rows


def ship_model(
    model: str,
    *,
    manifest: Path,
    samples: list,
    out: Path,
    epochs: int,
    target: Path,
    cv: dict[str, Any] | None,
) -> Path:
    """Train ``model`` with its drum recipe on all kits but one validation kit; ship it.

    The model file gets the kits it was trained on, their licences and the
    cross-validation figures of its recipe in ``spec.extra``; a licence note is
    written beside it (``LICENSES-drums.md``).
    """
    from torchmusic.data.drums import full_training_split, write_split_manifest
    from torchmusic.models import load_classifier, save_classifier
    from torchmusic.training import TrainConfig, train_classifier

    split = full_training_split(samples)
    data = write_split_manifest(manifest, split, name="drums_all.csv", balance_train=True)
    run_dir = out / "drums_ship" / model
    shutil.rmtree(run_dir, ignore_errors=True)
    settings = recipe_settings(model, epochs=epochs)
    cfg = TrainConfig(
        data=str(data),
        model=model,
        label_column="label",
        split_column="split",
        group_column="kit",
        feature=dict(FEATURE),
        clip_seconds=1.0,
        cache_dir=str(out / "cache"),
        out_dir=str(run_dir),
        accelerator="cpu",
        test_after_fit=False,
        **settings,
    )
    t0 = time.perf_counter()
    result = train_classifier(cfg, progress=False)
    print(f"trained shipped {model} in {time.perf_counter() - t0:.0f} s: {result.metrics}")
    net, spec = load_classifier(result.model_file)
    licences = {s.kit: s.license for s in samples}
    counts = Counter(s.kit for s in samples)
    spec.extra = {
        **spec.extra,
        "dataset": "Debian hydrogen-drumkits, first 1 s of each mapped sample "
        "(torchmusic.data.drums; mapping in docs/drums-dataset.md)",
        "train_kits": {k: {"samples": counts[k], "license": licences[k]} for k in split.train_kits},
        "valid_kits": {k: {"samples": counts[k], "license": licences[k]} for k in split.valid_kits},
        "recipe": {k: v for k, v in settings.items()},
        "kit_cv": cv or {},
        "command": "python benchmarks/classify_drums.py --ship " + model,
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    save_classifier(target, net, spec)
    size = target.stat().st_size
    if size > 10 * 2**20:
        raise SystemExit(f"{target} is {size / 2**20:.1f} MiB, over the 10 MiB budget")
    _write_licences(target.with_name("LICENSES-drums.md"), split, licences, counts, model, cv)
    print(f"wrote {target} ({size / 2**20:.2f} MiB)")
    return target


def _write_licences(
    path: Path,
    split: Any,
    licences: dict[str, str],
    counts: Counter,
    model: str,
    cv: dict[str, Any] | None,
) -> None:
    lines = [
        "# Licences of the data behind `drums.safetensors`",
        "",
        f"`drums.safetensors` is a `{model}` drum-hit classifier (kick, snare, hihat, tom, crash,",
        "ride, clap, other_percussion) trained by `python benchmarks/classify_drums.py --ship "
        f"{model}` on",
        "the first second of the drum samples of Debian's `hydrogen-drumkits` package, mapped to",
        "classes as documented in `docs/drums-dataset.md`. No audio is included in this package;",
        "only the trained weights are. Licences are those stated in Debian's",
        "`/usr/share/doc/hydrogen-drumkits/copyright` for each kit.",
        "",
        "| kit | role | samples | licence |",
        "|---|---|---|---|",
    ]
    for role, kits in (("training", split.train_kits), ("validation", split.valid_kits)):
        for kit in kits:
            lines.append(f"| {kit} | {role} | {counts[kit]} | {licences[kit]} |")
    lines += [
        "",
        "Whether trained weights are a derivative work of their training data is not settled.",
        "If they are, the weights carry the obligations of the GPL-2 / GPL-2+ kits and the",
        "attribution (and, for BJA_Pacific and circAfrique v4, share-alike) terms of the",
        "Creative Commons kits above; redistributors should keep this file with the model.",
    ]
    if cv:
        lines += [
            "",
            "Quality of this recipe on kits it never saw (3 kit-disjoint folds, mean ± std): "
            f"macro-F1 {cv.get('macro_f1')}, accuracy {cv.get('accuracy')}.",
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _ship_only(args: argparse.Namespace, *, manifest: Path, samples: list) -> int:
    """Ship ``args.ship`` with the cross-validation figures of an earlier full run."""
    import json

    cv = None
    previous = args.out / "classify_drums.json"
    if previous.is_file():
        saved = json.loads(previous.read_text())
        folds = saved.get("results", {}).get(args.ship)
        if folds:
            row = summarise({args.ship: folds})[0]
            cv = {"accuracy": row[1], "macro_f1": row[2], "folds": len(folds)}
    ship_model(
        args.ship,
        manifest=manifest,
        samples=samples,
        out=args.out,
        epochs=args.epochs,
        target=args.ship_to,
        cv=cv,
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--kits", type=Path, default=None, help="Hydrogen drumkits folder")
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0, help="seed of the kit folds")
    parser.add_argument(
        "--only-folds",
        default=None,
        help="comma-separated fold indices to run (e.g. 1,2), to spread folds over "
        "processes; the table then covers only those folds",
    )
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument(
        "--ship",
        metavar="MODEL",
        default=None,
        help="after the folds, train MODEL on all kits and write the shipped "
        "model file (src/torchmusic/pretrained/drums.safetensors)",
    )
    parser.add_argument("--ship-to", type=Path, default=SHIPPED)
    parser.add_argument(
        "--ship-only",
        action="store_true",
        help="skip the folds: ship --ship MODEL, quoting its figures from <out>/classify_drums.json",
    )
    parser.add_argument(
        "--no-balance",
        action="store_true",
        help="train on the kits' class proportions (default: oversample to balance)",
    )
    args = parser.parse_args(argv)

    import torch

    from torchmusic.data.drums import (
        DEFAULT_ROOT,
        hydrogen_drum_samples,
        kit_disjoint_splits,
        write_drums_manifest,
        write_split_manifest,
    )

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = sorted(set(models) - set(RECIPES))
    if unknown:
        parser.error(f"unknown model(s) {unknown}; choose from {list(RECIPES)}")
    root = args.kits or DEFAULT_ROOT
    data_dir = args.out / "drums"
    samples = hydrogen_drum_samples(root)
    manifest = write_drums_manifest(data_dir, root=root, samples=samples, seconds=1.0)
    kits = Counter(s.kit for s in samples)
    print(
        f"{len(samples)} mapped samples from {len(kits)} kits: "
        f"{dict(Counter(s.label for s in samples))}"
    )
    if args.ship_only:
        if not args.ship:
            parser.error("--ship-only needs --ship MODEL")
        return _ship_only(args, manifest=manifest, samples=samples)
    folds = kit_disjoint_splits(samples, n_splits=args.folds, seed=args.seed)
    if args.only_folds:
        keep = {int(i) for i in args.only_folds.split(",")}
        folds = [f for i, f in enumerate(folds) if i in keep]
    per_fold: dict[str, list[dict[str, Any]]] = {"majority": []} | {m: [] for m in models}
    fold_info = []
    t_start = time.perf_counter()
    for fold in folds:
        fold_manifest = write_split_manifest(manifest, fold, balance_train=not args.no_balance)
        n = {
            name: sum(kits[k] for k in ks)
            for name, ks in (
                ("train", fold.train_kits),
                ("valid", fold.valid_kits),
                ("test", fold.test_kits),
            )
        }
        fold_info.append(
            {
                "fold": fold.index,
                "train_kits": fold.train_kits,
                "valid_kits": fold.valid_kits,
                "test_kits": fold.test_kits,
                "samples": n,
            }
        )
        print(
            f"fold {fold.index}: test {list(fold.test_kits)}, valid {list(fold.valid_kits)}, "
            f"samples {n}",
            flush=True,
        )
        per_fold["majority"].append(majority_baseline(fold_manifest, "label"))
        for model in models:
            settings = recipe_settings(model, epochs=args.epochs)
            settings.update(
                label_column="label",
                group_column="kit",
                feature=FEATURE,
                clip_seconds=1.0,
                cache_dir=str(args.out / "cache"),
            )
            res = train_and_evaluate(
                fold_manifest,
                model,
                args.out / "drums_runs" / f"fold{fold.index}-{model}",
                settings=settings,
            )
            per_fold[model].append(res)
            print(
                f"  {model:11s} macro-F1 {res['macro_f1']:.3f} accuracy {res['accuracy']:.3f} "
                f"(val {res['val_macro_f1'] or float('nan'):.3f}, {res['train_s']:.0f} s)",
                flush=True,
            )
    total_s = time.perf_counter() - t_start
    table = print_table(
        f"Drum-hit classification, {len(samples)} samples / {len(kits)} kits, "
        f"{args.folds} kit-disjoint folds (mean ± std over folds)",
        ["model", "accuracy", "macro-F1", "macro-F1 per fold", "train s / fold"],
        summarise(per_fold),
    )
    nets = [m for m in models if m != "mfcc-svm"]
    verdict = None
    if nets and "mfcc-svm" in models:

        def mean_f1(m: str) -> float:
            return statistics.fmean(f["macro_f1"] for f in per_fold[m])

        best = max(nets, key=mean_f1)
        margin = mean_f1(best) - mean_f1("mfcc-svm")
        verdict = {
            "best_network": best,
            "margin_macro_f1": round(margin, 4),
            "target_met": margin >= 0.10,
        }
        print(
            f"best network {best}: {margin * 100:+.1f} macro-F1 points vs mfcc-svm "
            f"(target +10: {'met' if margin >= 0.10 else 'missed'}); total {total_s:.0f} s"
        )
    shipped = None
    if args.ship:
        cv = None
        if per_fold.get(args.ship):
            row = next(r for r in summarise({args.ship: per_fold[args.ship]}))
            cv = {"accuracy": row[1], "macro_f1": row[2], "folds": args.folds}
        shipped = str(
            ship_model(
                args.ship,
                manifest=manifest,
                samples=samples,
                out=args.out,
                epochs=args.epochs,
                target=args.ship_to,
                cv=cv,
            )
        )
    write_json(
        args.out / "classify_drums.json",
        {
            "shipped_model": shipped,
            "command": "python "
            + " ".join([sys.argv[0], *(argv if argv is not None else sys.argv[1:])]),
            "n_samples": len(samples),
            "kits": dict(kits),
            "labels": dict(Counter(s.label for s in samples)),
            "feature": FEATURE,
            "network_base": NETWORK_BASE,
            "recipes": {m: RECIPES[m] for m in models},
            "epochs": args.epochs,
            "balanced_training": not args.no_balance,
            "folds": fold_info,
            "results": per_fold,
            "verdict": verdict,
            "total_s": round(total_s, 1),
            "torch_threads": torch.get_num_threads(),
            "table": table,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
