"""Argument parsers for symbolic music: `datasets build folk`, `train lm`, `generate`, `interpolate`.

Argparse only: this module is imported by ``torchmusic --help`` and must not import
torch, numpy or any other heavy package. Handlers are named as ``"module:function"``
strings and imported when their command runs.
"""

from __future__ import annotations

import argparse

from torchmusic.cli._flags import (
    DEVICE_HELP,
    add_training_options,
    after_parse,
    deprecated,
    examples,
    model_then_files,
)


def register(
    sub: argparse._SubParsersAction,
    *,
    datasets: argparse._SubParsersAction,
    train: argparse._SubParsersAction,
) -> None:
    """Add this area's commands: top-level ones to ``sub``, dataset builders to
    ``datasets`` (``torchmusic datasets build NAME``) and training tasks to ``train``
    (``torchmusic train TASK``)."""
    d = datasets.add_parser(
        "folk",
        help="folk tunes from music21's bundled collections as MIDI + metadata",
        description="Write the folk corpus (Essen, O'Neill's 1850, Ryan's Mammoth "
        "Collection, Aird's Airs) as MIDI files plus metadata.csv (tune type, region, "
        "meter, key, source collection, split) offline. Tunes that fail to parse are "
        "skipped and counted. Resumable.",
        epilog=examples(
            "torchmusic datasets build folk --out folk",
            "torchmusic datasets build folk --out folk_small --collections essen,oneills --limit 200",
        ),
    )
    d.add_argument("--out", "-o", required=True, metavar="DIR", help="output folder")
    d.add_argument(
        "--collections",
        default=None,
        help="comma-separated subset of: essen,oneills,ryans,aird (default: all)",
    )
    d.add_argument("--limit", type=int, default=None, help="at most this many tunes per collection")
    d.add_argument("--seed", type=int, default=0, help="seed of the train/valid/test split")
    d.add_argument("--workers", type=int, default=None, help="worker processes (default: CPUs)")
    d.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    d.set_defaults(handler="torchmusic.cli.symbolic_cmd:build_folk")

    t = train.add_parser(
        "lm",
        help="train a symbolic music model (transformer, lstm, vae, pianoroll) on MIDI",
        description="Train a generative model on MIDI. --data is a folder of MIDI files, a "
        "folk corpus folder (metadata.csv gives conditions and splits) or a JSB Chorales "
        "JSON file (pianoroll). Settings come from --config YAML, then the flags, then "
        "'--key value' overrides.",
        epilog=examples(
            "torchmusic train lm --data my_midi/ --max-minutes 6 --out runs/mine",
            "torchmusic train lm --config configs/folk.yaml --data folk --out runs/folk",
            "torchmusic train lm --data jsb-chorales-quarter.json --arch pianoroll --config configs/jsb.yaml",
        ),
    )
    t.add_argument("--data", required=True, help="MIDI folder, folk corpus folder or JSB .json")
    add_training_options(
        t,
        arch_help="architecture to train: transformer | lstm | vae | pianoroll "
        "(default: --config's, else pianoroll for a .json, else transformer)",
        config_example="configs/folk.yaml",
    )
    t.set_defaults(handler="torchmusic.cli.lm_cmd:train", accepts_overrides=True)

    p = sub.add_parser(
        "generate",
        help="generate MIDI (+ piano-roll PNG, + WAV with FluidSynth) from a model file",
        description="Generate pieces with a model file or a shipped model ('folk'). "
        "Writes OUT/NAME.mid, a piano-roll PNG each and a WAV each when FluidSynth is "
        "installed. Reproducible with --seed.",
        epilog=examples(
            "torchmusic generate --model folk -n 4 --condition tune_type=jig --out out/",
            "torchmusic generate -m folk -n 1 --bars 4 --seed 3 --no-wav --out out/",
            "torchmusic generate runs/folk/model.safetensors -n 8 --top-p 0.9 --sample-top-k 40 --out out/",
        ),
    )
    p.add_argument(
        "model_path",
        nargs="?",
        default=None,
        metavar="MODEL",
        help="model file or shipped name (or --model)",
    )
    p.add_argument("--model", "-m", default=None, help="model file or shipped name ('folk')")
    p.add_argument("-n", "--num", type=int, default=4, help="pieces to generate (default 4)")
    p.add_argument("--bars", type=int, default=16, help="length in bars (default 16)")
    p.add_argument("--max-tokens", type=int, default=None, help="cap on generated tokens")
    p.add_argument(
        "--temperature", type=float, default=1.0, help="sampling temperature (0 = greedy)"
    )
    p.add_argument("--top-p", type=float, default=0.95, help="nucleus sampling (1 = off)")
    p.add_argument(
        "--sample-top-k",
        type=int,
        default=0,
        metavar="K",
        help="sample from the k likeliest tokens (0 = off)",
    )
    deprecated(
        p,
        "--top-k",
        new="--sample-top-k",
        dest="sample_top_k",
        type=int,
        note="--top-k means 'how many results' in other commands",
    )
    p.add_argument("--prime", default=None, metavar="MIDI", help="MIDI file to continue")
    p.add_argument(
        "--condition",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="conditioning, e.g. --condition tune_type=reel --condition key=D (repeatable)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the first piece (then +1 each)")
    p.add_argument(
        "--out", "-o", default="generated", metavar="DIR", help="output folder (default: generated)"
    )
    p.add_argument("--no-wav", action="store_true", help="skip WAV rendering")
    p.add_argument("--no-png", action="store_true", help="skip piano-roll images")
    p.add_argument("--device", default="cpu", help=DEVICE_HELP)
    p.set_defaults(handler="torchmusic.cli.generate_cmd:generate")

    p = sub.add_parser(
        "interpolate",
        help="walk a VAE's latent space from one MIDI file to another",
        description="Encode A.mid and B.mid with a VAE model file and decode STEPS pieces "
        "in between (plus A and B): OUT/interp-NN.mid, + PNG, + WAV with FluidSynth. "
        "The model is the first FILE or --model.",
        usage="%(prog)s [-h] [--model MODEL] [options] [MODEL] A.mid B.mid",
        epilog=examples(
            "torchmusic interpolate runs/vae/model.safetensors a.mid b.mid --steps 8 --out interp/",
            "torchmusic interpolate --model runs/vae/model.safetensors a.mid b.mid --no-wav --out interp/",
        ),
    )
    p.add_argument("paths", nargs="+", metavar="FILE", help="[MODEL] A.mid B.mid")
    p.add_argument("--model", "-m", default=None, help="VAE model file")
    p.add_argument("--steps", type=int, default=8, help="pieces between A and B (default 8)")
    p.add_argument("--seed", type=int, default=0, help="seed of the decoding")
    p.add_argument(
        "--out",
        "-o",
        default="interpolated",
        metavar="DIR",
        help="output folder (default: interpolated)",
    )
    p.add_argument("--no-wav", action="store_true", help="skip WAV rendering")
    p.add_argument("--no-png", action="store_true", help="skip piano-roll images")
    p.add_argument("--device", default="cpu", help=DEVICE_HELP)
    p.set_defaults(handler="torchmusic.cli.generate_cmd:interpolate")
    after_parse(p, model_then_files(start="A.mid", end="B.mid"))
