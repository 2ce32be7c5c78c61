"""Validation of generation settings and the empty-piece error (see :mod:`.generate`)."""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from typing import Any

from torchmusic.errors import ParameterError


class EmptyPieceError(ParameterError):
    """A generated piece has no notes; the message says why and what to change.

    A :class:`ParameterError` because the cure is a different request (more tokens,
    another temperature or seed), and so that ``except ParameterError`` catches it.
    """


@dataclasses.dataclass(frozen=True)
class Request:
    """Validated settings of :func:`~torchmusic.symbolic.generate_pieces`; ``top_k`` and
    ``top_p`` hold their "off" values (0 and 1.0) instead of None."""

    n: int
    bars: int
    conditions: dict[str, str]
    prime: Any
    temperature: float
    top_k: int
    top_p: float
    seed: int
    max_tokens: int | None


def empty_piece(i: int, n: int, seed: int, reason: str) -> EmptyPieceError:
    """The error for piece ``i`` (from 0) of ``n``, sampled with ``seed``."""
    return EmptyPieceError(f"piece {i + 1} of {n} (seed {seed}) has no notes: {reason}")


def _int(name: str, value: Any, low: int | None) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or (low is not None and value < low):
        bound = "" if low is None else f" >= {low}"
        raise ParameterError(f"{name}={value!r}: must be an integer{bound}")


def check_settings(
    *,
    n: Any,
    bars: Any,
    temperature: Any,
    top_k: Any,
    top_p: Any,
    seed: Any,
    max_tokens: Any,
    conditions: Any,
    prime: Any,
) -> Request:
    """The settings as a :class:`Request`, or a :class:`ParameterError` naming the first
    bad one; called before any model is loaded."""
    _int("n", n, 1)
    _int("bars", bars, 1)
    _int("seed", seed, None)
    if max_tokens is not None:
        _int("max_tokens", max_tokens, 1)
    if top_k is not None:
        _int("top_k", top_k, 0)
    numeric = isinstance(temperature, int | float) and not isinstance(temperature, bool)
    # inf would turn every logit into 0 or NaN; 0 is greedy decoding.
    if not numeric or not math.isfinite(temperature) or temperature < 0:
        raise ParameterError(
            f"temperature={temperature!r}: must be a finite number >= 0 (0 = greedy)"
        )
    if top_p is not None and (
        isinstance(top_p, bool) or not isinstance(top_p, int | float) or not 0 < top_p <= 1
    ):
        raise ParameterError(f"top_p={top_p!r}: must be in (0, 1] (1 = off)")
    if conditions is not None:
        if not isinstance(conditions, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in conditions.items()
        ):
            raise ParameterError(
                f"conditions={conditions!r}: must map field names to values, "
                "e.g. {'tune_type': 'jig'}"
            )
    # A score is anything with notes and tracks (symusic has one class per time unit).
    if (
        prime is not None
        and not isinstance(prime, str | os.PathLike)
        and not (hasattr(prime, "note_num") and hasattr(prime, "tracks"))
    ):
        raise ParameterError(
            f"prime={type(prime).__name__}: expected a MIDI file path or a symusic Score"
        )
    return Request(
        n=n,
        bars=bars,
        conditions=dict(conditions or {}),
        prime=prime,
        temperature=temperature,
        top_k=top_k or 0,
        top_p=1.0 if top_p is None else top_p,
        seed=seed,
        max_tokens=max_tokens,
    )
