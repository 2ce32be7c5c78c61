"""``torchmusic generate`` and ``torchmusic interpolate``: model file -> MIDI (+ PNG, + WAV).

Each piece is written as ``OUT/NAME.mid`` with a piano-roll image ``OUT/NAME.png``
and, when the ``fluidsynth`` program and a General MIDI soundfont are installed, a
rendering ``OUT/NAME.wav``. Piece ``i`` (from 0) is sampled with seed ``seed + i``
on a CPU random generator, so a command run twice writes the same files.

The generation policy (conditions, priming, bar counting, empty-piece refusal) is
:func:`torchmusic.symbolic.generate_pieces` / :func:`~torchmusic.symbolic.interpolate_pieces`;
this module parses flags and writes files. Lightning is never imported here:
generation only needs the model file, the networks and the symbolic data layer.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from torchmusic.errors import ParameterError


def _parse_conditions(items: list[str]) -> dict[str, str]:
    """``["tune_type=jig", "key=D"]`` -> ``{"tune_type": "jig", "key": "D"}``."""
    out: dict[str, str] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or not key.strip() or not value.strip():
            raise ParameterError(f"--condition {item!r}: expected KEY=VALUE, e.g. tune_type=reel")
        out[key.strip()] = value.strip()
    return out


def _check_out(args: argparse.Namespace) -> None:
    """``--out`` must be a folder (or new) before any piece is generated (the rule of
    ``torchmusic.data.discover.check_output_folder``, which generate must not import)."""
    out = Path(args.out)
    for path in (out, *out.parents):
        if path.exists() and not path.is_dir():
            raise ParameterError(
                f"--out {str(out)!r} is an existing file; expected a folder (existing or new)"
                if path == out
                else f"--out {str(out)!r}: {str(path)!r} is a file, not a folder"
            )


def _check_common(args: argparse.Namespace) -> None:
    _check_out(args)
    if args.num < 1:
        raise ParameterError(f"-n {args.num}: must be >= 1 piece")
    if args.bars < 1:
        raise ParameterError(f"--bars {args.bars}: must be >= 1")
    if args.max_tokens is not None and args.max_tokens < 1:
        raise ParameterError(f"--max-tokens {args.max_tokens}: must be >= 1")


def _model_name(args: argparse.Namespace) -> str:
    if args.model and args.model_path and args.model != args.model_path:
        raise ParameterError(
            f"two models given ({args.model_path!r} and --model {args.model!r}); give one"
        )
    name = args.model or args.model_path
    if not name:
        raise ParameterError("no model: give a model file or a shipped name, e.g. --model folk")
    return name


class _Writer:
    """Writes one piece as MIDI + PNG (+ WAV) and remembers what it wrote."""

    def __init__(self, out: Path, *, png: bool, wav: bool) -> None:
        self.out, self.png, self.wav = out, png, wav
        self.no_fluidsynth = False
        self.written: list[Path] = []

    def write(self, score: Any, name: str, *, title: str) -> None:
        from torchmusic.symbolic import plot_pianoroll, render_wav, write_midi

        self.written.append(write_midi(score, self.out / f"{name}.mid"))
        if score.note_num() == 0:
            print(f"torchmusic: {name}: no notes were generated", file=sys.stderr)
        if self.png:
            self.written.append(plot_pianoroll(score, self.out / f"{name}.png", title=title))
        if self.wav and not self.no_fluidsynth and score.note_num() > 0:
            wav = render_wav(score, self.out / f"{name}.wav")
            if wav is None:
                self.no_fluidsynth = True  # say it once, at the end
            else:
                self.written.append(wav)

    def report(self) -> None:
        for path in self.written:
            print(path)
        if self.no_fluidsynth:
            print(
                "torchmusic: no WAV files: FluidSynth or a General MIDI soundfont is not "
                "installed (e.g. apt-get install fluidsynth timgm6mb-soundfont)",
                file=sys.stderr,
            )


def write_pieces(
    scores: list[Any], out: Path, *, names: list[str], titles: list[str], png: bool, wav: bool
) -> None:
    """Write each score as ``OUT/NAME.mid`` (+ PNG, + WAV) and print the paths written."""
    writer = _Writer(out, png=png, wav=wav)
    for score, name, title in zip(scores, names, titles, strict=True):
        writer.write(score, name, title=title)
    writer.report()


def generate(args: argparse.Namespace) -> int:
    """Handler of ``torchmusic generate`` (returns the exit status)."""
    from torchmusic.models.symbolic import load_generator
    from torchmusic.symbolic import generate_pieces

    _check_common(args)
    name = _model_name(args)
    conditions = _parse_conditions(args.condition)
    loaded = load_generator(name, device=args.device)
    # Every piece is generated (and checked for notes) before the first file is written.
    scores = generate_pieces(
        loaded, n=args.num, bars=args.bars, conditions=conditions, prime=args.prime,
        temperature=args.temperature, top_k=args.sample_top_k, top_p=args.top_p, seed=args.seed,
        max_tokens=args.max_tokens,
    )  # fmt: skip
    stem = Path(name).stem if Path(name).suffix else name
    label = ", ".join(f"{k}={v}" for k, v in conditions.items())
    seeds = [args.seed + i for i in range(args.num)]
    write_pieces(
        scores,
        Path(args.out),
        names=[f"{stem}-{seed}" for seed in seeds],
        titles=[f"{stem} seed {seed}" + (f" ({label})" if label else "") for seed in seeds],
        png=not args.no_png,
        wav=not args.no_wav,
    )
    return 0


def interpolate(args: argparse.Namespace) -> int:
    """Handler of ``torchmusic interpolate``: ``steps + 2`` pieces from A's code to B's."""
    from torchmusic.symbolic import interpolate_pieces

    if args.steps < 0:
        raise ParameterError(f"--steps {args.steps}: must be >= 0 (pieces between A and B)")
    _check_out(args)
    scores = interpolate_pieces(
        args.model_path, args.start, args.end, steps=args.steps, seed=args.seed, device=args.device
    )
    total = args.steps + 2
    names = [f"interp-{i:02d}" for i in range(total)]
    write_pieces(
        scores,
        Path(args.out),
        names=names,
        titles=[f"{name} (t={i / (total - 1):.2f})" for i, name in enumerate(names)],
        png=not args.no_png,
        wav=not args.no_wav,
    )
    return 0
