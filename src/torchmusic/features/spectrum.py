"""Short-time Fourier transform and magnitude spectrograms, equal to ``librosa.stft``.

Frames, window and centre padding follow librosa 0.11 exactly:

* the window is ``scipy.signal.get_window(window, win_length, fftbins=True)``
  (periodic Hann by default), zero-padded centred to ``n_fft`` like
  ``librosa.util.pad_center``;
* with ``center=True`` librosa pads the two ends of the signal separately (the
  head from a prefix, the tail from a suffix), which only differs from padding the
  whole signal for reflect-like modes near very short tails, but we reproduce it;
* the FFT runs in float64 even for float32 input (librosa multiplies the frames by
  its float64 window) and the result is rounded to complex64.
"""

from __future__ import annotations

import math
import numbers
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import scipy.signal
import torch

from torchmusic.errors import ParameterError
from torchmusic.features import _validate
from torchmusic.features._util import (
    compute_dtype,
    cpu_inference_threads,
    device_key,
    numpy_pad,
    outer_threads,
    tensor_cache,
)

#: A window as librosa accepts it: a scipy window name or (name, parameter) tuple,
#: a number (Kaiser beta), a callable ``f(length) -> array``, or the samples themselves.
WindowSpec = str | tuple | float | Callable[[int], Any] | np.ndarray | torch.Tensor

_COMPLEX = {torch.float32: torch.complex64, torch.float64: torch.complex128}


@tensor_cache(maxsize=64)
def _scipy_window(
    window: str | tuple | float,
    win_length: int,
    n_fft: int,
    dtype: torch.dtype,
    device: torch.device,
) -> torch.Tensor:
    try:
        samples = scipy.signal.get_window(window, win_length, fftbins=True)
    except (ValueError, TypeError) as err:
        raise ParameterError(f"invalid window={window!r}: {err}") from err
    return _pad_window(torch.as_tensor(samples, dtype=torch.float64), n_fft).to(device, dtype)


def _pad_window(win: torch.Tensor, n_fft: int) -> torch.Tensor:
    # librosa.util.pad_center: the extra zeros go (size - n) // 2 left, the rest right.
    lpad = (n_fft - win.shape[-1]) // 2
    return torch.nn.functional.pad(win, (lpad, n_fft - win.shape[-1] - lpad))


def window_tensor(
    window: WindowSpec,
    win_length: int,
    n_fft: int,
    *,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """The analysis window of length ``win_length``, zero-padded centred to ``n_fft``.

    Named (hashable) windows are cached per (spec, lengths, dtype, device); treat
    the result as read-only.

    Examples
    --------
    >>> window_tensor("hann", 4, 8).tolist()
    [0.0, 0.0, 0.0, 0.5, 1.0, 0.5, 0.0, 0.0]
    """
    dev = device_key(device)
    if isinstance(window, (str, tuple)) or (
        isinstance(window, numbers.Real) and not isinstance(window, bool)
    ):
        return _scipy_window(window, win_length, n_fft, dtype, dev)
    if callable(window):
        samples = window(win_length)
    elif isinstance(window, (np.ndarray, torch.Tensor, list)):
        samples = window
    else:
        raise ParameterError(
            f"invalid window={window!r}; expected a scipy window name, a (name, param) "
            "tuple, a callable or an array of length win_length"
        )
    win = torch.as_tensor(samples).detach().to("cpu", torch.float64)
    if win.shape != (win_length,):
        raise ParameterError(
            f"window has shape {tuple(win.shape)}; expected ({win_length},) = (win_length,)"
        )
    return _pad_window(win, n_fft).to(dev, dtype)


def _pad_pieces(
    y: torch.Tensor, n_fft: int, hop_length: int, pad_mode: str
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The ``(head, tail)`` librosa 0.11's ``stft`` adds around ``y`` (``n_fft // 2`` each).

    librosa frames the head (from a padded prefix), the middle (unpadded) and the tail
    (from a padded suffix) separately. The frames are those of ``head + y + tail``
    where ``head`` pads the prefix and ``tail`` pads the suffix; for numpy's reflect
    and symmetric modes a short suffix is reflected repeatedly, which is why the tail
    is not simply taken from the whole signal. ``None`` when head and tail frames
    overlap: librosa then pads the whole signal at once.
    """
    length = y.shape[-1]
    half = n_fft // 2
    start_k = math.ceil(half / hop_length)  # frames touching the left padding
    tail_k = (length + half - n_fft) // hop_length + 1  # first frame touching the right one
    if tail_k <= start_k:
        return None
    prefix = (start_k - 1) * hop_length - half + n_fft + 1
    head = numpy_pad(y[..., :prefix], half, 0, pad_mode)[..., :half]
    tail_start = tail_k * hop_length - half
    if tail_k * hop_length - half + n_fft <= length + half:
        tail = numpy_pad(y[..., tail_start:], 0, half, pad_mode)[..., length - tail_start :]
    else:
        # No frame reaches into the right padding: its content is never used.
        tail = y.new_zeros((*y.shape[:-1], half))
    return head, tail


def _center_pad(y: torch.Tensor, n_fft: int, hop_length: int, pad_mode: str) -> torch.Tensor:
    """Pad ``y`` by ``n_fft // 2`` on both sides the way librosa 0.11's ``stft`` does."""
    pieces = _pad_pieces(y, n_fft, hop_length, pad_mode)
    if pieces is None:
        half = n_fft // 2
        return numpy_pad(y, half, half, pad_mode)
    return torch.cat([pieces[0], y, pieces[1]], dim=-1)


def _frame_segments(
    y: torch.Tensor, n_fft: int, hop_length: int, center: bool, pad_mode: str
) -> list[tuple[int, torch.Tensor]]:
    """The frames of ``y`` ``(items, samples)`` as ``[(first frame, (items, k, n_fft))]``.

    Same frames as unfolding the centre-padded signal, without copying the whole
    signal into a padded one (that copy cost as much as the mel projection): the
    middle frames are a strided view of ``y``; only the few frames that reach into
    the padding are built from small padded pieces.
    """
    if not center:
        return [(0, y.unfold(-1, n_fft, hop_length))]
    pieces = _pad_pieces(y, n_fft, hop_length, pad_mode)
    if pieces is None:
        return [(0, _center_pad(y, n_fft, hop_length, pad_mode).unfold(-1, n_fft, hop_length))]
    head, tail = pieces
    length = y.shape[-1]
    half = n_fft // 2
    n_frames = 1 + (length + 2 * half - n_fft) // hop_length
    start_k = math.ceil(half / hop_length)
    tail_k = min((length + half - n_fft) // hop_length + 1, n_frames)
    head_src = torch.cat([head, y[..., : (start_k - 1) * hop_length + n_fft - half]], dim=-1)
    middle = y[..., start_k * hop_length - half : (tail_k - 1) * hop_length - half + n_fft]
    segments = [(0, head_src.unfold(-1, n_fft, hop_length)[:, :start_k])]
    segments.append((start_k, middle.unfold(-1, n_fft, hop_length)))
    if tail_k < n_frames:
        tail_src = torch.cat([y[..., tail_k * hop_length - half :], tail], dim=-1)
        segments.append((tail_k, tail_src.unfold(-1, n_fft, hop_length)[:, : n_frames - tail_k]))
    return segments


def _prepare(
    y: torch.Tensor,
    *,
    n_fft: int,
    hop_length: int | None,
    win_length: int | None,
    window: WindowSpec,
    center: bool,
    pad_mode: str,
    pad: bool = True,
) -> tuple[torch.Tensor, int, int, torch.Tensor, torch.dtype]:
    """Validate, centre-pad (unless ``pad=False``); return (y, n_fft, hop, window, dtype)."""
    y = _validate.audio(y)
    n_fft, hop_length, win_length = _validate.stft_params(
        n_fft=n_fft,
        hop_length=hop_length,
        win_length=win_length,
        center=center,
        pad_mode=pad_mode,
    )
    _validate.signal_length(y, n_fft=n_fft, center=center)
    work = compute_dtype(y.dtype, y.device)
    win = window_tensor(window, win_length, n_fft, dtype=work, device=y.device)
    if center and pad:
        y = _center_pad(y, n_fft, hop_length, pad_mode)
    return y, n_fft, hop_length, win, work


# Frames per block of the blocked CPU path: a block's frames, spectrum and projection
# (~256 x 2048 samples) stay in the CPU caches. Materialising the whole complex STFT of
# a batch instead makes every pass (window, |.|^2, projection) memory-bound and was
# 2-3x slower than librosa, which blocks its own STFT for the same reason.
_BLOCK_FRAMES = 256


def _block_frames(n_items: int, n_frames: int) -> int:
    """Frames per block: about :data:`_BLOCK_FRAMES`, in a multiple of the thread count
    per item when there are few items, so the workers get equal shares (a 30 s clip
    is ~5 blocks of 256 frames: 3 on one thread and 2 on the other left the second
    idle a fifth of the time)."""
    threads = outer_threads()
    blocks = math.ceil(n_frames / _BLOCK_FRAMES)
    if threads > 1 and n_items < 2 * threads:
        blocks = math.ceil(blocks / threads) * threads
    return max(1, math.ceil(n_frames / blocks))


def _power(spec: torch.Tensor, power: float) -> torch.Tensor:
    """``|spec| ** power`` in ``spec``'s real precision, from the squared parts.

    librosa rounds the float64 spectrum to complex64 before taking magnitudes; we
    round the (smaller, real) result instead: one pass less over the complex block,
    and a result at least as close to the float64 truth (~1e-7 relative). ``abs()``
    of a complex tensor calls ``hypot`` per element and was 3x slower than squaring.
    """
    parts = torch.view_as_real(spec)
    result = parts[..., 0].square()
    result.addcmul_(parts[..., 1], parts[..., 1])
    if power == 1.0:
        return result.sqrt_()
    if power != 2.0:
        return result.pow_(power / 2)
    return result


class _BandedProjection:
    """``project @ S`` for a filterbank whose rows are mostly zeros (mel, not chroma).

    A mel filter only covers the FFT bins between its neighbours' centres, so a
    dense ``(bands, bins)`` product multiplies mostly zeros: for 128 mels of a
    2048-point FFT it cost as much as the float64 FFT. Bands are taken in groups of
    :attr:`GROUP` neighbours and each group multiplies only the bins any of its
    filters touches (~1/8 of the dense work, 3x faster measured). The result differs
    from the dense product by summation order only (~1e-7 relative). Dense
    filterbanks (chroma) keep one dense product.
    """

    GROUP = 16

    def __init__(self, project: torch.Tensor) -> None:
        bands, bins = project.shape
        self.groups: list[tuple[int, int, int, int, torch.Tensor]] = []
        nonzero = project != 0
        covered = 0
        for g0 in range(0, bands, self.GROUP):
            g1 = min(g0 + self.GROUP, bands)
            used = torch.nonzero(nonzero[g0:g1].any(dim=0)).flatten()
            lo, hi = (int(used[0]), int(used[-1]) + 1) if used.numel() else (0, 0)
            covered += hi - lo
            self.groups.append((g0, g1, lo, hi, project[g0:g1, lo:hi].contiguous()))
        if covered * self.GROUP > bins * bands // 2:  # not sparse enough to pay off
            self.groups = [(0, bands, 0, bins, project.contiguous())]

    def apply(self, spectrum: torch.Tensor, *, out: torch.Tensor) -> None:
        """Write ``project @ spectrum.T`` (``(bands, rows)``) into ``out``."""
        for g0, g1, lo, hi, weights in self.groups:
            if hi > lo:
                torch.mm(weights, spectrum[:, lo:hi].T, out=out[g0:g1])
            else:
                out[g0:g1] = 0


_local = threading.local()


def _scratch(rows: int, cols: int, dtype: torch.dtype) -> torch.Tensor:
    """A per-thread reusable buffer of at least ``(rows, cols)`` (a fresh 4 MB block
    per call would page-fault on every first touch)."""
    buf = getattr(_local, "scratch", None)
    if buf is None or buf.shape[0] < rows or buf.shape[1] != cols or buf.dtype != dtype:
        # A normal tensor, even when first made under inference mode: an inference
        # tensor could not be written outside inference mode later on this thread.
        with torch.inference_mode(False):
            buf = _local.scratch = torch.empty(rows, cols, dtype=dtype)
    return buf


_pool_lock = threading.Lock()
_pool: tuple[int, int, ThreadPoolExecutor] | None = None


def _forget_pool_after_fork() -> None:
    # A forked child has none of the parent's threads, and the lock may have been
    # held by one of them at the fork: start afresh (DataLoader workers fork).
    global _pool_lock, _pool
    _pool_lock, _pool = threading.Lock(), None


os.register_at_fork(after_in_child=_forget_pool_after_fork)


def _block_pool(threads: int) -> ThreadPoolExecutor:
    """Threads for blocks, each running torch single-threaded; rebuilt after a fork."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool[0] != os.getpid() or _pool[1] != threads:
            _pool = (
                os.getpid(),
                threads,
                ThreadPoolExecutor(
                    threads,
                    thread_name_prefix="tm-blocks",
                    initializer=torch.set_num_threads,
                    initargs=(1,),
                ),
            )
        return _pool[2]


def _run_blocks(units: list[Any], run: Callable[[Any], None]) -> None:
    """``run(unit)`` for every block, on ``torch.get_num_threads()`` threads.

    Why not torch's own intra-op threads: each block is ~10 small ops, and every op
    is an OpenMP fork/join. On a loaded machine a join waits for a descheduled
    thread; measured with other processes busy, a 30 s log-mel took 650 ms with 2
    intra-op threads and 12 ms with one. Whole blocks on single-threaded workers
    have no per-op joins (torch ops release the GIL), so they degrade gracefully
    and still use every core on an idle machine. The calling thread's grad and
    inference modes are carried into the workers (both are thread-local).
    """
    threads = min(outer_threads(), len(units))
    inference = torch.is_inference_mode_enabled()

    def task(unit: Any) -> None:
        with torch.inference_mode(inference), torch.no_grad():
            run(unit)

    if threads <= 1:
        for unit in units:
            task(unit)
        return
    for _ in _block_pool(threads).map(task, units):
        pass


def use_blocked_path(y: torch.Tensor | None) -> bool:
    """Whether :func:`blocked_spectrogram` applies: CPU tensors that need no gradient."""
    return (
        isinstance(y, torch.Tensor)
        and y.device.type == "cpu"
        and not (torch.is_grad_enabled() and y.requires_grad)
    )


def blocked_spectrogram(
    y: torch.Tensor,
    *,
    power: float,
    n_fft: int,
    hop_length: int | None,
    win_length: int | None,
    window: WindowSpec,
    center: bool,
    pad_mode: str,
    project: torch.Tensor | None = None,
) -> torch.Tensor:
    """``|stft(y)| ** power``, optionally projected, computed a block of frames at a time.

    Same result as :func:`spectrogram` (followed by ``project.T @ S``) without ever
    holding the whole spectrum: the fast path for CPU inference. No autograd.

    Parameters
    ----------
    y : torch.Tensor, shape ``(..., samples)``
    project : torch.Tensor, shape ``(bands, 1 + n_fft // 2)``, optional
        A filterbank applied to each frame's spectrum (e.g. the mel basis).

    Returns
    -------
    torch.Tensor, shape ``(..., bands or 1 + n_fft // 2, frames)``, ``y``'s dtype.
    """
    power = _validate.power(power)
    out_dtype = y.dtype
    y, n_fft, hop_length, win, work = _prepare(
        y,
        n_fft=n_fft,
        hop_length=hop_length,
        win_length=win_length,
        window=window,
        center=center,
        pad_mode=pad_mode,
        pad=False,
    )
    batch = y.shape[:-1]
    segments = _frame_segments(y.reshape(-1, y.shape[-1]), n_fft, hop_length, center, pad_mode)
    n_items = segments[0][1].shape[0]
    n_frames = sum(frames.shape[1] for _, frames in segments)
    bands = n_fft // 2 + 1 if project is None else project.shape[0]
    projection = None if project is None else _BandedProjection(project.to(y.device, out_dtype))
    if projection is None:
        # Frames-major, returned as a transposed view: each block is written as one
        # contiguous run (writing it transposed into (bins, frames) cost ~7 ms per
        # 30 s clip in strided stores).
        out = torch.empty(n_items, n_frames, bands, dtype=out_dtype)
    else:
        out = torch.empty(n_items, bands, n_frames, dtype=out_dtype)
    step = _block_frames(n_items, n_frames)
    units = [
        (item, first + start, frames[item, start : start + step])
        for item in range(n_items)
        for first, frames in segments
        for start in range(0, frames.shape[1], step)
    ]

    def run(unit: tuple[int, int, torch.Tensor]) -> None:
        item, at, chunk = unit
        rows = chunk.shape[0]
        # Promote to the compute dtype, then window in place (one pass each; faster
        # than a mixed-dtype multiply into the buffer).
        block = _scratch(rows, n_fft, work)[:rows].copy_(chunk).mul_(win)
        result = _power(torch.fft.rfft(block), power)
        if projection is None:
            out[item, at : at + rows].copy_(result)  # rounds to out_dtype
        else:
            projection.apply(result.to(out_dtype), out=out[item, :, at : at + rows])

    _run_blocks(units, run)
    if projection is None:
        return out.transpose(-1, -2).reshape(*batch, bands, n_frames)
    return out.reshape(*batch, bands, n_frames)


def stft(
    y: torch.Tensor,
    *,
    n_fft: int = 2048,
    hop_length: int | None = None,
    win_length: int | None = None,
    window: WindowSpec = "hann",
    center: bool = True,
    pad_mode: str = "constant",
) -> torch.Tensor:
    """Short-time Fourier transform, equal to ``librosa.stft``.

    Parameters
    ----------
    y : torch.Tensor, shape ``(..., samples)``, float32 or float64
        Audio; leading dimensions are batch dimensions.
    n_fft : int
        FFT size (frame length).
    hop_length : int, optional
        Samples between frames; default ``win_length // 4``.
    win_length : int, optional
        Window length (<= ``n_fft``); the window is zero-padded centred to ``n_fft``.
        Default ``n_fft``.
    window : str, tuple, float, callable or array
        Any window ``scipy.signal.get_window`` accepts (periodic), a callable
        ``f(win_length)``, or ``win_length`` samples.
    center : bool
        Pad by ``n_fft // 2`` on both sides so frame ``t`` is centred at
        ``t * hop_length``. Otherwise frame ``t`` starts there.
    pad_mode : {'constant', 'edge', 'reflect', 'symmetric'}
        numpy.pad mode of the centre padding ('constant' pads zeros).

    Returns
    -------
    torch.Tensor, shape ``(..., 1 + n_fft // 2, frames)``
        complex64 for float32 input, complex128 for float64; same device.

    Examples
    --------
    >>> y = torch.randn(2, 22050)
    >>> stft(y).shape
    torch.Size([2, 1025, 44])
    """
    y, n_fft, hop_length, win, work = _prepare(
        y,
        n_fft=n_fft,
        hop_length=hop_length,
        win_length=win_length,
        window=window,
        center=center,
        pad_mode=pad_mode,
    )
    batch = y.shape[:-1]
    spec = torch.stft(
        y.reshape(-1, y.shape[-1]).to(work),
        n_fft,
        hop_length=hop_length,
        win_length=n_fft,
        window=win,
        center=False,
        return_complex=True,
    )
    return spec.reshape(*batch, *spec.shape[-2:]).to(_COMPLEX[y.dtype])


@cpu_inference_threads
def spectrogram(
    y: torch.Tensor,
    *,
    power: float = 1.0,
    n_fft: int = 2048,
    hop_length: int | None = 512,
    win_length: int | None = None,
    window: WindowSpec = "hann",
    center: bool = True,
    pad_mode: str = "constant",
) -> torch.Tensor:
    """Magnitude spectrogram ``|stft(y)| ** power`` (librosa's ``_spectrogram``).

    Parameters
    ----------
    y : torch.Tensor, shape ``(..., samples)``
        Audio.
    power : float
        Exponent of the magnitude: 1 for magnitude, 2 for power.
    n_fft, hop_length, win_length, window, center, pad_mode
        As in :func:`stft` (``hop_length=None`` means ``win_length // 4``).

    Returns
    -------
    torch.Tensor, shape ``(..., 1 + n_fft // 2, frames)``
        Same dtype and device as ``y``.

    Examples
    --------
    >>> spectrogram(torch.randn(22050), power=2.0).shape
    torch.Size([1025, 44])
    """
    power = _validate.power(power)
    kwargs = dict(
        n_fft=n_fft,
        hop_length=hop_length,
        win_length=win_length,
        window=window,
        center=center,
        pad_mode=pad_mode,
    )
    if use_blocked_path(y):
        return blocked_spectrogram(y, power=power, **kwargs)
    return stft(y, **kwargs).abs() ** power


def _spectrogram(
    y: torch.Tensor | None,
    S: torch.Tensor | None,
    *,
    n_fft: int | None,
    hop_length: int | None,
    power: float,
    win_length: int | None,
    window: WindowSpec,
    center: bool,
    pad_mode: str,
) -> tuple[torch.Tensor, int]:
    """librosa's ``_spectrogram``: use ``S`` as given (inferring ``n_fft`` from its
    bins when they disagree) or compute ``|stft(y)| ** power``."""
    _validate.one_input(y, S)
    if S is not None:
        S = _validate.spectrogram(S)
        if n_fft is None or n_fft // 2 + 1 != S.shape[-2]:
            n_fft = 2 * (S.shape[-2] - 1)
        if n_fft <= 0:
            raise ParameterError(
                f"S has {S.shape[-2]} frequency bin(s) (shape {tuple(S.shape)}); expected "
                "n_fft // 2 + 1 >= 2 bins along dimension -2"
            )
        return S, n_fft
    if n_fft is None:
        raise ParameterError("n_fft=None: an FFT size is needed to compute a spectrogram from y")
    spec = spectrogram(
        y,  # type: ignore[arg-type]
        power=power,
        n_fft=n_fft,
        hop_length=hop_length,
        win_length=win_length,
        window=window,
        center=center,
        pad_mode=pad_mode,
    )
    return spec, n_fft
