"""``torchmusic train denoise`` and ``torchmusic denoise``: thin wrappers over the Python API."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def train(args: argparse.Namespace) -> int:
    from torchmusic.cli.train_cmd import recipe_from_args, report_run
    from torchmusic.training.denoise.job import train_denoiser
    from torchmusic.training.denoise.settings import DenoiseTrainConfig

    cfg = recipe_from_args(DenoiseTrainConfig, args, clean=args.clean, noise=args.noise)
    result = train_denoiser(cfg, progress=not args.no_progress)
    keys = ("val_si_sdr", "val_si_sdri", "val_loss", "epochs_trained", "global_step")
    return report_run(result, keys)


def _plan(files: list[tuple[Path, str]], out_dir: Path) -> list[tuple[Path, Path]]:
    """``(input, output)`` pairs: ``OUT/<relative name>.wav``; two inputs that would
    share an output (``a.flac`` and ``a.ogg``) keep their extension (``a.flac.wav``)."""
    names = [Path(name).with_suffix(".wav") for _, name in files]
    taken = {n: names.count(n) for n in names}
    return [
        (path, out_dir / (Path(name + ".wav") if taken[n] > 1 else n))
        for (path, name), n in zip(files, names, strict=True)
    ]


def denoise(args: argparse.Namespace) -> int:
    from torchmusic.data.discover import check_output_folder, collect_inputs
    from torchmusic.errors import DataError, ParameterError, TorchMusicError

    if not 0 <= args.strength <= 1:
        raise ParameterError(f"--strength {args.strength!r} must be in [0, 1]")
    from torchmusic.serve.denoise import Denoiser, denoise_file, parse_method

    steps = parse_method(args.method)
    if args.noise_profile is not None:
        if "gate" not in steps:
            raise ParameterError(
                f"--noise-profile is used by --method gate only, and --method {args.method!r} "
                "has no gate step (try --method gate)"
            )
        if not Path(args.noise_profile).is_file():
            raise DataError(f"--noise-profile {args.noise_profile!r} is not a file")
    out_dir = check_output_folder(args.out)
    files, missing = collect_inputs(args.paths)
    failed: list[tuple[str, str]] = [(str(p), "does not exist") for p in missing]
    if not files and not failed:
        print(f"torchmusic: error: no audio files in {args.paths}", file=sys.stderr)
        return 1
    plan = _plan(files, out_dir)
    # Never overwrite an original: refused before any work, so nothing is lost.
    inputs = {os.path.realpath(p): p for p, _ in files}
    clashes = [(src, dst) for src, dst in plan if os.path.realpath(dst) in inputs]
    if clashes:
        src, dst = clashes[0]
        raise DataError(
            f"output {str(dst)!r} would overwrite the input {str(inputs[os.path.realpath(dst)])!r}"
            f" ({len(clashes)} such file(s)); choose another --out"
        )
    if args.noise_profile is not None:
        _check_profile_length(args.noise_profile, [src for src, _ in plan])
    model = Denoiser(args.model, device=args.device) if "neural" in steps else None
    profile_channels = _channels(args.noise_profile) if args.noise_profile else None
    done = 0
    iterator = plan
    if not args.no_progress and sys.stderr.isatty():
        from tqdm import tqdm

        iterator = tqdm(plan, desc="denoise", unit="file")
    for src, dst in iterator:
        try:
            info = denoise_file(
                src, dst, model=model if model is not None else args.model, method=args.method,
                strength=args.strength, noise_profile=args.noise_profile, stereo=args.stereo,
            )  # fmt: skip
        except TorchMusicError as exc:
            failed.append((str(src), str(exc)))
            continue
        notes = list(info["notes"])
        if profile_channels == 1 and info["channels"] > 1:
            notes.append("mono noise profile used for both channels")
        if model is not None and info["sr"] != model.sample_rate:
            notes.append(
                f"denoised at the model's {model.sample_rate} Hz; above {model.sample_rate // 2} Hz "
                "passed through"
            )
        if info["clipped"]:
            notes.append(f"{info['clipped']} sample(s) beyond full scale clipped")
        tail = "".join(f"\n    note: {n}" for n in notes)
        print(
            f"{src} -> {dst}  {info['seconds']:.2f} s, {info['channels']} channel(s), {info['sr']} Hz{tail}"
        )
        done += 1
    print(f"denoised {done} file(s) with --method {args.method} into {out_dir}")
    if failed:
        print(f"\n{len(failed)} file(s) failed:", file=sys.stderr)
        for path, error in failed:
            print(f"  {path}: {error}", file=sys.stderr)
        if not args.allow_failures:
            return 1
    return 0


def _check_profile_length(profile: str, inputs: list) -> None:
    """Refuse, before any work, a noise profile shorter than one frame of the gate at
    the highest input rate (it is loaded at each file's rate): every file would fail."""
    from torchmusic.audio import info
    from torchmusic.enhance.gate import DEFAULT_N_FFT
    from torchmusic.errors import AudioFileError, DataError

    seconds = float(info(profile).duration)
    rates = []
    for path in inputs:
        try:
            rates.append(int(info(path).sample_rate))
        except AudioFileError:
            continue  # an undecodable input is reported in the summary as usual
    if rates and seconds * max(rates) < DEFAULT_N_FFT:
        need = DEFAULT_N_FFT / max(rates)
        raise DataError(
            f"--noise-profile {profile!r} lasts {seconds * 1000:.1f} ms, shorter than one frame "
            f"of the gate ({DEFAULT_N_FFT} samples = {need * 1000:.1f} ms at {max(rates)} Hz); "
            "give a longer clip of the noise alone"
        )


def _channels(path: str) -> int:
    from torchmusic.audio import info

    return int(info(path).channels)
