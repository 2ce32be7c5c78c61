"""``torchmusic train vocoder`` and ``torchmusic vocode``: thin wrappers over the Python API."""

from __future__ import annotations

import argparse
import sys


def train(args: argparse.Namespace) -> int:
    from torchmusic.cli.train_cmd import _devices
    from torchmusic.training.vocoder.job import train_vocoder
    from torchmusic.training.vocoder.settings import VocoderTrainConfig

    cfg = VocoderTrainConfig.from_sources(
        config=args.config,
        overrides=getattr(args, "overrides", None) or [],
        data=args.data,
        model=args.arch,
        out_dir=args.out,
        resume=True if args.resume else None,
        devices=_devices(args.devices),
        num_nodes=args.num_nodes,
        accelerator=args.accelerator,
    )
    result = train_vocoder(cfg, progress=not args.no_progress)
    import os

    if any(os.environ.get(k, "0") != "0" for k in ("RANK", "LOCAL_RANK", "SLURM_PROCID")):
        return 0  # other DDP processes: rank 0 reports
    for path, error in result.skipped:
        print(f"skipped {path}: {error}", file=sys.stderr)
    for key in ("val_mel_l1", "val_mrstft", "epochs_trained", "global_step", "adversarial_steps"):
        if key in result.metrics:
            value = result.metrics[key]
            print(f"{key:>20}  {value:.4f}" if isinstance(value, float) else f"{key:>20}  {value}")
    print(f"model file: {result.model_file}")
    print(f"run folder: {result.run_dir}")
    return 0


def vocode(args: argparse.Namespace) -> int:
    from torchmusic.data.discover import check_output_folder, collect_inputs
    from torchmusic.errors import TorchMusicError

    out_dir = check_output_folder(args.out)
    files, missing = collect_inputs(args.paths)
    failed: list[tuple[str, str]] = [(str(p), "does not exist") for p in missing]
    if not files and not failed:
        print(f"torchmusic: error: no audio files in {args.paths}", file=sys.stderr)
        return 1

    from torchmusic.serve.vocode import Vocoder, vocode_file

    vocoder = Vocoder(args.model, device=args.device)
    done = 0
    iterator = files
    if not args.no_progress and sys.stderr.isatty():
        from tqdm import tqdm

        iterator = tqdm(files, desc="vocode", unit="file")
    for path, _name in iterator:
        try:
            out, result = vocode_file(vocoder, path, out_dir)
        except TorchMusicError as exc:
            failed.append((str(path), str(exc)))
            continue
        note = f" (resampled from {result.resampled_from} Hz)" if result.resampled_from else ""
        seconds = result.audio.shape[-1] / result.sample_rate
        print(f"{path} -> {out}  {seconds:.2f} s, {result.audio.shape[0]} channel(s){note}")
        done += 1
    print(f"vocoded {done} file(s) with {vocoder.spec.architecture} ({args.model}) into {out_dir}")
    if failed:
        print(f"\n{len(failed)} file(s) failed:", file=sys.stderr)
        for path, error in failed:
            print(f"  {path}: {error}", file=sys.stderr)
        if not args.allow_failures:
            return 1
    return 0
