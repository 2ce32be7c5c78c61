"""Arguments of the audio-generation commands: ``train vocoder``, ``vocode``,
``export onnx`` (a vocoder), ``train denoise``, ``denoise``, ``train gan`` and ``synthesize``.

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
    """Add ``train vocoder`` / ``train denoise`` / ``train gan`` to ``train`` and ``vocode`` /
    ``denoise`` / ``synthesize`` to ``sub``."""
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
            "torchmusic vocode --refine 32 a.wav b.flac -o out/ --device cuda",
        ),
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="audio files or folders")
    p.add_argument(
        "--model", "-m", default="music-vocoder", help="vocoder model file or shipped name"
    )
    p.add_argument("--out", "-o", required=True, metavar="DIR", help="folder for the .wav files")
    p.add_argument("--device", default="cpu", help=_flags.DEVICE_HELP)
    p.add_argument(
        "--refine",
        type=int,
        default=0,
        metavar="N",
        help="mel-consistency steps after the network (0: none; 32 brings music-vocoder's "
        "log-mel error from 2.5 to 0.6 dB at ~1/3 of its speed; docs/vocoder.md)",
    )
    p.add_argument("--allow-failures", action="store_true", help="exit 0 even if some files failed")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(handler="torchmusic.cli.vocode_cmd:vocode")
    _register_export(sub)
    _register_denoise(sub, train)
    _register_gan(sub, train)


def _register_export(sub: argparse._SubParsersAction) -> None:
    examples = _flags.examples(
        "torchmusic export onnx --model music-vocoder -o music-vocoder.onnx",
        "torchmusic export onnx -m runs/voc/model.safetensors -o voc.onnx",
    )
    p = sub.add_parser(
        "export",
        help="export a model for other runtimes (ONNX)",
        description="Export a model to a format other runtimes load. For now: a vocoder "
        "to ONNX (torchmusic export onnx).",
        epilog=examples,
    )
    esub = p.add_subparsers(dest="export_format", metavar="FORMAT", required=True)
    o = esub.add_parser(
        "onnx",
        help="a vocoder as one ONNX file (log-mel -> audio) for onnxruntime",
        description="Export a vocoder model file or the shipped 'music-vocoder' (Vocos, "
        "HiFi-GAN or MelGAN) to one ONNX file: input 'mel' (batch, n_mels, frames) float32 "
        "dB log-mel of the model's FeatureConfig, output 'audio' (batch, frames * hop); "
        "batch and frames are dynamic. The model's sample rate and log-mel settings are in "
        "the file's metadata ('torchmusic.vocoder'). Needs pip install 'torchmusic[onnx]'.",
        epilog=examples,
    )
    o.add_argument(
        "--model", "-m", default="music-vocoder", help="vocoder model file or shipped name"
    )
    o.add_argument("--out", "-o", required=True, metavar="FILE", help="the .onnx file to write")
    o.set_defaults(handler="torchmusic.cli.vocode_cmd:export_onnx")


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


def _register_gan(sub: argparse._SubParsersAction, train: argparse._SubParsersAction) -> None:
    t = train.add_parser(
        "gan",
        help="train a WaveGAN / SpecGAN that makes new one-shot sounds (drum hits)",
        description="Train a WaveGAN (waveforms) or SpecGAN (log-mels) on one-shot sounds: a "
        "class-per-folder root (kick/, snare/, ...) or a manifest with a label column (a "
        "'split' column keeps only its train rows). Clips start at their onset; longer ones "
        "are cropped, shorter ones zero-padded; undecodable files are skipped and listed. "
        "WGAN-GP by default (gradient penalty 10, 5 critic steps per generator step, Adam "
        "1e-4, betas 0.5/0.9); --loss hinge|lsgan; the EMA generator is exported. Sample "
        "grids (WAV + spectrogram PNG) go to RUN_DIR/samples/ every examples_every_n_steps.",
        epilog=_flags.examples(
            "torchmusic train gan --data drums/ --arch wavegan --conditional --out runs/drum-gan",
            "torchmusic train gan --config configs/gan-wavegan-cpu.yaml --data drums/ --max-steps 2000",
            "torchmusic train gan --data hits/manifest.csv --arch specgan --conditional --loss hinge --resume --out runs/sg",
        ),
    )
    t.add_argument(
        "--data", required=True, help="class-per-folder root or manifest with a label column"
    )
    t.add_argument(
        "--conditional",
        dest="conditional",
        action="store_const",
        const=True,
        default=None,
        help="class-conditional: generate a requested class (needs 2 or more classes)",
    )
    t.add_argument(
        "--unconditional",
        dest="conditional",
        action="store_const",
        const=False,
        help="ignore the classes (the default unless --config says otherwise)",
    )
    _flags.add_training_options(
        t,
        arch_help="network to train: wavegan | specgan (default: --config's, else wavegan)",
        config_example="configs/gan-wavegan-cpu.yaml",
    )
    t.set_defaults(handler="torchmusic.cli.gan_cmd:train", accepts_overrides=True)

    p = sub.add_parser(
        "synthesize",
        help="generate new sounds (drum hits) with a GAN model file: WAV + PNG each",
        description="Draw new sounds from a GAN model file (torchmusic train gan): -n sounds "
        "of --label (a conditional model; without --label every class in turn), or a walk "
        "from one class to another with --interpolate A B. Reproducible: the same --seed "
        "gives the same sounds. Writes OUT/<label>-<seed>-<i>.wav (16-bit, the model's "
        "rate) and a log-mel PNG beside each.",
        epilog=_flags.examples(
            "torchmusic synthesize --label kick -n 8 --seed 0 -o out/",
            "torchmusic synthesize -m runs/drum-gan/model.safetensors --interpolate kick snare --steps 8 -o interp/",
            "torchmusic synthesize -m runs/sg/model.safetensors -n 4 --vocoder music-vocoder --no-png -o out/",
        ),
    )
    p.add_argument(
        "--model",
        "-m",
        default="drum-gan",
        help="GAN model file or shipped model name (default: drum-gan, 8 drum classes)",
    )
    p.add_argument("--label", default=None, help="class of every sound (a conditional model)")
    p.add_argument("-n", "--num", type=int, default=8, help="sounds to generate (default 8)")
    p.add_argument("--seed", type=int, default=0, help="seed of the latents (default 0)")
    p.add_argument(
        "--interpolate",
        nargs=2,
        default=None,
        metavar=("A", "B"),
        help="walk from class A to class B with one latent (instead of --label/-n)",
    )
    p.add_argument("--steps", type=int, default=8, help="sounds of --interpolate (default 8)")
    p.add_argument(
        "--truncation",
        default=None,
        metavar="T",
        help="draw latent values from [-T, T] (truncation trick: typical sounds, less "
        "variety); 'none' turns off the model file's choice (default: the file's, else none)",
    )
    p.add_argument(
        "--vocoder",
        default=None,
        help="SpecGAN: vocoder model file or shipped name (default: the file's, else Griffin-Lim)",
    )
    p.add_argument("--out", "-o", required=True, metavar="DIR", help="folder for WAVs and PNGs")
    p.add_argument("--no-png", action="store_true", help="skip the spectrogram PNGs")
    p.add_argument("--device", default="cpu", help=_flags.DEVICE_HELP)
    p.set_defaults(handler="torchmusic.cli.gan_cmd:synthesize")
