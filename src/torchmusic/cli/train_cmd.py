"""``torchmusic train classify``: build a :class:`TrainConfig` from the recipe, flags and
``--key value`` overrides, train, and print where the model file is."""

from __future__ import annotations

import argparse
import sys


def _devices(value: str | None) -> int | str | list[int] | None:
    """``"2"`` -> 2, ``"0,1"`` -> [0, 1], ``"auto"`` stays: what Lightning's ``devices`` takes."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit() or (text.startswith("-") and text[1:].isdigit()):
        return int(text)
    if "," in text:
        from torchmusic.errors import ParameterError

        try:
            return [int(p) for p in text.split(",") if p.strip()]
        except ValueError:
            raise ParameterError(
                f"--devices {value!r}: expected a count, 'auto' or a list like 0,1"
            ) from None
    return text


def classify(args: argparse.Namespace) -> int:
    from torchmusic.errors import ParameterError
    from torchmusic.training import TrainConfig, train_classifier

    backbone = getattr(args, "backbone", None)
    freeze = getattr(args, "freeze", None)
    overrides = list(getattr(args, "overrides", None) or [])
    if freeze is not None:
        # --freeze / --finetune are model_config.freeze; a later --key value still wins.
        overrides = ["--model_config.freeze", "true" if freeze else "false", *overrides]
    cfg = TrainConfig.from_sources(
        config=args.config,
        data=args.data,
        # --backbone trains model 'backbone' unless --arch says otherwise (refused).
        model=args.arch or ("backbone" if backbone else None),
        backbone=backbone,
        out_dir=args.out,
        resume=True if args.resume else None,
        devices=_devices(args.devices),
        num_nodes=args.num_nodes,
        accelerator=args.accelerator,
        overrides=overrides,
    )
    if freeze is not None and cfg.model != "backbone":
        flag = "--freeze" if freeze else "--finetune"
        raise ParameterError(
            f"{flag} is for a classifier on a backbone (--backbone NAME|FILE); model is "
            f"{cfg.model!r}"
        )
    progress = not args.no_progress
    result = train_classifier(cfg, progress=progress)
    import os

    if any(os.environ.get(k, "0") != "0" for k in ("RANK", "LOCAL_RANK", "SLURM_PROCID")):
        return 0  # other DDP processes: rank 0 reports
    if result.skipped:
        print(f"skipped {len(result.skipped)} undecodable file(s):", file=sys.stderr)
        for path, error in result.skipped:
            print(f"  {path}: {error}", file=sys.stderr)
    shown = {
        k: v
        for k, v in result.metrics.items()
        if k.startswith(("val_", "test_")) or k in ("train_clips_per_s", "epochs_trained")
    }
    for key in sorted(shown):
        value = shown[key]
        print(f"{key:>20}  {value:.4f}" if isinstance(value, float) else f"{key:>20}  {value}")
    print(f"model file: {result.model_file}")
    print(f"run folder: {result.run_dir}")
    return 0


def recipe_from_args(cls, args: argparse.Namespace, **fields):
    """``cls.from_sources`` with the flags every ``train TASK`` shares (``--config``,
    ``--arch``, ``--out``, ``--resume``, devices) plus the task's own ``fields``."""
    return cls.from_sources(
        config=args.config,
        overrides=getattr(args, "overrides", None) or [],
        model=args.arch,
        out_dir=args.out,
        resume=True if args.resume else None,
        devices=_devices(args.devices),
        num_nodes=args.num_nodes,
        accelerator=args.accelerator,
        **fields,
    )


def report_run(result, keys: tuple[str, ...]) -> int:
    """Print a finished run's skipped files, the figures ``keys`` and where its files are
    (rank 0 only: under DDP every process runs the command)."""
    import os

    if any(os.environ.get(k, "0") != "0" for k in ("RANK", "LOCAL_RANK", "SLURM_PROCID")):
        return 0
    for path, error in result.skipped:
        print(f"skipped {path}: {error}", file=sys.stderr)
    for key in keys:
        if key in result.metrics:
            value = result.metrics[key]
            print(f"{key:>20}  {value:.4f}" if isinstance(value, float) else f"{key:>20}  {value}")
    print(f"model file: {result.model_file}")
    print(f"run folder: {result.run_dir}")
    return 0
