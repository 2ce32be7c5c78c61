"""Argument checks and the array plumbing every baseline shares.

Each baseline works on float64 NumPy audio of shape ``(channels, samples)``;
:func:`as_channels` validates the input (refusing NaN / Inf by name) and returns it
that way with a function that turns a result back into the input's shape, type,
dtype and device.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from torchmusic.errors import ParameterError

Restore = Callable[[np.ndarray], Any]


def as_channels(y: Any, name: str = "y") -> tuple[np.ndarray, Restore]:
    """``(x, restore)``: ``y`` as float64 ``(channels, samples)`` and the way back."""
    import torch

    is_torch = isinstance(y, torch.Tensor)
    if is_torch:
        arr = y.detach().cpu().numpy()
    elif isinstance(y, np.ndarray):
        arr = y
    else:
        raise ParameterError(
            f"{name} must be a numpy array or torch tensor, got {type(y).__name__}"
        )
    if not np.issubdtype(arr.dtype, np.floating):
        raise ParameterError(
            f"{name} has dtype {arr.dtype}; expected floating-point audio "
            "(convert integer PCM with e.g. y / 32768)"
        )
    if arr.ndim not in (1, 2) or arr.shape[-1] == 0 or arr.size == 0:
        raise ParameterError(
            f"{name} has shape {tuple(arr.shape)}; expected (samples,) or (channels, samples)"
        )
    x = np.array(arr, dtype=np.float64, ndmin=2, order="C")
    bad = ~np.isfinite(x)
    if bad.any():
        channel, sample = (int(i[0]) for i in np.nonzero(bad))
        what = "NaN" if np.isnan(x[channel, sample]) else "Inf"
        raise ParameterError(
            f"{name} contains {int(bad.sum())} non-finite samples ({what} first, at sample "
            f"{sample} of channel {channel}); remove them before denoising"
        )

    def restore(out: np.ndarray) -> Any:
        out = out[0] if arr.ndim == 1 else out
        if is_torch:
            return torch.from_numpy(np.ascontiguousarray(out)).to(dtype=y.dtype, device=y.device)
        return out.astype(arr.dtype, copy=False)

    return x, restore


def unchanged(y: Any) -> Any:
    """A copy of ``y`` (strength 0: the input exactly, never an alias of it)."""
    return y.clone() if hasattr(y, "clone") else np.array(y, copy=True)


def check_sr(sr: Any) -> int:
    if isinstance(sr, bool) or not isinstance(sr, int | np.integer) or sr <= 0:
        raise ParameterError(f"sr={sr!r} must be a positive int (Hz)")
    return int(sr)


def check_strength(strength: Any) -> float:
    if (
        isinstance(strength, bool)
        or not isinstance(strength, int | float | np.floating)
        or not 0 <= strength <= 1
    ):
        raise ParameterError(f"strength={strength!r} must be a number in [0, 1]")
    return float(strength)


def check_int(name: str, value: Any, *, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise ParameterError(f"{name}={value!r} must be an int >= {low}")
    return int(value)


def check_float(
    name: str, value: Any, *, low: float = -math.inf, high: float = math.inf, open_low: bool = False
) -> float:
    ok = isinstance(value, int | float | np.floating) and not isinstance(value, bool)
    ok = (
        ok
        and math.isfinite(value)
        and value <= high
        and (value > low if open_low else value >= low)
    )
    if not ok:
        bracket = "(" if open_low else "["
        raise ParameterError(f"{name}={value!r} must be a finite number in {bracket}{low}, {high}]")
    return float(value)


def check_fft(n_fft: Any, hop_length: Any) -> tuple[int, int]:
    """``n_fft`` (even, >= 16) and ``hop_length`` (divides it; default ``n_fft // 4``)."""
    n_fft = check_int("n_fft", n_fft, low=16)
    if n_fft % 2:
        raise ParameterError(f"n_fft={n_fft} must be even")
    hop = n_fft // 4 if hop_length is None else check_int("hop_length", hop_length)
    if n_fft % hop or n_fft // hop < 2:
        raise ParameterError(
            f"hop_length={hop} must divide n_fft={n_fft} at least twice (n_fft // 4: 75 % overlap)"
        )
    return n_fft, hop
