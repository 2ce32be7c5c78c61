"""Argument checks shared by the feature functions.

Every check raises :class:`~torchmusic.errors.ParameterError` with a message that
echoes the bad value and says what was expected, so the functions can validate
first and compute afterwards.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import torch

from torchmusic.errors import ParameterError

#: Input dtypes the features accept (``torch.stft`` has no half-precision CPU kernel,
#: and librosa parity is only defined for single and double precision).
FLOAT_DTYPES = (torch.float32, torch.float64)

#: ``pad_mode`` values supported for centred frames. These are the numpy.pad modes
#: librosa 0.11 lets through to ``np.pad`` (it rejects wrap/maximum/mean/median/minimum)
#: minus ``linear_ramp``/``empty``, which nobody uses for audio.
PAD_MODES = ("constant", "edge", "reflect", "symmetric")


def positive_int(name: str, value: Any) -> int:
    """Return ``value`` as an ``int`` if it is a positive integer, else raise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ParameterError(f"{name}={value!r} must be a positive integer")
    return int(value)


def positive_number(name: str, value: Any) -> float:
    """Return ``value`` as a ``float`` if it is a finite number > 0, else raise."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ParameterError(f"{name}={value!r} must be a finite number > 0")
    return float(value)


def finite_number(name: str, value: Any) -> float:
    """Return ``value`` as a ``float`` if it is a finite real number, else raise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ParameterError(f"{name}={value!r} must be a finite real number")
    return float(value)


def _all_finite(x: torch.Tensor) -> bool:
    """Whether every element of ``x`` is finite, usually from one sum.

    A NaN or an Inf anywhere makes the sum non-finite, so a finite sum proves the whole
    tensor finite. ``isfinite(x).all()`` builds a boolean tensor instead and cost
    ~2.5 ms per 30 s clip, more than the mel projection. Only when the sum is not
    finite (a bad value, or finite values large enough to overflow it) is the exact
    per-element check run. One device sync on GPU either way.
    """
    with torch.no_grad():
        if bool(torch.isfinite(x.sum())):
            return True
        return bool(torch.isfinite(x).all())


def _check_tensor(name: str, x: Any, min_ndim: int, what: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise ParameterError(
            f"{name} must be a torch.Tensor of shape {what}, got {type(x).__name__}"
        )
    if x.dtype not in FLOAT_DTYPES:
        raise ParameterError(
            f"{name} has dtype {x.dtype}; expected a floating tensor (torch.float32 or "
            "torch.float64) — convert integer PCM with e.g. y.float() / 32768"
        )
    if x.ndim < min_ndim:
        raise ParameterError(f"{name} has shape {tuple(x.shape)}; expected {what}")
    if x.numel() == 0:
        raise ParameterError(f"{name} has shape {tuple(x.shape)}; expected a non-empty tensor")
    if not _all_finite(x):
        n_nan = int(torch.isnan(x).sum())
        n_inf = int(torch.isinf(x).sum())
        raise ParameterError(
            f"{name} contains non-finite values ({n_nan} NaN, {n_inf} Inf); "
            "expected finite values everywhere"
        )
    return x


def audio(y: Any, name: str = "y") -> torch.Tensor:
    """Check an audio signal of shape ``(..., samples)``."""
    return _check_tensor(name, y, 1, "(..., samples)")


def spectrogram(S: Any, name: str = "S") -> torch.Tensor:
    """Check a real spectrogram-like array of shape ``(..., bins, frames)``."""
    return _check_tensor(name, S, 2, "(..., bins, frames) with at least 2 dimensions")


def one_input(y: Any, S: Any) -> None:
    """librosa-style ``y=...`` or ``S=...``: exactly one must be given."""
    if y is None and S is None:
        raise ParameterError("either an audio signal y or a spectrogram S is required")
    if y is not None and S is not None:
        raise ParameterError("pass either y or S, not both (S would silently win in librosa)")


def stft_params(
    *,
    n_fft: Any,
    hop_length: Any,
    win_length: Any,
    center: Any,
    pad_mode: Any,
) -> tuple[int, int, int]:
    """Validate STFT settings; return ``(n_fft, hop_length, win_length)`` resolved.

    ``win_length=None`` means ``n_fft`` and ``hop_length=None`` means
    ``win_length // 4``, as in :func:`librosa.stft`.
    """
    n_fft = positive_int("n_fft", n_fft)
    win_length = n_fft if win_length is None else positive_int("win_length", win_length)
    if win_length > n_fft:
        raise ParameterError(f"win_length={win_length} must be <= n_fft={n_fft}")
    if hop_length is None:
        hop_length = win_length // 4
        if hop_length == 0:
            raise ParameterError(
                f"the default hop_length=win_length//4 is 0 for win_length={win_length}; "
                "pass a positive hop_length"
            )
    hop_length = positive_int("hop_length", hop_length)
    if not isinstance(center, bool):
        raise ParameterError(f"center={center!r} must be True or False")
    if center and pad_mode not in PAD_MODES:
        raise ParameterError(f"pad_mode={pad_mode!r} is not supported; expected one of {PAD_MODES}")
    return n_fft, hop_length, win_length


def signal_length(y: torch.Tensor, *, n_fft: int, center: bool) -> None:
    """Un-centred frames need at least one full frame of signal."""
    if not center and y.shape[-1] < n_fft:
        raise ParameterError(
            f"signal of length {y.shape[-1]} is shorter than n_fft={n_fft}; with center=False "
            "it must be at least n_fft samples long (or use center=True)"
        )


def power(value: Any) -> float:
    """Spectrogram exponent: a finite number > 0."""
    return positive_number("power", value)


def freq_range(*, sr: Any, fmin: Any, fmax: Any) -> tuple[float, float, float]:
    """Validate ``sr``, ``fmin`` and ``fmax`` (``None`` means ``sr / 2``)."""
    sr = positive_number("sr", sr)
    fmin = finite_number("fmin", fmin)
    if fmin < 0:
        raise ParameterError(f"fmin={fmin!r} must be >= 0")
    fmax = sr / 2 if fmax is None else finite_number("fmax", fmax)
    if fmax > sr / 2:
        raise ParameterError(
            f"fmax={fmax!r} must be <= the Nyquist frequency sr/2={sr / 2} (sr={sr})"
        )
    if fmin >= fmax:
        raise ParameterError(f"fmin={fmin!r} must be < fmax={fmax!r}")
    return sr, fmin, fmax


def norm_value(name: str, norm: Any, *, allow_slaney: bool) -> str | float | None:
    """A normalisation as :func:`librosa.util.normalize` takes it.

    ``None``, a number > 0 (a p-norm; ``inf`` is the max-norm), ``-inf`` (min-norm),
    ``0`` (count of non-zeros) or, for mel filterbanks, ``'slaney'``.
    """
    if norm is None:
        return None
    if allow_slaney and norm == "slaney":
        return "slaney"
    if (
        isinstance(norm, numbers.Real)
        and not isinstance(norm, bool)
        and not math.isnan(norm)
        and (norm >= 0 or norm == -math.inf)
    ):
        return float(norm)
    expected = "None, a number > 0 (e.g. 1, 2, inf), 0 or -inf"
    if allow_slaney:
        expected = "'slaney', " + expected
    raise ParameterError(f"{name}={norm!r} is not supported; expected {expected}")
