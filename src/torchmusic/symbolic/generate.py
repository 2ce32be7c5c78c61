"""Generating pieces from a generator model: the policy behind ``torchmusic generate``.

:func:`generate_pieces` turns a generator model file (a token language model, a
token VAE or a piano-roll model) into scores; :func:`interpolate_pieces` walks a
VAE's latent space between two pieces. The CLI commands ``generate``, ``interpolate``
and ``demo`` call these functions and only add file writing.

What lives here and not in the networks: the condition prefix (``tune_type=jig`` ->
condition token ids before BOS), the tokens never to sample (BOS, PAD, condition
tokens), the token budget per bar, stopping after ``bars`` bars, trimming VAE
windows at EOS, priming, and the refusal of empty pieces.

Piece ``i`` (from 0) is sampled with seed ``seed + i`` on a CPU random generator, so
equal arguments give equal pieces on any device.

Examples
--------
>>> from torchmusic.symbolic import generate_pieces, write_midi
>>> scores = generate_pieces("folk", n=2, bars=8, conditions={"tune_type": "jig"},
...                          top_p=0.95, seed=0)  # doctest: +SKIP
>>> write_midi(scores[0], "jig.mid")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch

from torchmusic.errors import DataError, ParameterError
from torchmusic.symbolic._gencheck import EmptyPieceError, Request, check_settings, empty_piece
from torchmusic.symbolic._gentokens import sample_token_pieces

if TYPE_CHECKING:
    from symusic import Score
    from torch import nn

    from torchmusic.models.symbolic import GeneratorSpec

__all__ = ["EmptyPieceError", "generate_pieces", "interpolate_pieces", "trim_vae"]


def _resolve(model: Any, device: str | torch.device | None, kind: str | None = None) -> tuple:
    """``(network, spec)`` from a path / shipped name (loaded) or a loaded pair (as is)."""
    from torchmusic.models.symbolic import GeneratorSpec, load_generator

    if isinstance(model, str | os.PathLike):
        return load_generator(model, device=device or "cpu", kind=kind)
    if (
        isinstance(model, tuple)
        and len(model) == 2
        and isinstance(model[0], torch.nn.Module)
        and isinstance(model[1], GeneratorSpec)
    ):
        if kind is not None and model[1].kind != kind:
            raise ParameterError(
                f"model is a {model[1].kind!r} generator; this needs a {kind!r} model"
            )
        return model
    raise ParameterError(
        f"model={type(model).__name__}: expected a model file, a shipped model name "
        "('folk') or the (model, spec) pair returned by load_generator"
    )


def generate_pieces(
    model: str | os.PathLike[str] | tuple[nn.Module, GeneratorSpec],
    *,
    n: int = 1,
    bars: int = 16,
    conditions: Mapping[str, str] | None = None,
    prime: str | os.PathLike[str] | Score | None = None,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int = 0,
    max_tokens: int | None = None,
    device: str | torch.device | None = None,
) -> list[Score]:
    """Generate ``n`` pieces of about ``bars`` bars with a generator model.

    Parameters
    ----------
    model : str, os.PathLike or tuple (nn.Module, GeneratorSpec)
        A generator model file, the name of a shipped model (``"folk"``), or the
        ``(model, spec)`` pair returned by
        :func:`~torchmusic.models.symbolic.load_generator` (reused as is: load once,
        generate many times).
    n : int
        Pieces to generate (>= 1); piece ``i`` uses seed ``seed + i``.
    bars : int
        Length in bars (>= 1). Token models stop when bar ``bars + 1`` starts (bars
        after a primer are counted); piano-roll models generate ``4 * bars`` quarter
        note frames (4/4).
    conditions : mapping of str to str, optional
        Condition values of a conditioned token model, e.g. ``{"tune_type": "jig",
        "key": "D"}``; unknown fields or values raise :class:`ParameterError` listing
        the valid ones. Fields left out mean "any".
    prime : str, os.PathLike or symusic.Score, optional
        A MIDI file (or score) to continue. The piece starts with the primer; for
        token models primer + condition + BOS tokens must fit the model's context
        (``block_size``). Not for VAEs.
    temperature : float
        Sampling temperature (>= 0, finite). ``0`` is greedy decoding (argmax) for
        token models and VAEs; piano-roll models need ``> 0``.
    top_k : int, optional
        Keep the ``top_k`` most likely tokens (None or 0 = off). Token models and VAEs.
    top_p : float, optional
        Nucleus sampling in (0, 1] (None or 1 = off). Token models and VAEs; the
        CLI's default is 0.95.
    seed : int
        Seed of the first piece.
    max_tokens : int, optional
        Cap on generated tokens (token models). Default: twice the model's recorded
        tokens per bar (48 when not recorded) times ``bars``, plus 16.
    device : str or torch.device, optional
        Where a model given by path is loaded (default CPU); ignored for a loaded pair.

    Returns
    -------
    list of symusic.Score
        ``n`` scores, each with at least one note; token models' scores hold one
        merged track as the tokenizer decodes it, piano-roll scores one piano track.

    Raises
    ------
    ParameterError
        A bad setting (naming the value), conditions or a primer the model cannot take.
    EmptyPieceError
        A piece came out without notes (e.g. ``max_tokens`` too small, or the model
        ended the piece before its first note); nothing is returned.
    DataError
        The model file or the primer MIDI file is unusable (naming the file).

    Examples
    --------
    >>> from torchmusic.models.symbolic import load_generator
    >>> folk = load_generator("folk")  # doctest: +SKIP
    >>> greedy = generate_pieces(folk, n=1, bars=4, temperature=0)  # doctest: +SKIP
    >>> greedy[0].note_num() > 0  # doctest: +SKIP
    True
    """
    request = check_settings(
        n=n, bars=bars, conditions=conditions, prime=prime, temperature=temperature,
        top_k=top_k, top_p=top_p, seed=seed, max_tokens=max_tokens,
    )  # fmt: skip
    net, spec = _resolve(model, device)
    with torch.no_grad():
        if spec.kind == "tokens":
            return sample_token_pieces(net, spec, request)
        if spec.kind == "vae":
            return _vae_pieces(net, spec, request)
        if spec.kind == "pianoroll":
            return _pianoroll_pieces(net, request)
    raise DataError(f"generator of unknown kind {spec.kind!r}")  # pragma: no cover


# -- VAE and piano-roll models ------------------------------------------------------------
def trim_vae(ids: list[int], tok: Any, bars: int | None) -> list[int]:
    """Cut a decoded VAE window at EOS and after ``bars`` bars (None: no bar limit)."""
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


def _vae_pieces(net: Any, spec: Any, request: Request) -> list[Score]:
    from torchmusic.symbolic import decode, tokenizer_from_dict

    if request.prime is not None or request.conditions:
        raise ParameterError(
            "prime and conditions need a token language model; a VAE samples from its "
            "latent space (see also interpolate_pieces / 'torchmusic interpolate')"
        )
    tok = tokenizer_from_dict(spec.tokenizer)
    pieces = []
    for i in range(request.n):
        seed = request.seed + i
        z = net.prior(1, seed=seed)
        ids = net.sample(
            z, temperature=request.temperature, top_k=request.top_k, top_p=request.top_p,
            seed=seed,
        )  # fmt: skip
        score = decode(trim_vae([int(t) for t in ids[0].tolist()], tok, request.bars), tok)
        if score.note_num() == 0:
            raise empty_piece(i, request.n, seed, "the VAE decoded a window without notes")
        pieces.append(score)
    return pieces


def _pianoroll_pieces(net: Any, request: Request) -> list[Score]:
    from torchmusic.symbolic import pianoroll_to_score, read_midi, score_to_pianoroll

    if request.conditions:
        raise ParameterError(
            f"conditions {request.conditions}: piano-roll models are not conditioned"
        )
    if request.temperature == 0:
        raise ParameterError(
            "temperature=0: piano-roll models have no greedy decoding (every key is "
            "drawn on or off); use a temperature > 0, e.g. 0.5"
        )
    steps = 1  # JSB piano-roll models see one frame per quarter note; 4/4 bars.
    prime, frames = request.prime, request.bars * 4
    if prime is not None:
        score = read_midi(prime) if isinstance(prime, str | os.PathLike) else prime
        prime = score_to_pianoroll(score, steps_per_quarter=steps)
    pieces = []
    for i in range(request.n):
        seed = request.seed + i
        roll = net.sample(frames, prime=prime, temperature=request.temperature, seed=seed)
        score = pianoroll_to_score(roll.numpy(), steps_per_quarter=steps)
        if score.note_num() == 0:
            raise empty_piece(i, request.n, seed, f"all {frames} sampled frames are silent")
        pieces.append(score)
    return pieces


# -- interpolation ------------------------------------------------------------------------
def _vae_window(piece: Any, tok: Any, seq_len: int) -> list[int]:
    """The first ``seq_len`` ids of a piece as the VAE saw them in training:
    BOS, the piece's tokens, EOS, then PAD."""
    from torchmusic.symbolic import encode, read_midi

    if isinstance(piece, str | os.PathLike):
        body = encode(read_midi(piece), tok, source=str(piece))
    else:
        body = encode(piece, tok)
    ids = [tok["BOS_None"], *body, tok["EOS_None"]][:seq_len]
    return ids + [tok.pad_token_id] * (seq_len - len(ids))


def interpolate_pieces(
    model: str | os.PathLike[str] | tuple[nn.Module, GeneratorSpec],
    start: str | os.PathLike[str] | Score,
    end: str | os.PathLike[str] | Score,
    *,
    steps: int = 8,
    seed: int = 0,
    device: str | torch.device | None = None,
) -> list[Score]:
    """Walk a VAE's latent space from ``start``'s code to ``end``'s: ``steps + 2`` pieces.

    Each piece's first ``seq_len`` tokens (BOS, tokens, EOS, PAD) are encoded to their
    posterior means; the codes on the great circle between them (slerp, ``t = i /
    (steps + 1)``) are decoded greedily and cut at EOS.

    Parameters
    ----------
    model : str, os.PathLike or tuple (nn.Module, GeneratorSpec)
        A ``vae`` generator model file or the pair returned by ``load_generator``.
    start, end : str, os.PathLike or symusic.Score
        The two end pieces (MIDI files or scores).
    steps : int
        Pieces between the two ends (>= 0).
    seed : int
        Decoding seed (the same for every step; greedy decoding draws no numbers).
    device : str or torch.device, optional
        Where a model given by path is loaded (default CPU).

    Returns
    -------
    list of symusic.Score
        ``steps + 2`` scores: the reconstruction of ``start``, the steps, the
        reconstruction of ``end``. A step may be silent when the VAE decodes no notes.

    Raises
    ------
    ParameterError
        ``steps`` < 0, or a model that is not a VAE.
    DataError
        An unusable model file or MIDI file, naming it.

    Examples
    --------
    >>> walk = interpolate_pieces("vae.safetensors", "a.mid", "b.mid", steps=3)  # doctest: +SKIP
    >>> len(walk)  # doctest: +SKIP
    5
    """
    from torchmusic.symbolic import decode, tokenizer_from_dict

    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ParameterError(f"steps={steps!r}: must be an integer >= 0 (pieces between A and B)")
    net, spec = _resolve(model, device, kind="vae")
    tok = tokenizer_from_dict(spec.tokenizer)
    seq_len = net.config.seq_len
    a = torch.tensor(_vae_window(start, tok, seq_len))
    b = torch.tensor(_vae_window(end, tok, seq_len))
    with torch.no_grad():
        walk = net.interpolate(a, b, steps + 2, temperature=0.0, seed=seed)  # greedy
    return [decode(trim_vae(ids, tok, None), tok) for ids in walk]
