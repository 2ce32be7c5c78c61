"""Autoregressive sampling from token language models: temperature, top-k, top-p, KV cache.

Randomness comes only from a ``torch.Generator`` seeded with ``seed`` and drawn on the
CPU (one uniform number per token, inverse-CDF sampling), so a seed gives the same
piece on any device and with or without the cache.

Context longer than ``block_size`` (Transformer): generation slides a window. When the
context (prompt + generated tokens) would exceed ``block_size``, its oldest tokens are
dropped so that the most recent ``keep`` tokens (default ``block_size // 2``) remain,
and they are re-encoded at positions ``0..keep-1``; generation then continues until
the window is full again. The uncached path crops the context to the *same* window
at every step, which is what makes both paths give the same tokens. The LSTM has no
context limit (its state carries the whole past).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from torchmusic.errors import ParameterError


def filter_logits(
    logits: torch.Tensor, *, temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0
) -> torch.Tensor:
    """Next-token probabilities after temperature, top-k and nucleus (top-p) filtering.

    Parameters
    ----------
    logits : torch.Tensor, shape (..., V)
        Unnormalised scores.
    temperature : float
        > 0; divides the logits (lower = more conservative).
    top_k : int
        Keep the ``top_k`` most likely tokens (0 = all).
    top_p : float
        Keep the smallest set of most likely tokens whose probability reaches
        ``top_p`` (1 = all; Holtzman et al. 2020). The most likely token is always kept.

    Returns
    -------
    torch.Tensor, shape (..., V)
        Probabilities (float32 or wider), zero outside the kept set, summing to 1.

    Examples
    --------
    >>> filter_logits(torch.tensor([2.0, 1.0, 0.0]), top_k=2)
    tensor([0.7311, 0.2689, 0.0000])
    """
    _check_sampling(temperature=temperature, top_k=top_k, top_p=top_p, allow_greedy=False)
    logits = _scale(logits, temperature)
    v = logits.shape[-1]
    if 0 < top_k < v:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    if top_p < 1.0:
        sorted_p, order = torch.sort(probs, dim=-1, descending=True)
        # Drop a token when the tokens ranked above it already reach top_p.
        drop_sorted = (sorted_p.cumsum(dim=-1) - sorted_p) >= top_p
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        probs = probs.masked_fill(drop, 0.0)
        probs = probs / probs.sum(dim=-1, keepdim=True)
    return probs


def _scale(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """``logits / temperature`` in float32, or in float64 around the maximum when float32
    overflows (a temperature so small that the top logit becomes inf, or so large that
    it rounds to inf): softmax of inf is NaN, which used to pick the last token.

    The fallback runs only where the plain division is not finite, so ordinary
    temperatures give the same probabilities, and hence tokens, as before.
    """
    scaled = logits.float() / temperature
    if bool(torch.isposinf(scaled).any() or torch.isnan(scaled).any()):
        wide = logits.double()
        # Shifting by the maximum keeps every value <= 0: tiny temperatures tend to
        # argmax, huge ones to uniform over the tokens that are not -inf (suppressed).
        scaled = (wide - wide.amax(dim=-1, keepdim=True)) / float(temperature)
    return scaled


def sample_next(
    logits: torch.Tensor,
    *,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Draw one token per row of ``logits`` ``(B, V)``; returns ``(B,)`` int64 ids.

    ``temperature=0`` is greedy (argmax; no random number is drawn). Otherwise one
    uniform number per row is taken from ``generator`` (a CPU generator) and
    mapped through the inverse CDF of the filtered distribution.
    """
    _check_sampling(temperature=temperature, top_k=top_k, top_p=top_p, allow_greedy=True)
    if logits.ndim != 2:
        raise ParameterError(f"logits must have shape (batch, vocab), got {tuple(logits.shape)}")
    if temperature == 0:
        return logits.argmax(dim=-1)
    probs = filter_logits(logits, temperature=temperature, top_k=top_k, top_p=top_p)
    # Float64 on the CPU: the same cumulative sums (and hence tokens) on every device.
    cdf = probs.detach().to("cpu", torch.float64).cumsum(dim=-1)
    u = torch.rand(logits.shape[0], 1, generator=generator, dtype=torch.float64) * cdf[:, -1:]
    idx = torch.searchsorted(cdf, u, right=True).clamp_(max=logits.shape[-1] - 1)
    return idx.squeeze(1).to(logits.device)


def _check_sampling(*, temperature: float, top_k: int, top_p: float, allow_greedy: bool) -> None:
    numeric = isinstance(temperature, int | float) and not isinstance(temperature, bool)
    # inf is refused: logits / inf is 0 for every token and NaN for suppressed (-inf) ones.
    ok = numeric and math.isfinite(temperature)
    if not ok or not (temperature > 0 or (allow_greedy and temperature == 0)):
        raise ParameterError(
            f"temperature={temperature!r} must be a finite number > 0"
            + (" (0 = greedy)" if allow_greedy else "")
        )
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 0:
        raise ParameterError(f"top_k={top_k!r} must be an integer >= 0 (0 = off)")
    if isinstance(top_p, bool) or not isinstance(top_p, int | float) or not 0 < top_p <= 1:
        raise ParameterError(f"top_p={top_p!r} must be in (0, 1] (1 = off)")


def _prompt_list(prompt: Sequence[int] | torch.Tensor, vocab_size: int) -> list[int]:
    if isinstance(prompt, torch.Tensor):
        if prompt.ndim == 2 and prompt.shape[0] == 1:
            prompt = prompt[0]
        if prompt.ndim != 1 or prompt.dtype.is_floating_point:
            raise ParameterError(
                f"prompt must be a list of ids or a (1, T) integer tensor, got shape "
                f"{tuple(prompt.shape)} dtype {prompt.dtype}"
            )
        ids = [int(i) for i in prompt.tolist()]
    else:
        try:
            ids = [int(i) for i in prompt]
        except (TypeError, ValueError) as exc:
            raise ParameterError(f"prompt must be a sequence of token ids: {exc}") from exc
    if not ids:
        raise ParameterError(
            "prompt is empty; give at least one token (e.g. the tokenizer's BOS or the "
            "condition tokens)"
        )
    bad = [i for i in ids if not 0 <= i < vocab_size]
    if bad:
        raise ParameterError(f"prompt ids {bad[:5]} are outside the vocabulary 0..{vocab_size - 1}")
    return ids


@torch.no_grad()
def generate(
    model: nn.Module,
    prompt: Sequence[int] | torch.Tensor,
    *,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    seed: int | None = None,
    use_cache: bool = True,
    eos_id: int | None = None,
    stop: Callable[[list[int]], bool] | None = None,
    suppress: Sequence[int] = (),
    keep: int | None = None,
) -> list[int]:
    """Continue ``prompt`` with up to ``max_new_tokens`` sampled tokens.

    Parameters
    ----------
    model : TransformerLM or LSTMLanguageModel
        Any module with ``.config.vocab_size``, ``step(ids, cache) -> (logits (B, V),
        cache)`` and ``forward(ids) -> (logits, ...)``; put in eval mode here.
    prompt : list of int or torch.Tensor, shape (1, T) or (T,)
        Starting tokens (condition tokens, BOS, a primer). Not longer than
        ``block_size``.
    max_new_tokens : int
        Most tokens to generate.
    temperature : float
        Sampling temperature; 0 = greedy.
    top_k, top_p : int, float
        Top-k and nucleus filtering (0 / 1 = off); see :func:`filter_logits`.
    seed : int, optional
        Seeds the CPU ``torch.Generator`` that drives sampling (None: a random seed).
    use_cache : bool
        Decode incrementally with the KV cache / recurrent state (fast) instead of
        re-running the whole context for each token. Both give the same tokens.
    eos_id : int, optional
        Stop after this token is generated (it is not returned).
    stop : callable, optional
        ``stop(new_tokens) -> bool`` called after each token with the tokens generated
        so far (e.g. "16 bars reached"); generation ends when it returns True.
    suppress : sequence of int
        Ids never to generate (e.g. condition tokens, which belong in the prompt only).
    keep : int, optional
        Tokens kept when the window slides past ``block_size`` (default
        ``block_size // 2``); see the module notes.

    Returns
    -------
    list of int
        The new tokens only (the prompt excluded, ``eos_id`` excluded).

    Raises
    ------
    ParameterError
        Empty prompt, a prompt longer than the model's context (``block_size``),
        ids outside the vocabulary, or bad sampling settings.

    Examples
    --------
    >>> from torchmusic.models.symbolic import build_generator
    >>> model = build_generator("transformer", vocab_size=50, n_layer=1, n_embd=32, n_head=2)
    >>> a = generate(model, [1, 2, 3], max_new_tokens=20, top_p=0.9, seed=0)
    >>> b = generate(model, [1, 2, 3], max_new_tokens=20, top_p=0.9, seed=0, use_cache=False)
    >>> a == b
    True
    """
    if not callable(getattr(model, "step", None)) or not hasattr(model.config, "vocab_size"):
        raise ParameterError(
            f"{type(model).__name__} is not a token language model (it needs step() and "
            "config.vocab_size); use MusicVAE.sample / PianoRollModel.sample for those"
        )
    vocab_size = int(model.config.vocab_size)
    ids = _prompt_list(prompt, vocab_size)
    if (
        isinstance(max_new_tokens, bool)
        or not isinstance(max_new_tokens, int)
        or max_new_tokens < 0
    ):
        raise ParameterError(f"max_new_tokens={max_new_tokens!r} must be an integer >= 0")
    _check_sampling(temperature=temperature, top_k=top_k, top_p=top_p, allow_greedy=True)
    block = getattr(model.config, "block_size", None)
    if block is not None and len(ids) > block:
        raise ParameterError(
            f"prompt of {len(ids)} tokens is longer than the model's context of {block} "
            "tokens; shorten the primer (e.g. its last bars)"
        )
    if keep is None:
        keep = max(1, block // 2) if block is not None else 0
    elif block is not None and not (isinstance(keep, int) and 1 <= keep < block):
        raise ParameterError(f"keep={keep!r} must be an integer in [1, block_size={block})")
    if eos_id is not None and not 0 <= eos_id < vocab_size:
        raise ParameterError(f"eos_id={eos_id!r} is outside the vocabulary 0..{vocab_size - 1}")
    banned = sorted({int(i) for i in suppress})
    if any(not 0 <= i < vocab_size for i in banned):
        raise ParameterError(f"suppress ids {banned} must lie in 0..{vocab_size - 1}")
    if len(banned) >= vocab_size:
        raise ParameterError("suppress bans every token of the vocabulary")

    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    gen = torch.Generator()
    gen.manual_seed(int(seed) if seed is not None else int(torch.seed()))
    new: list[int] = []
    start = 0  # first token of the window the model sees
    cache: Any = None
    fed = 0  # tokens of ids already in the cache
    try:
        for _ in range(max_new_tokens):
            if block is not None and len(ids) - start > block:
                start = len(ids) - keep
                cache, fed = None, start  # re-encode the kept window from scratch
            if use_cache:
                x = torch.tensor([ids[fed:]], device=device)
                logits, cache = model.step(x, cache)
                fed = len(ids)
            else:
                out = model(torch.tensor([ids[start:]], device=device))
                logits = out[0][:, -1]
            if banned:
                logits = logits.clone()
                logits[:, banned] = float("-inf")
            tok = int(
                sample_next(
                    logits, temperature=temperature, top_k=top_k, top_p=top_p, generator=gen
                )[0]
            )
            if eos_id is not None and tok == eos_id:
                break
            ids.append(tok)
            new.append(tok)
            if stop is not None and stop(new):
                break
    finally:
        model.train(was_training)
    return new
