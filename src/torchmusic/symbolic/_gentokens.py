"""Token language models -> pieces: prompt, budget, bar stopping (see :mod:`.generate`).

The prompt is ``[condition tokens] BOS [primer tokens]``; BOS, PAD and the condition
tokens are never sampled. Generation stops when the bar after the last wanted one
starts (that Bar token is dropped), at EOS, or when the token budget is spent.

Leading empty bars: the folk model often starts a piece with empty bars (``Bar Bar
...``; about half of its pieces at temperature 1, always when greedy). Counting them
as bars would end a short unprimed piece before its first note, i.e. an empty piece.
So when a piece has no note by the time the bar count is reached, generation goes on,
the bars are counted from the bar of the first note instead, and the empty bars
before it are dropped. Pieces with a note by then are cut exactly where they always
were, so outputs that had notes before are unchanged token for token.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from torchmusic.errors import ParameterError
from torchmusic.symbolic._gencheck import Request, empty_piece

# Token budget per bar when the model file does not record one (REMI folk tunes
# use about 25-35); max_tokens overrides the budget.
DEFAULT_TOKENS_PER_BAR = 48.0


def token_budget(request: Request, spec: Any) -> int:
    """Most new tokens per piece: ``max_tokens``, else twice the bars' mean length + 16."""
    if request.max_tokens is not None:
        return request.max_tokens
    per_bar = (spec.extra or {}).get("tokens_per_bar") or DEFAULT_TOKENS_PER_BAR
    # Twice the mean: the Bar count normally stops generation long before this.
    return int(request.bars * float(per_bar) * 2) + 16


def empty_lead(new: list[int], bar_id: int, notes: frozenset[int], bars: int) -> int | None:
    """Where counting starts in ``new``: 0 normally; past the leading empty bars when the
    piece has no note before its ``bars + 1``-th Bar (it would be empty if cut there);
    None while the piece has no note at all."""
    bar_at = [j for j, t in enumerate(new) if t == bar_id]
    first = next((j for j, t in enumerate(new) if t in notes), None)
    if len(bar_at) <= bars or (first is not None and first < bar_at[bars]):
        return 0  # the usual cut (or not reached): counted from the start
    if first is None:
        return None
    return max(j for j in bar_at if j < first)  # the Bar token of the first note's bar


def bar_stopper(
    bar_id: int | None, bars: int, notes: frozenset[int], primed: bool
) -> Callable[[list[int]], bool] | None:
    """``stop(new_tokens)``: True when the bar after the last wanted one starts."""
    if bar_id is None:
        return None

    def stop(new: list[int]) -> bool:
        if new[-1] != bar_id or new.count(bar_id) <= bars:
            return False
        if primed:
            return True  # the primer has notes: the piece is never empty
        start = empty_lead(new, bar_id, notes, bars)
        return start is not None and new[start:].count(bar_id) > bars

    return stop


def _prompt(spec: Any, tok: Any, request: Request) -> tuple[list[int], list[int], Any]:
    """``(prompt, primer, condition vocab)``; checks conditions and the primer's length."""
    from torchmusic.symbolic import ConditionVocab, encode, read_midi

    vocab = ConditionVocab.from_dict(spec.conditions) if spec.conditions else None
    prefix: list[int] = []
    if vocab is not None:
        prefix = vocab.encode(request.conditions)  # unknown field/value: lists valid ones
    elif request.conditions:
        names = ", ".join(request.conditions)
        raise ParameterError(f"conditions {names}: this model was trained without conditions")
    prime, primer = request.prime, []
    if isinstance(prime, str | os.PathLike):
        primer = encode(read_midi(prime), tok, source=str(prime))
    elif prime is not None:
        primer = encode(prime, tok)
    prompt = [*prefix, tok["BOS_None"], *primer]
    return prompt, primer, vocab


def _check_context(model: Any, request: Request, prompt: list[int], primer: list[int]):
    block = getattr(model.config, "block_size", None)
    if block is not None and len(prompt) > block:
        what = request.prime if isinstance(request.prime, str | os.PathLike) else "score"
        raise ParameterError(
            f"primer {what} is {len(primer)} tokens ({len(prompt)} with the condition "
            f"and start tokens), longer than the model's context of {block} tokens; use a "
            "shorter primer (e.g. its first bars)"
        )


def sample_token_pieces(model: Any, spec: Any, request: Request) -> list:
    """``request.n`` scores from a token language model (see the module notes)."""
    from torchmusic.models.symbolic.sampling import generate as sample_tokens
    from torchmusic.symbolic import decode, tokenizer_from_dict

    tok = tokenizer_from_dict(spec.tokenizer)
    prompt, primer, vocab = _prompt(spec, tok, request)
    _check_context(model, request, prompt, primer)
    bos, eos, pad = tok["BOS_None"], tok["EOS_None"], tok.pad_token_id
    bar_id = tok.vocab.get("Bar_None")
    notes = frozenset(i for name, i in tok.vocab.items() if name.startswith("Pitch"))
    suppress = [bos, pad, *(range(vocab.offset, vocab.offset + vocab.size) if vocab else [])]
    budget = token_budget(request, spec)
    stop = bar_stopper(bar_id, request.bars, notes, primed=bool(primer))
    pieces = []
    for i in range(request.n):
        seed = request.seed + i
        new = sample_tokens(
            model, prompt, max_new_tokens=budget, temperature=request.temperature,
            top_k=request.top_k, top_p=request.top_p, seed=seed, eos_id=eos, stop=stop,
            suppress=suppress,
        )  # fmt: skip
        new = _cut(new, bar_id, notes, request.bars, primed=bool(primer))
        score = decode([*primer, *new], tok)
        if score.note_num() == 0:
            raise empty_piece(i, request.n, seed, _why_empty(new, budget, request))
        pieces.append(score)
    return pieces


def _cut(new: list[int], bar_id: int | None, notes: frozenset[int], bars: int, primed: bool):
    """Drop the Bar token that started the unwanted bar, and leading empty bars that the
    stopper skipped (see the module notes)."""
    if bar_id is None:
        return new
    start = 0 if primed else empty_lead(new, bar_id, notes, bars) or 0
    new = new[start:]
    if new and new[-1] == bar_id and new.count(bar_id) > bars:
        new = new[:-1]  # the first token of the bar after the last wanted one
    return new


def _why_empty(new: list[int], budget: int, request: Request) -> str:
    if len(new) >= budget:
        return (
            f"the budget of {budget} tokens ran out before the first note; raise max_tokens "
            f"(--max-tokens) or leave it unset"
        )
    hint = "try another seed" if request.temperature > 0 else "try a temperature > 0"
    return f"the model ended the piece after {len(new)} tokens without a note; {hint}"
