"""``torchmusic train gan`` and ``torchmusic synthesize``: thin wrappers over the Python API."""

from __future__ import annotations

import argparse


def train(args: argparse.Namespace) -> int:
    from torchmusic.cli.train_cmd import recipe_from_args, report_run
    from torchmusic.training.gan.job import train_gan
    from torchmusic.training.gan.settings import GanTrainConfig

    cfg = recipe_from_args(GanTrainConfig, args, data=args.data, conditional=args.conditional)
    result = train_gan(cfg, progress=not args.no_progress)
    keys = ("clips", "clips_padded", "skipped_files", "global_step", "generator_steps")
    return report_run(result, keys)


def synthesize(args: argparse.Namespace) -> int:
    from torchmusic.data.discover import check_output_folder
    from torchmusic.errors import ParameterError

    # Everything is checked and generated before the output folder is made: a refused
    # command leaves nothing behind.
    out_dir = check_output_folder(args.out, what="--out")
    if args.interpolate and args.label is not None:
        raise ParameterError("give --label (with -n) or --interpolate A B, not both")

    from torchmusic.serve import synthesize as S

    gan = S.load_gan(args.model, device=args.device, vocoder=args.vocoder)
    if args.interpolate:
        start, end = args.interpolate
        audio = S.interpolate(
            gan, start, end, steps=args.steps, seed=args.seed, truncation=args.truncation
        )
        stem = f"{S.safe_name(start)}-to-{S.safe_name(end)}-s{args.seed}"
        names = [f"{stem}-{i:02d}" for i in range(audio.shape[0])]
    else:
        labels = S.label_indices(gan, args.label, args.num)
        audio = S.synthesize(
            gan, label=args.label, n=args.num, seed=args.seed, truncation=args.truncation
        )
        kinds = (
            [gan.labels[int(i)] for i in labels] if labels is not None else ["sample"] * args.num
        )
        names = [f"{S.safe_name(k)}-s{args.seed}-{i:02d}" for i, k in enumerate(kinds)]
    written = S.write_hits(
        audio, out_dir, names, sample_rate=gan.sample_rate, feature=gan.feature, png=not args.no_png
    )
    for path in written:
        if path.suffix == ".wav":
            print(path)
    seconds = audio.shape[-1] / gan.sample_rate
    print(
        f"wrote {audio.shape[0]} sound(s) of {seconds:.2f} s at {gan.sample_rate} Hz "
        f"({gan.architecture}, {args.model}) into {out_dir}"
    )
    return 0
