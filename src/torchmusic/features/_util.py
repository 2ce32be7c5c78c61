"""Small tensor helpers that reproduce numpy/librosa semantics exactly."""

from __future__ import annotations

import contextlib
import contextvars
import functools
import math
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import numpy as np
import torch
import torch.nn.functional as F

from torchmusic.errors import ParameterError

T = TypeVar("T")


def tensor_cache(maxsize: int) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """``functools.lru_cache`` for functions that build constant tensors.

    The tensors are built outside inference mode: a filterbank first made inside
    ``torch.inference_mode()`` would be an inference tensor, and every later use of it
    in a computation tracked by autograd (training) would fail.
    """

    def decorate(fn: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(fn)
        def build(*args: Any, **kwargs: Any) -> T:
            with torch.inference_mode(False), torch.no_grad():
                return fn(*args, **kwargs)

        return functools.lru_cache(maxsize=maxsize)(build)

    return decorate


def device_key(device: torch.device | str | None) -> torch.device:
    """Canonical device for cache keys (``'cuda'`` -> ``cuda:<current index>``)."""
    dev = torch.device("cpu" if device is None else device)
    if dev.type == "cuda" and dev.index is None:
        dev = torch.device("cuda", torch.cuda.current_device())
    return dev


FFT_PRECISIONS = ("exact", "native")
_fft_precision: contextvars.ContextVar[str] = contextvars.ContextVar(
    "torchmusic_fft_precision", default="exact"
)


@contextlib.contextmanager
def fft_precision(mode: str) -> Iterator[None]:
    """Choose the precision of the STFT inside a ``with`` block.

    Parameters
    ----------
    mode : {"exact", "native"}
        ``"exact"`` (the default): like librosa, float32 audio is transformed in
        float64 and the spectrum rounded to complex64, so even bins 80 dB below the
        peak match librosa to ~1e-5 dB. ``"native"``: the FFT runs in the input's
        dtype. About 2x faster for float32 on CPU and lighter on GPU memory; still
        within ~1e-6 of librosa relative to the loudest value, but quiet STFT bins
        can be off by a few thousandths of a dB.

    Examples
    --------
    >>> import torch, torchmusic.features as F
    >>> with F.fft_precision("native"):
    ...     S = F.melspectrogram(torch.randn(22050))
    """
    if mode not in FFT_PRECISIONS:
        raise ParameterError(f"fft precision {mode!r} is not one of {FFT_PRECISIONS}")
    token = _fft_precision.set(mode)
    try:
        yield
    finally:
        _fft_precision.reset(token)


def compute_dtype(dtype: torch.dtype, device: torch.device) -> torch.dtype:
    """Precision the STFT is computed in.

    librosa multiplies float32 frames by its float64 window, so its FFT runs in
    float64 and only the result is rounded to complex64. A float32 FFT is accurate
    relative to the loudest bin but not for quiet bins (a -80 dB bin is off by
    ~5e-4 dB), so by default we do the same as librosa wherever float64 exists (not
    on MPS); :func:`fft_precision` ``("native")`` trades that for speed.
    """
    if device.type == "mps" or _fft_precision.get() == "native":
        return dtype
    return torch.float64


def numpy_pad(x: torch.Tensor, left: int, right: int, mode: str) -> torch.Tensor:
    """Pad the last axis exactly like ``np.pad(x, (left, right), mode=mode)``.

    ``torch.nn.functional.pad`` refuses reflect padding wider than the signal and
    has no ``symmetric`` mode, while numpy reflects repeatedly; librosa relies on
    numpy's behaviour for short signals. For the copying modes (edge, reflect,
    symmetric, wrap) we let numpy pad an index ramp and gather with it, which
    reproduces numpy bit for bit and stays differentiable.
    """
    if left == 0 and right == 0:
        return x
    if mode == "constant":
        return F.pad(x, (left, right))
    index = np.pad(np.arange(x.shape[-1]), (left, right), mode=mode)  # type: ignore[call-overload]
    return x[..., torch.from_numpy(index).to(x.device)]


def numpy_linspace(start: float, stop: float, num: int, *, endpoint: bool = True) -> torch.Tensor:
    """``np.linspace`` in float64 with numpy's own rounding (torch.linspace differs
    in the last bit for the second half of the range)."""
    return torch.from_numpy(np.linspace(start, stop, num, endpoint=endpoint))


def normalize(S: torch.Tensor, *, norm: float | None, dim: int) -> torch.Tensor:
    """``librosa.util.normalize(S, norm=norm, axis=dim)`` with ``fill=None``.

    Slices whose norm is below the smallest normal number of ``S.dtype`` are left
    un-normalised, as in librosa.
    """
    if norm is None:
        return S
    mag = S.abs()
    if norm == math.inf:
        length = mag.amax(dim=dim, keepdim=True)
    elif norm == -math.inf:
        length = mag.amin(dim=dim, keepdim=True)
    elif norm == 0:
        length = (mag > 0).sum(dim=dim, keepdim=True).to(S.dtype)
    else:
        length = (mag**norm).sum(dim=dim, keepdim=True) ** (1.0 / norm)
    tiny = torch.finfo(S.dtype).tiny
    length = torch.where(length < tiny, torch.ones_like(length), length)
    return S / length


def cpu_inference_threads(func: Callable[..., T]) -> Callable[..., T]:
    """Run ``func`` with one intra-op thread in the calling thread for CPU inference.

    Why: a feature is dozens of small tensor ops, each an OpenMP fork/join when torch
    has several threads. On a machine where other processes keep the cores busy a
    join waits for a descheduled thread, and a 30 s log-mel took 650 ms instead of
    12 ms. The heavy part (the blocked STFT) is spread over single-threaded workers
    by ``spectrum._run_blocks`` instead; the light rest runs here on one thread.
    ``torch.set_num_threads`` is per thread with OpenMP (the OpenMP ICV and MKL's
    local setting), so other threads keep theirs; the previous count is restored.
    Autograd and non-CPU inputs are left alone.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        first = next((a for a in (*args, *kwargs.values()) if isinstance(a, torch.Tensor)), None)
        threads = torch.get_num_threads()
        if (
            threads == 1
            or first is None
            or first.device.type != "cpu"
            or (torch.is_grad_enabled() and first.requires_grad)
        ):
            return func(*args, **kwargs)
        _local_threads.outer = getattr(_local_threads, "outer", None) or threads
        torch.set_num_threads(1)
        try:
            return func(*args, **kwargs)
        finally:
            torch.set_num_threads(threads)
            _local_threads.outer = None

    return wrapper


def outer_threads() -> int:
    """The calling thread's torch thread count before :func:`cpu_inference_threads`."""
    return getattr(_local_threads, "outer", None) or torch.get_num_threads()


_local_threads = threading.local()
