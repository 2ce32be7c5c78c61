"""Arguments of the audio-generation commands: ``train vocoder``, ``vocode``,
``train denoise`` and ``denoise``.

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
    """Add ``train vocoder`` / ``train denoise`` to ``train`` and ``vocode`` / ``denoise`` to ``sub``."""
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
    _register_denoise(sub, train)


def _register_denoise(sub: argparse._SubParsersAction, train: argparse._SubParsersAction) -> None:
    t = train.add_parser(
        "denoise",
        help="train a neural music denoiser on clean music and noise recordings",
        description="Train the STFT U-Net denoiser on noisy/clean pairs made on the fly: "
        "segments of the clean music (split by track; a manifest's 'split' column wins) "
        "mixed with the noise recordings under --noise (split by file; the 'unseen_noise' "
        "kinds are never used) and generated hum, hiss, clicks and crackle, at random SNRs "
        "and gains. Loss: negative SI-SDR + multi-resolution compressed STFT; the "
        "checkpoint with the best validation SI-SDR is exported.",
        epilog=_flags.examples(
            "torchmusic train denoise --clean music/ --noise noise/ --max-steps 2000 --out runs/dn",
            "torchmusic train denoise --config configs/denoise-cpu.yaml --clean soundtracks/manifest.csv --noise ../shared/data/noise",
            "torchmusic train denoise --config configs/denoise-gpu.yaml --clean music/ --noise noise/ --resume --out runs/dn-gpu",
        ),
    )
    t.add_argument(
        "--clean", default=None, help="clean music: folder(s)/files or a manifest with 'path'"
    )
    t.add_argument(
        "--noise",
        default=None,
        help="folder of noise recordings (default: --config's; none: generated noise only)",
    )
    _flags.add_training_options(
        t,
        arch_help="network to train: unet (default: --config's, else unet)",
        config_example="configs/denoise-cpu.yaml",
    )
    t.set_defaults(handler="torchmusic.cli.denoise_cmd:train", accepts_overrides=True)

    p = sub.add_parser(
        "denoise",
        help="remove noise, hum and clicks from music files (neural model or DSP)",
        description="Denoise audio files with a denoiser model file or the shipped "
        "'music-denoiser', a DSP baseline, or a chain of them (--method dehum,declick,neural). "
        "Any sample rate: the model works at its own rate and the band above it passes "
        "through; stereo shares one mask; long files go in overlapping chunks. Writes "
        "OUT/<name>.wav (24-bit, the input's rate); an input is never overwritten. Bad "
        "files are skipped and listed; the exit status is 1 if any failed (see "
        "--allow-failures).",
        epilog=_flags.examples(
            "torchmusic denoise -m runs/dn/model.safetensors recordings/ --out clean/ --strength 0.7",
            "torchmusic denoise tape.wav -o out/ --method gate --noise-profile hiss_only.wav",
            "torchmusic denoise lp.flac -o out/ --method dehum,declick,neural --device cuda",
        ),
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="audio files or folders")
    p.add_argument(
        "--model", "-m", default="music-denoiser", help="denoiser model file or shipped name"
    )
    p.add_argument("--out", "-o", required=True, metavar="DIR", help="folder for the .wav files")
    p.add_argument(
        "--method",
        default="neural",
        help="neural | gate | gate-nonstationary | wiener | mmse | dehum | declick, or a "
        "chain such as dehum,declick,neural (default: neural)",
    )
    p.add_argument(
        "--strength", type=float, default=1.0, help="how much noise to remove, 0..1 (0: the input)"
    )
    p.add_argument(
        "--noise-profile",
        default=None,
        metavar="CLIP",
        help="a clip of the noise alone, for --method gate",
    )
    p.add_argument(
        "--stereo",
        default="shared",
        choices=("shared", "per-channel"),
        help="neural model on stereo: one mask for both channels (default) or one per channel",
    )
    p.add_argument("--device", default="cpu", help=_flags.DEVICE_HELP)
    p.add_argument("--allow-failures", action="store_true", help="exit 0 even if some files failed")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(handler="torchmusic.cli.denoise_cmd:denoise")
