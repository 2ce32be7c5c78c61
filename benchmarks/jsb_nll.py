"""JSB Chorales test NLL (nats/frame) of the piano-roll model, trained on CPU in a time budget.

Run::

    python benchmarks/jsb_nll.py [--minutes 30] [--threads 1] [--run runs/jsb-bench]
    python benchmarks/jsb_nll.py --eval-only --run runs/jsb-bench   # score a finished run

Protocol (Boulanger-Lewandowski et al. 2012): the standard 229/76/77 split of
``jsb-chorales-quarter.json`` (one frame per quarter note, 88 keys MIDI 21..108);
NLL per frame = ``-log p(frame | past)`` summed over the 88 keys, averaged over
all test frames (4,725). Every frame is counted, the first frame of each piece
being conditioned on an empty past. Our likelihood is exact (no bound, no
sampling); the model is selected on the validation NLL (best epoch) and scored
once on test, from the exported model file.

Training uses :func:`torchmusic.training.pianoroll.train_pianoroll` with
``configs/jsb.yaml`` and a wall-clock budget (``--minutes``, training plus
per-epoch validation). Published figures are quoted beside ours; the DMM row is
a variational bound (an upper bound on the NLL), RNN-NADE's are exact.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from _common import DEFAULT_OUT, REPO, SHARED_DATA, machine, print_table, write_json

JSB = SHARED_DATA / "jsb_chorales" / "jsb-chorales-quarter.json"
RECIPE = REPO / "configs" / "jsb.yaml"
TARGET, STRETCH = 6.0, 5.2
# (model, test NLL nats/frame, exact or bound, source)
PUBLISHED: list[tuple[str, float, str, str]] = [
    ("Deep Markov Model (Pyro example)", 6.87, "bound", "pyro.ai/examples/dmm.html"),
    ("RNN-NADE, SGD", 5.56, "exact", "Boulanger-Lewandowski et al. 2012"),
    ("RNN-NADE, Hessian-free", 5.19, "exact", "Boulanger-Lewandowski et al. 2012"),
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=JSB, help="JSB JSON (default: shared data)")
    p.add_argument("--config", type=Path, default=RECIPE, help="training recipe")
    p.add_argument("--minutes", type=float, default=30.0, help="training wall-clock budget")
    p.add_argument("--threads", type=int, default=1, help="torch threads for training")
    p.add_argument("--run", type=Path, default=None, help="run folder (default OUT/jsb-run)")
    p.add_argument("--resume", action="store_true", help="continue the run in --run")
    p.add_argument("--eval-only", action="store_true", help="score the run's model file")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the JSON goes")
    p.add_argument("--no-progress", action="store_true")
    return p.parse_args(argv)


def train(args: argparse.Namespace, run: Path) -> dict[str, Any]:
    from torchmusic.training.pianoroll import PianoRollTrainConfig, train_pianoroll

    cfg = PianoRollTrainConfig.from_sources(
        config=args.config,
        data=str(args.data),
        out_dir=str(run),
        max_minutes=args.minutes,
        threads=args.threads,
        resume=args.resume,
    )
    t0 = time.perf_counter()
    result = train_pianoroll(cfg, progress=not args.no_progress)
    return {"wall_minutes": (time.perf_counter() - t0) / 60, **result.metrics}


def score(model_file: Path, data: Path) -> dict[str, Any]:
    """Valid/test NLL recomputed from the exported file (the figure reported)."""
    import torch

    from torchmusic.models.symbolic import load_generator
    from torchmusic.symbolic import load_jsb
    from torchmusic.symbolic.likelihood import frame_nll

    torch.set_num_threads(1)
    model, spec = load_generator(model_file, kind="pianoroll")
    splits = load_jsb(data)
    return {
        "valid_nll": frame_nll(model, splits["valid"]),
        "test_nll": frame_nll(model, splits["test"]),
        "test_frames": sum(len(p) for p in splits["test"]),
        "model_config": spec.model_config,
        "train_metrics": spec.metrics,
        "model_file_mb": model_file.stat().st_size / 1e6,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.data.is_file():
        print(f"skipped: {args.data} not found (set TORCHMUSIC_SHARED_DATA)", file=sys.stderr)
        return 0
    run = (args.run or args.out / "jsb-run").resolve()
    trained: dict[str, Any] = {}
    if not args.eval_only:
        trained = train(args, run)
    model_file = run / "model.safetensors"
    scored = score(model_file, args.data)
    tm = scored["train_metrics"]
    minutes = float(tm.get("train_minutes", float("nan")))
    threads = tm.get("threads", args.threads)
    ours = f"torchmusic pianoroll ({tm.get('parameters', '?')} params)"
    rows: list[list[Any]] = [
        [
            ours,
            round(scored["valid_nll"], 3),
            round(scored["test_nll"], 3),
            "exact",
            f"{minutes:.1f} min CPU, {threads} thread(s), best epoch {tm.get('best_epoch')}",
        ]
    ]
    rows += [[name, "", nll, kind, src] for name, nll, kind, src in PUBLISHED]
    cpu = machine()["cpu"]
    table = print_table(
        f"JSB Chorales (quarter), NLL nats/frame, lower is better (target <= {TARGET}, "
        f"stretch <= {STRETCH}); {cpu}",
        ["model", "valid NLL", "test NLL", "likelihood", "training / source"],
        rows,
    )
    payload = {
        "benchmark": "jsb_nll",
        "protocol": "Boulanger-Lewandowski 2012 split 229/76/77, quarter-note frames, 88 keys "
        "MIDI 21..108, -log p(frame|past) summed over keys, mean over all test frames; "
        "first frame conditioned on an empty past; model chosen on valid NLL",
        "run_dir": str(run),
        "model_file": str(model_file),
        "valid_nll": scored["valid_nll"],
        "test_nll": scored["test_nll"],
        "target_met": scored["test_nll"] <= TARGET,
        "stretch_met": scored["test_nll"] <= STRETCH,
        "train_minutes": minutes,
        "threads": threads,
        "model_config": scored["model_config"],
        "model_file_mb": round(scored["model_file_mb"], 3),
        "train_metrics": tm,
        "training_call": trained or None,
        "published": [
            {"model": n, "test_nll": v, "likelihood": k, "source": s} for n, v, k, s in PUBLISHED
        ],
        "table": table,
    }
    write_json(args.out / "jsb_nll.json", json.loads(json.dumps(payload, default=str)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
