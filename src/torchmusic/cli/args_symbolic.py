"""Argument parsers for symbolic music: `datasets build folk`, `train lm`, `generate`, `interpolate`.

Argparse only: this module is imported by ``torchmusic --help`` and must not import
torch, numpy or any other heavy package. Handlers are named as ``"module:function"``
strings and imported when their command runs.
"""

from __future__ import annotations

import argparse


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
    )
    d.add_argument("--out", "-o", required=True, help="output folder")
    d.add_argument(
        "--collections",
        default=None,
        help="comma-separated subset of: essen,oneills,ryans,aird (default: all)",
    )
    d.add_argument("--limit", type=int, default=None, help="at most this many tunes per collection")
    d.add_argument("--seed", type=int, default=0, help="seed of the train/valid/test split")
    d.add_argument("--workers", type=int, default=None)
    d.add_argument("--no-progress", action="store_true")
    d.set_defaults(handler="torchmusic.cli.symbolic_cmd:build_folk")

    t = train.add_parser(
        "lm",
        help="train a symbolic music model (transformer, lstm, vae, pianoroll) on MIDI",
        description="Train a generative model on MIDI. --data is a folder of MIDI files, a "
        "folk corpus folder (metadata.csv gives conditions and splits) or a JSB Chorales "
        "JSON file (pianoroll). Settings come from --config YAML, then the flags, then "
        "'--key value' overrides.",
    )
    t.add_argument("--data", required=True, help="MIDI folder, folk corpus folder or JSB .json")
    t.add_argument("--model", default=None, help="transformer | lstm | vae | pianoroll")
    t.add_argument("--config", default=None, help="YAML recipe, e.g. configs/folk.yaml")
    t.add_argument("--out", "-o", default=None, help="run folder (default: runs/<name>)")
    t.add_argument("--resume", action="store_true", help="continue the run in --out after a kill")
    t.add_argument("--devices", default=None, help="devices per node (Lightning): 1, 4, auto")
    t.add_argument("--num-nodes", type=int, default=None, help="machines (DDP through Lightning)")
    t.add_argument("--accelerator", default=None, help="cpu | gpu | auto")
    t.add_argument("--no-progress", action="store_true")
    t.set_defaults(handler="torchmusic.cli.lm_cmd:train", accepts_overrides=True)

    p = sub.add_parser(
        "generate",
        help="generate MIDI (+ piano-roll PNG, + WAV with FluidSynth) from a model file",
        description="Generate pieces with a model file or a shipped model ('folk'). "
        "Writes OUT/NAME.mid, a piano-roll PNG each and a WAV each when FluidSynth is "
        "installed. Reproducible with --seed.",
    )
    p.add_argument("model_path", nargs="?", default=None, metavar="MODEL", help="model file")
    p.add_argument("--model", "-m", default=None, help="model file or shipped name ('folk')")
    p.add_argument("-n", "--num", type=int, default=4, help="pieces to generate")
    p.add_argument("--bars", type=int, default=16, help="length in bars")
    p.add_argument("--max-tokens", type=int, default=None, help="cap on generated tokens")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--top-p", type=float, default=0.95, help="nucleus sampling (1 = off)")
    p.add_argument("--top-k", type=int, default=0, help="top-k sampling (0 = off)")
    p.add_argument("--prime", default=None, help="MIDI file to continue")
    p.add_argument(
        "--condition",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="conditioning, e.g. --condition tune_type=reel --condition key=D (repeatable)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", "-o", default="generated", help="output folder")
    p.add_argument("--no-wav", action="store_true", help="skip WAV rendering")
    p.add_argument("--no-png", action="store_true", help="skip piano-roll images")
    p.add_argument("--device", default="cpu")
    p.set_defaults(handler="torchmusic.cli.generate_cmd:generate")

    p = sub.add_parser(
        "interpolate",
        help="walk a VAE's latent space from one MIDI file to another",
    )
    p.add_argument("model_path", metavar="MODEL", help="VAE model file")
    p.add_argument("start", metavar="A.mid")
    p.add_argument("end", metavar="B.mid")
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", "-o", default="interpolated", help="output folder")
    p.add_argument("--no-wav", action="store_true")
    p.add_argument("--no-png", action="store_true")
    p.add_argument("--device", default="cpu")
    p.set_defaults(handler="torchmusic.cli.generate_cmd:interpolate")
