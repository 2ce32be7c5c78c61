"""``torchmusic train lm``: build the settings from the recipe, flags and ``--key value``
overrides, train a token model (transformer, lstm, vae) or, with ``--model pianoroll``,
a JSB piano-roll model, and print where the model file is."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from torchmusic.cli.train_cmd import _devices


def _model_of(args: argparse.Namespace) -> str | None:
    """``--model``, else the recipe's ``model``, else ``pianoroll`` for a ``.json``
    (JSB Chorales) data file (None: the trainer's default)."""
    if args.arch:
        return args.arch
    if args.config:
        import yaml

        try:
            with open(args.config, encoding="utf-8") as f:
                recipe = yaml.safe_load(f)
        except (OSError, yaml.YAMLError):
            return None  # the config class reports unreadable recipes properly
        if isinstance(recipe, dict) and isinstance(recipe.get("model"), str):
            return recipe["model"]
    if str(args.data).lower().endswith(".json"):
        return "pianoroll"
    return None


def train(args: argparse.Namespace) -> int:
    """Handler of ``torchmusic train lm`` (returns the exit status)."""
    settings: dict[str, Any] = {
        "data": args.data,
        "model": args.arch,
        "out_dir": args.out,
        "resume": True if args.resume else None,
        "devices": _devices(args.devices),
        "num_nodes": args.num_nodes,
        "accelerator": args.accelerator,
    }
    overrides = getattr(args, "overrides", None) or []
    progress = not args.no_progress
    if _model_of(args) == "pianoroll":
        from torchmusic.training.pianoroll import PianoRollTrainConfig, train_pianoroll

        settings["model"] = "pianoroll"
        cfg = PianoRollTrainConfig.from_sources(config=args.config, overrides=overrides, **settings)
        result = train_pianoroll(cfg, progress=progress)
        skipped: list[tuple[str, str]] = []
    else:
        from torchmusic.symbolic.corpus import check_midi_folder
        from torchmusic.training.lm import train_lm
        from torchmusic.training.lm.settings import LMTrainConfig

        check_midi_folder(args.data)  # before a run folder is made

        cfg = LMTrainConfig.from_sources(config=args.config, overrides=overrides, **settings)
        result = train_lm(cfg, progress=progress)
        skipped = result.skipped

    if any(os.environ.get(k, "0") != "0" for k in ("RANK", "LOCAL_RANK", "SLURM_PROCID")):
        return 0  # other DDP processes: rank 0 reports
    if skipped:
        print(f"skipped {len(skipped)} unusable MIDI file(s):", file=sys.stderr)
        for path, reason in skipped:
            print(f"  {path}: {reason}", file=sys.stderr)
    shown = {
        k: v
        for k, v in result.metrics.items()
        if k.startswith(("val_", "test_"))
        or k in ("global_step", "train_minutes", "parameters", "train_tokens_per_s")
    }
    for key in sorted(shown):
        value = shown[key]
        print(f"{key:>22}  {value:.4f}" if isinstance(value, float) else f"{key:>22}  {value}")
    print(f"model file: {result.model_file}")
    print(f"run folder: {result.run_dir}")
    return 0
