"""``torchmusic`` entry point: argument parsing only; commands are imported lazily.

Keep this module free of torch/numpy imports: ``torchmusic --help`` must return in
well under a second.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from torchmusic.cli import _flags
from torchmusic.cli._engine import add_engine_options
from torchmusic.cli.args_audio import register as register_audio
from torchmusic.cli.args_recommend import register as register_recommend
from torchmusic.cli.args_serve import register as register_serve
from torchmusic.cli.args_symbolic import register as register_symbolic

FEATURE_KINDS = ("logmel", "mel", "mfcc", "chroma")


def _add_feature_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("feature settings (defaults: librosa 0.11's)")
    g.add_argument("--kind", choices=FEATURE_KINDS, default="logmel", help="feature to compute")
    g.add_argument("--sr", type=int, default=22050, help="sample rate audio is loaded at (Hz)")
    g.add_argument("--n-fft", type=int, default=2048, help="FFT size in samples")
    g.add_argument("--hop-length", type=int, default=512, help="hop between frames in samples")
    g.add_argument("--n-mels", type=int, default=128, help="mel bands")
    g.add_argument("--fmin", type=float, default=0.0, help="lowest mel frequency (Hz)")
    g.add_argument(
        "--fmax", type=float, default=None, help="highest mel frequency (Hz; default: sr / 2)"
    )
    g.add_argument("--htk", action="store_true", help="HTK mel scale instead of Slaney")
    g.add_argument("--n-mfcc", type=int, default=20, help="MFCC coefficients (--kind mfcc)")
    g.add_argument("--top-db", type=float, default=80.0, help="dB floor below the peak")


def _add_job_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--workers", type=int, default=None, help="worker processes (default: number of CPUs)"
    )
    p.add_argument(
        "--cache-dir",
        default=None,
        help="feature cache folder (default: $TORCHMUSIC_CACHE_DIR or ~/.cache/torchmusic/features)",
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def build_parser() -> argparse.ArgumentParser:
    parser = _flags.Parser(
        prog="torchmusic",
        description="Deep learning on music with PyTorch: features, datasets and models. "
        "'torchmusic COMMAND --help' shows a command's options and examples; docs/cli.md "
        "lists the flag vocabulary.",
        epilog=_flags.examples(
            "torchmusic predict --model drums kick.wav snare.wav --top-k 2",
            "torchmusic train classify --data my_music/ --arch shortchunk --out runs/mine",
            "torchmusic generate --model folk -n 4 --condition tune_type=jig --out out/",
        ),
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "info",
        help="versions, torch device and threads",
        description="Print the versions of torchmusic and its libraries, the compute device "
        "and the thread counts. Instant by default (the device as the NVIDIA driver reports "
        "it); --torch asks torch itself (loads torch, about 2 s).",
        epilog=_flags.examples(
            "torchmusic info", "torchmusic info --torch", "torchmusic --version"
        ),
    )
    p.add_argument(
        "--torch",
        action="store_true",
        help="ask torch for the device and thread count (imports torch, about 2 s)",
    )
    p.set_defaults(handler="torchmusic.cli.info_cmd:run")

    p = sub.add_parser(
        "features",
        help="compute features of audio files or folders (cached), one .npy per file",
        description="Compute features for files and folders. Bad files are skipped and "
        "listed at the end; the exit status is 1 if any file failed (see --allow-failures).",
        epilog=_flags.examples(
            "torchmusic features kick.wav samples/ --out feats/       # log-mel, one .npy per file",
            "torchmusic features samples/ --kind mfcc --n-mfcc 13 --out mfcc/",
            "torchmusic features music/ --kind chroma --workers 2 --allow-failures --out chroma/",
        ),
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="audio files or folders")
    p.add_argument("--out", "-o", required=True, metavar="DIR", help="output folder for .npy files")
    _add_feature_options(p)
    _add_job_options(p)
    p.add_argument("--allow-failures", action="store_true", help="exit 0 even if some files failed")
    p.set_defaults(handler="torchmusic.cli.features_cmd:run")

    datasets_examples = _flags.examples(
        "torchmusic datasets build demo --out demo_corpus",
        "torchmusic datasets build folk --out folk --collections essen,oneills",
        "torchmusic datasets build drums --out drums",
    )
    p = sub.add_parser(
        "datasets",
        help="build datasets",
        description="Build the datasets torchmusic ships recipes for, offline.",
        epilog=datasets_examples,
    )
    dsub = p.add_subparsers(dest="datasets_command", metavar="ACTION", required=True)
    b = dsub.add_parser(
        "build",
        help="build a dataset",
        description="Build a dataset into a folder (resumable).",
        epilog=datasets_examples,
    )
    bsub = b.add_subparsers(dest="dataset", metavar="NAME", required=True)
    d = bsub.add_parser(
        "demo",
        help="the demo corpus: folk tunes from music21 rendered with FluidSynth",
        description="Build the labelled demo corpus (tune type + instrument family) offline "
        "and deterministically. Needs FluidSynth and a GM soundfont "
        "(apt-get install fluidsynth timgm6mb-soundfont).",
        epilog=_flags.examples(
            "torchmusic datasets build demo --out demo_corpus",
            "torchmusic datasets build demo --out small_corpus --per-class 10 --seed 1",
            "torchmusic datasets build demo --out corpus --soundfont /usr/share/sounds/sf2/TimGM6mb.sf2",
        ),
    )
    d.add_argument("--out", "-o", required=True, metavar="DIR", help="output folder")
    d.add_argument("--per-class", type=int, default=50, help="tracks per tune type (default 50)")
    d.add_argument("--seed", type=int, default=0, help="seed of the tune choice and the split")
    d.add_argument("--workers", type=int, default=None, help="worker processes (default: CPUs)")
    d.add_argument("--soundfont", default=None, help="path to a General MIDI .sf2")
    d.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    d.set_defaults(handler="torchmusic.cli.datasets_cmd:build_demo")
    s = bsub.add_parser(
        "soundtracks",
        help="vocoder audio: Debian's game-soundtrack packages (manifest + licences)",
        description="Write DIR/manifest.csv (the installed tracks, split by track) and "
        "DIR/LICENSES.md; no audio is copied. Needs: apt-get install wesnoth-1.16-music "
        "warzone2100-music singularity-music hyperrogue-music",
        epilog=_flags.examples(
            "torchmusic datasets build soundtracks --out soundtracks",
            "torchmusic datasets build soundtracks --out st --packages wesnoth-1.16-music --seed 1",
        ),
    )
    s.add_argument("--out", "-o", required=True, metavar="DIR", help="output folder")
    s.add_argument("--root", default="/usr/share", help="where the packages are installed")
    s.add_argument("--packages", nargs="+", default=None, help="package names (default: all)")
    s.add_argument("--valid", type=float, default=0.1, help="validation fraction")
    s.add_argument("--test", type=float, default=0.1, help="test fraction")
    s.add_argument("--seed", type=int, default=0, help="seed of the split")
    s.set_defaults(handler="torchmusic.cli.datasets_cmd:build_soundtracks")
    r = bsub.add_parser(
        "renders",
        help="music21's corpus played on seeded GM instruments (self-supervised training audio)",
        description="Render pieces of music21's corpus (Bach, Palestrina, Monteverdi, ...; never "
        "the demo corpus's tune collections) with FluidSynth, each on one or several seeded "
        "General MIDI instruments, into DIR/audio/*.flac and DIR/manifest.csv (split by piece). "
        "Resumable. Needs: apt-get install fluidsynth fluid-soundfont-gm timgm6mb-soundfont",
        epilog=_flags.examples(
            "torchmusic datasets build renders --out renders",
            "torchmusic datasets build renders --out renders --count 100 --seconds 30",
            "torchmusic datasets build renders --out renders --collections bach monteverdi",
        ),
    )
    r.add_argument("--out", "-o", required=True, metavar="DIR", help="output folder")
    r.add_argument("--count", type=int, default=800, help="pieces to render (default 800)")
    r.add_argument("--seconds", type=float, default=45.0, help="window per piece (default 45)")
    r.add_argument("--collections", nargs="+", default=None, help="music21 corpus folders")
    r.add_argument("--soundfont", nargs="+", default=None, help="GM .sf2 file(s) to draw from")
    r.add_argument("--seed", type=int, default=0, help="seed of choice, instruments and tempo")
    r.add_argument("--workers", type=int, default=None, help="worker processes (default: CPUs)")
    r.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    r.set_defaults(handler="torchmusic.cli.datasets_cmd:build_renders")
    k = bsub.add_parser(
        "drums",
        help="drum hits: Debian's hydrogen-drumkits, 8 classes, kit-disjoint folds",
        description="Write DIR/drums/drums.csv (the first second of every mapped sample as "
        "WAV, columns path,label,kit,instrument,license) and one manifest per kit-disjoint "
        "fold, DIR/drums/drums_fold<i>.csv, with a split column (training rows balanced "
        "by repetition). Needs: apt-get install hydrogen-drumkits",
        epilog=_flags.examples(
            "torchmusic datasets build drums --out drums",
            "torchmusic datasets build drums --out drums --folds 5",
            "torchmusic datasets build drums --out drums --kits /usr/share/hydrogen/data/drumkits",
        ),
    )
    k.add_argument("--out", "-o", required=True, metavar="DIR", help="output folder")
    k.add_argument(
        "--kits",
        default=None,
        metavar="DIR",
        help="Hydrogen kit folder (default /usr/share/hydrogen/data/drumkits)",
    )
    k.add_argument("--folds", type=int, default=3, help="kit-disjoint folds (default 3)")
    k.add_argument("--seed", type=int, default=0, help="seed of the fold assignment")
    k.set_defaults(handler="torchmusic.cli.datasets_cmd:build_drums")

    p = sub.add_parser(
        "train",
        help="train models",
        description="Train a model; each task writes a run folder (or, for recommenders, a "
        "model file). Settings come from --config YAML, then the flags, then '--key value' "
        "overrides (both --max-epochs and --max_epochs spellings).",
        epilog=_flags.examples(
            "torchmusic train classify --data my_music/ --arch shortchunk --out runs/mine",
            "torchmusic train lm --config configs/folk.yaml --data folk --out runs/folk",
            "torchmusic train recommend --config configs/lastfm.yaml --data lastfm_2k/ --out hybrid.safetensors",
        ),
    )
    tsub = p.add_subparsers(dest="train_task", metavar="TASK", required=True)
    t = tsub.add_parser(
        "classify",
        help="train a genre / instrument / tag classifier from a folder or manifest",
        description="Train a classifier. Settings come from --config YAML, then from the "
        "flags below, then from any further '--key value' overrides (dotted keys reach "
        "nested settings, e.g. --augment.mixup 0.2).",
        epilog=_flags.examples(
            "torchmusic train classify --data my_music/ --arch shortchunk --out runs/mine",
            "torchmusic train classify --data my_music/ --arch mfcc-svm --out runs/svm   # the baseline",
            "torchmusic train classify --data my_music/ --backbone music-embed --out runs/probe   # linear probe",
        ),
    )
    t.add_argument("--data", required=True, help="class-per-folder root or manifest (CSV/JSONL)")
    _flags.add_training_options(
        t,
        arch_help="architecture to train: simple_cnn | crnn | shortchunk | mfcc-svm | backbone "
        "(default: --config's, else shortchunk; backbone with --backbone)",
        config_example="configs/gtzan.yaml",
    )
    t.add_argument(
        "--backbone",
        default=None,
        metavar="NAME|FILE",
        help="embedding model file or shipped name (music-embed) whose encoder the classifier "
        "uses; its features and clip length are the run's (implies --arch backbone)",
    )
    tune = t.add_mutually_exclusive_group()
    tune.add_argument(
        "--freeze",
        dest="freeze",
        action="store_const",
        const=True,
        default=None,
        help="with --backbone: keep the encoder fixed, train the head only (a linear probe; default)",
    )
    tune.add_argument(
        "--finetune",
        dest="freeze",
        action="store_const",
        const=False,
        help="with --backbone: train the encoder too, at lr x backbone_lr_scale (default 0.1)",
    )
    t.set_defaults(handler="torchmusic.cli.train_cmd:classify", accepts_overrides=True)

    p = sub.add_parser(
        "evaluate",
        help="evaluate a model file on labelled data (accuracy, F1, confusion matrix, JSON)",
        description="Score a classifier model file (or a shipped model) on labelled audio: "
        "a class-per-folder root or a manifest. The model is MODEL or --model.",
        epilog=_flags.examples(
            "torchmusic evaluate runs/mine/model.safetensors --data my_music/ --split test --out eval/",
            "torchmusic evaluate --model drums --data kit/",
            "torchmusic evaluate runs/gtzan/model.safetensors --data gtzan/genres --split-lists test=test_filtered.txt",
        ),
    )
    p.add_argument(
        "model_path",
        nargs="?",
        default=None,
        metavar="MODEL",
        help="model file or shipped model name (or --model)",
    )
    p.add_argument("--model", "-m", default=None, help="model file or shipped model name")
    p.add_argument("--data", required=True, help="class-per-folder root or manifest")
    p.add_argument("--split", default=None, help="evaluate only this split (e.g. test)")
    p.add_argument(
        "--split-lists",
        nargs="+",
        default=None,
        metavar="NAME=FILE",
        help="split lists to apply first, e.g. test=gtzan_splits/test_filtered.txt",
    )
    p.add_argument("--label-column", default=None, help="manifest column with the labels")
    p.add_argument(
        "--allow-seen-tracks",
        action="store_true",
        help="score a held-out split even when the model's training run saw some of its tracks",
    )
    p.add_argument(
        "--out", "-o", default=None, metavar="DIR", help="folder for report.json and plots"
    )
    p.add_argument("--hop-seconds", type=float, default=None, help="window hop (default: clip)")
    p.add_argument("--device", default="cpu", help=_flags.DEVICE_HELP)
    p.add_argument("--allow-failures", action="store_true", help="exit 0 even if some files failed")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(handler="torchmusic.cli.evaluate_cmd:run")
    _flags.after_parse(p, _flags.model_positional_or_flag)

    p = sub.add_parser(
        "predict",
        help="label audio files with a model file (top-k per track, optional timeline)",
        description="Predict labels for audio files and folders. The model is --model "
        "(a model file or a shipped model name such as 'drums') or else the first PATH.",
        epilog=_flags.examples(
            "torchmusic predict --model drums kick.wav snare.wav --top-k 2",
            "torchmusic predict -m drums samples/ --format json --out predictions.json",
            "torchmusic predict runs/mine/model.safetensors song.mp3 more_music/ -k 3 --timeline",
        ),
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="[MODEL] audio files or folders")
    p.add_argument("--model", "-m", default=None, help="model file or shipped model name")
    p.add_argument(
        "--top-k", "-k", type=int, metavar="N", default=3, help="labels shown per track (default 3)"
    )
    p.add_argument("--timeline", action="store_true", help="also print per-segment labels")
    p.add_argument("--hop-seconds", type=float, default=None, help="window hop (default: clip)")
    p.add_argument(
        "--format", choices=("table", "json", "csv"), default="table", help="output format"
    )
    p.add_argument(
        "--out",
        "-o",
        default=None,
        metavar="FILE",
        help="write the results to this file; FILE.jsonl: one line per file as it finishes, "
        "and a rerun continues where a killed run stopped",
    )
    p.add_argument("--restart", action="store_true", help="--out FILE.jsonl: start over")
    _flags.add_pipeline_options(
        p, batch_size=64, batch_help="clip windows per forward pass, across tracks (default 64)"
    )
    p.add_argument("--device", default="cpu", help=_flags.DEVICE_HELP)
    p.add_argument("--allow-failures", action="store_true", help="exit 0 even if some files failed")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    add_engine_options(p)  # --engine ray: --out X.parquet|.jsonl is a table (docs/scale.md)
    p.set_defaults(handler="torchmusic.cli.predict_cmd:run")

    p = sub.add_parser(
        "demo",
        help="the README's main job: demo corpus -> features -> train -> evaluate -> predict",
        description="Build the demo corpus, compute features, train a classifier, evaluate "
        "it and predict with it, all in one working folder (offline; resumable).",
        epilog=_flags.examples(
            "torchmusic demo --out demo_out",
            "torchmusic demo --out small_demo --per-class 8 --epochs 2",
        ),
    )
    p.add_argument(
        "--out", "-o", default="demo_out", metavar="DIR", help="working folder (default: demo_out)"
    )
    p.add_argument("--per-class", type=int, default=50, help="tracks per tune type (default 50)")
    p.add_argument("--seed", type=int, default=0, help="seed of the corpus, split and training")
    p.add_argument("--epochs", type=int, default=10, help="training epochs (default 10)")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: CPUs)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(handler="torchmusic.cli.demo_cmd:run")

    # Each area registers its own commands (argparse only, no heavy imports), so
    # the symbolic and recommendation layers can grow without touching this file.
    for register in (register_symbolic, register_recommend, register_audio, register_serve):
        register(sub, datasets=bsub, train=tsub)
    _flags.add_underscore_aliases(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and isinstance(getattr(args, "paths", None), list):
        # argparse stops filling a nargs="+" positional at the first option, so in
        # `predict drums --top-k 2 a.wav b.wav` the files after the option come back
        # as leftovers: they are more paths.
        paths = [t for t in extra if not t.startswith("-")]
        if len(paths) == len(extra):
            args.paths.extend(paths)
            extra = []
    if extra and not getattr(args, "accepts_overrides", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.overrides = extra
    _flags.run_checks(args)
    if args.version:
        from torchmusic import __version__

        print(__version__)
        return 0
    if args.command is None:
        parser.print_help()
        return 2
    module_name, func_name = args.handler.split(":")
    handler = getattr(importlib.import_module(module_name), func_name)

    from torchmusic.errors import TorchMusicError

    try:
        return int(handler(args) or 0)
    except TorchMusicError as exc:
        print(f"torchmusic: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("torchmusic: interrupted; finished work is kept, rerun to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
