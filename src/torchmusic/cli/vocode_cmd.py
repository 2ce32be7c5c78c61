"""``torchmusic train vocoder``, ``vocode`` and ``export onnx``: thin wrappers over the Python API."""

from __future__ import annotations

import argparse
import sys


def train(args: argparse.Namespace) -> int:
    from torchmusic.cli.train_cmd import recipe_from_args, report_run
    from torchmusic.training.vocoder.job import train_vocoder
    from torchmusic.training.vocoder.settings import VocoderTrainConfig

    cfg = recipe_from_args(VocoderTrainConfig, args, data=args.data)
    result = train_vocoder(cfg, progress=not args.no_progress)
    keys = ("val_mel_l1", "val_mrstft", "epochs_trained", "global_step", "adversarial_steps")
    return report_run(result, keys)


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

    try:
        vocoder = Vocoder(args.model, device=args.device, refine=args.refine)
    except TorchMusicError as exc:
        print(f"torchmusic: error: {exc}", file=sys.stderr)
        return 1
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
    refined = f", {vocoder.refine} mel-consistency steps" if vocoder.refine else ""
    print(
        f"vocoded {done} file(s) with {vocoder.spec.architecture} ({args.model}{refined}) "
        f"into {out_dir}"
    )
    if failed:
        print(f"\n{len(failed)} file(s) failed:", file=sys.stderr)
        for path, error in failed:
            print(f"  {path}: {error}", file=sys.stderr)
        if not args.allow_failures:
            return 1
    return 0


def export_onnx(args: argparse.Namespace) -> int:
    from torchmusic.models.vocoder.export import export_vocoder_onnx
    from torchmusic.models.vocoder.vocoderfile import read_vocoder_spec

    spec = read_vocoder_spec(args.model)  # a wrong kind of file is refused before any work
    path = export_vocoder_onnx(args.model, args.out)
    feature = spec.feature_config()
    print(
        f"{args.model} ({spec.architecture}) -> {path}  {path.stat().st_size / 1e6:.1f} MB; "
        f"input 'mel' (batch, {feature.n_mels}, frames) dB log-mel, output 'audio' "
        f"(batch, frames * {feature.hop_length}) at {feature.sr} Hz"
    )
    return 0
