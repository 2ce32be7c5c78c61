"""``torchmusic generate`` and ``torchmusic interpolate``: model file -> MIDI (+ PNG, + WAV).

Each piece is written as ``OUT/NAME.mid`` with a piano-roll image ``OUT/NAME.png``
and, when the ``fluidsynth`` program and a General MIDI soundfont are installed, a
rendering ``OUT/NAME.wav``. Piece ``i`` (from 0) is sampled with seed ``seed + i``
on a CPU random generator, so a command run twice writes the same files.

Lightning is never imported here: generation only needs the model file, the
networks and the symbolic data layer.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from torchmusic.errors import DataError, ParameterError

# Token budget per bar when the model file does not record one (REMI folk tunes
# use about 25-35); --max-tokens overrides the budget.
DEFAULT_TOKENS_PER_BAR = 48.0


def _parse_conditions(items: list[str]) -> dict[str, str]:
    """``["tune_type=jig", "key=D"]`` -> ``{"tune_type": "jig", "key": "D"}``."""
    out: dict[str, str] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or not key.strip() or not value.strip():
            raise ParameterError(f"--condition {item!r}: expected KEY=VALUE, e.g. tune_type=reel")
        out[key.strip()] = value.strip()
    return out


def _check_common(args: argparse.Namespace) -> None:
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


# -- token language models ----------------------------------------------------------------
def _token_budget(args: argparse.Namespace, spec: Any) -> int:
    if args.max_tokens is not None:
        return args.max_tokens
    per_bar = (spec.extra or {}).get("tokens_per_bar") or DEFAULT_TOKENS_PER_BAR
    # Twice the mean: the Bar count normally stops generation long before this.
    return int(args.bars * float(per_bar) * 2) + 16


def _bar_stopper(bar_id: int | None, bars: int) -> Any:
    """``stop(new_tokens)``: True when the bar after the last wanted one starts."""
    if bar_id is None:
        return None

    def stop(new: list[int]) -> bool:
        return new[-1] == bar_id and new.count(bar_id) > bars

    return stop


def _primer_ids(path: str, tok: Any) -> list[int]:
    from torchmusic.symbolic import encode, read_midi

    return encode(read_midi(path), tok, source=path)


def _generate_tokens(
    model: Any, spec: Any, args: argparse.Namespace, writer: _Writer, stem: str
) -> None:
    from torchmusic.models.symbolic import generate as sample_tokens
    from torchmusic.symbolic import ConditionVocab, decode, tokenizer_from_dict

    tok = tokenizer_from_dict(spec.tokenizer)
    conditions = _parse_conditions(args.condition)
    prefix: list[int] = []
    vocab = ConditionVocab.from_dict(spec.conditions) if spec.conditions else None
    if vocab is not None:
        prefix = vocab.encode(conditions)  # unknown field/value: error listing valid ones
    elif conditions:
        raise ParameterError(
            f"--condition {', '.join(conditions)}: this model was trained without conditions"
        )
    bos, eos, pad = tok["BOS_None"], tok["EOS_None"], tok.pad_token_id
    primer = _primer_ids(args.prime, tok) if args.prime else []
    prompt = [*prefix, bos, *primer]
    block = getattr(model.config, "block_size", None)
    if block is not None and len(prompt) > block:
        raise ParameterError(
            f"primer {args.prime} is {len(primer)} tokens ({len(prompt)} with the condition "
            f"and start tokens), longer than the model's context of {block} tokens; use a "
            "shorter primer (e.g. its first bars)"
        )
    bar_id = tok.vocab.get("Bar_None")
    suppress = [bos, pad, *(range(vocab.offset, vocab.offset + vocab.size) if vocab else [])]
    label = ", ".join(f"{k}={v}" for k, v in conditions.items())
    for i in range(args.num):
        seed = args.seed + i
        new = sample_tokens(
            model,
            prompt,
            max_new_tokens=_token_budget(args, spec),
            temperature=args.temperature,
            top_k=args.top_k,
            top_p=args.top_p,
            seed=seed,
            eos_id=eos,
            stop=_bar_stopper(bar_id, args.bars),
            suppress=suppress,
        )
        if bar_id is not None and new and new[-1] == bar_id and new.count(bar_id) > args.bars:
            new = new[:-1]  # the first token of the bar after the last wanted one
        score = decode([*primer, *new], tok)
        title = f"{stem} seed {seed}" + (f" ({label})" if label else "")
        writer.write(score, f"{stem}-{seed}", title=title)


# -- VAE and piano-roll models ------------------------------------------------------------
def _trim_vae(ids: list[int], tok: Any, bars: int | None) -> list[int]:
    """Cut a decoded VAE window at EOS and after ``bars`` bars."""
    eos, bar_id = tok["EOS_None"], tok.vocab.get("Bar_None")
    if eos in ids:
        ids = ids[: ids.index(eos)]
    if bars is not None and bar_id is not None:
        seen = 0
        for j, t in enumerate(ids):
            seen += t == bar_id
            if seen > bars:
                return ids[:j]
    return ids


def _generate_vae(
    model: Any, spec: Any, args: argparse.Namespace, writer: _Writer, stem: str
) -> None:
    from torchmusic.symbolic import decode, tokenizer_from_dict

    if args.prime or args.condition:
        raise ParameterError(
            "--prime and --condition need a token language model; a VAE samples from "
            "its latent space (see also 'torchmusic interpolate')"
        )
    tok = tokenizer_from_dict(spec.tokenizer)
    for i in range(args.num):
        seed = args.seed + i
        z = model.prior(1, seed=seed)
        ids = model.sample(
            z, temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, seed=seed
        )
        ids = _trim_vae([int(t) for t in ids[0].tolist()], tok, args.bars)
        writer.write(decode(ids, tok), f"{stem}-{seed}", title=f"{stem} seed {seed}")


def _generate_pianoroll(model: Any, args: argparse.Namespace, writer: _Writer, stem: str) -> None:
    from torchmusic.symbolic import pianoroll_to_score, read_midi, score_to_pianoroll

    if args.condition:
        raise ParameterError("--condition: piano-roll models are not conditioned")
    # JSB piano-roll models see one frame per quarter note; 4/4 bars.
    steps, frames = 1, args.bars * 4
    prime = None
    if args.prime:
        prime = score_to_pianoroll(read_midi(args.prime), steps_per_quarter=steps)
    for i in range(args.num):
        seed = args.seed + i
        roll = model.sample(frames, prime=prime, temperature=args.temperature, seed=seed)
        score = pianoroll_to_score(roll.numpy(), steps_per_quarter=steps)
        writer.write(score, f"{stem}-{seed}", title=f"{stem} seed {seed}")


def generate(args: argparse.Namespace) -> int:
    """Handler of ``torchmusic generate`` (returns the exit status)."""
    import torch

    from torchmusic.models.symbolic import load_generator

    _check_common(args)
    name = _model_name(args)
    model, spec = load_generator(name, device=args.device)
    stem = Path(name).stem if Path(name).suffix else name
    writer = _Writer(Path(args.out), png=not args.no_png, wav=not args.no_wav)
    with torch.no_grad():
        if spec.kind == "tokens":
            _generate_tokens(model, spec, args, writer, stem)
        elif spec.kind == "vae":
            _generate_vae(model, spec, args, writer, stem)
        elif spec.kind == "pianoroll":
            _generate_pianoroll(model, args, writer, stem)
        else:  # pragma: no cover - load_generator validates kinds
            raise DataError(f"model file {name}: unknown kind {spec.kind!r}")
    writer.report()
    return 0


# -- interpolate --------------------------------------------------------------------------
def _vae_window(path: str, tok: Any, seq_len: int) -> list[int]:
    """The first ``seq_len`` ids of a MIDI file as the VAE saw them in training:
    BOS, the piece's tokens, EOS, then PAD."""
    ids = [tok["BOS_None"], *_primer_ids(path, tok), tok["EOS_None"]][:seq_len]
    return ids + [tok.pad_token_id] * (seq_len - len(ids))


def interpolate(args: argparse.Namespace) -> int:
    """Handler of ``torchmusic interpolate``: ``steps + 2`` pieces from A's code to B's."""
    import torch

    from torchmusic.models.symbolic import load_generator
    from torchmusic.symbolic import decode, tokenizer_from_dict

    if args.steps < 0:
        raise ParameterError(f"--steps {args.steps}: must be >= 0 (pieces between A and B)")
    model, spec = load_generator(args.model_path, device=args.device, kind="vae")
    tok = tokenizer_from_dict(spec.tokenizer)
    seq_len = model.config.seq_len
    a = torch.tensor(_vae_window(args.start, tok, seq_len))
    b = torch.tensor(_vae_window(args.end, tok, seq_len))
    writer = _Writer(Path(args.out), png=not args.no_png, wav=not args.no_wav)
    total = args.steps + 2
    walk = model.interpolate(a, b, total, temperature=0.0, seed=args.seed)  # greedy decoding
    for i, ids in enumerate(walk):
        t = i / (total - 1)
        name = f"interp-{i:02d}"
        writer.write(decode(_trim_vae(ids, tok, None), tok), name, title=f"{name} (t={t:.2f})")
    writer.report()
    return 0
