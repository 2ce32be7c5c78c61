"""Arguments of the audio-generation commands: ``train vocoder`` and ``vocode``.

argparse only (no torch): ``torchmusic --help`` stays instant.
"""

from __future__ import annotations

import argparse

from torchmusic.cli import _flags


def register(
    sub: argparse._SubParsersAction,
    *,
    datasets: argparse._SubParsersAction,
    train: argparse._SubParsersAction,
) -> None:
    """Add ``train vocoder`` to ``train`` and ``vocode`` to ``sub``."""
    t = train.add_parser(
        "vocoder",
        help="train a neural vocoder (log-mel -> audio) on a folder of music",
        description="Train a vocoder that inverts torchmusic's log-mel (the model's "
        "FeatureConfig). Reconstruction-only warm-up (log-mel L1 + multi-resolution STFT) "
        "for 'adversarial_after' steps, then the GAN phase with the discriminators "
        "(null: never; for GPUs). Tracks are split into train/valid by file, never a "
        "track on both sides; a manifest's 'split' column wins.",
        epilog=_flags.examples(
            "torchmusic train vocoder --data music/ --arch vocos --max-steps 5000 --out runs/voc",
            "torchmusic train vocoder --config configs/vocoder-vocos-gpu.yaml --data soundtracks/manifest.csv",
            "torchmusic train vocoder --data music/ --arch hifigan --model_config.preset v2 --resume --out runs/hfg",
        ),
    )
    t.add_argument("--data", required=True, help="audio folder(s)/files or a manifest with 'path'")
    _flags.add_training_options(
        t,
        arch_help="generator to train: vocos | hifigan | melgan (default: --config's, else vocos)",
        config_example="configs/vocoder-vocos-cpu.yaml",
    )
    t.set_defaults(handler="torchmusic.cli.vocode_cmd:train", accepts_overrides=True)

    p = sub.add_parser(
        "vocode",
        help="resynthesise audio through a vocoder (our log-mel, then the network)",
        description="Analysis-resynthesis: each file's log-mel (the model's FeatureConfig) "
        "turned back into audio by a vocoder model file or the shipped 'music-vocoder'. "
        "Stereo is vocoded per channel; other sample rates are resampled to the model's "
        "(and said so); long files go in overlapping chunks. Bad files are skipped and "
        "listed; the exit status is 1 if any failed (see --allow-failures).",
        epilog=_flags.examples(
            "torchmusic vocode song.ogg --out resynth/",
            "torchmusic vocode -m runs/voc/model.safetensors music/ --out resynth/",
            "torchmusic vocode --model music-vocoder a.wav b.flac -o out/ --device cuda",
        ),
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="audio files or folders")
    p.add_argument(
        "--model", "-m", default="music-vocoder", help="vocoder model file or shipped name"
    )
    p.add_argument("--out", "-o", required=True, metavar="DIR", help="folder for the .wav files")
    p.add_argument("--device", default="cpu", help=_flags.DEVICE_HELP)
    p.add_argument("--allow-failures", action="store_true", help="exit 0 even if some files failed")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(handler="torchmusic.cli.vocode_cmd:vocode")
