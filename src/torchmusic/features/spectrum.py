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
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.signal
import torch

from torchmusic.errors import ParameterError
from torchmusic.features import _validate
from torchmusic.features._util import compute_dtype, device_key, numpy_pad, tensor_cache

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


def _center_pad(y: torch.Tensor, n_fft: int, hop_length: int, pad_mode: str) -> torch.Tensor:
    """Pad ``y`` by ``n_fft // 2`` on both sides the way librosa 0.11's ``stft`` does.

    librosa frames the head (from a padded prefix), the middle (unpadded) and the tail
    (from a padded suffix) separately. The frames are those of ``head + y + tail``
    where ``head`` pads the prefix and ``tail`` pads the suffix; for numpy's reflect
    and symmetric modes a short suffix is reflected repeatedly, which is why the tail
    is not simply taken from the whole signal.
    """
    length = y.shape[-1]
    half = n_fft // 2
    start_k = math.ceil(half / hop_length)  # frames touching the left padding
    tail_k = (length + half - n_fft) // hop_length + 1  # first frame touching the right one
    if tail_k <= start_k:
        # Head and tail frames overlap: librosa pads the whole signal at once.
        return numpy_pad(y, half, half, pad_mode)
    prefix = (start_k - 1) * hop_length - half + n_fft + 1
    head = numpy_pad(y[..., :prefix], half, 0, pad_mode)[..., :half]
    tail_start = tail_k * hop_length - half
    if tail_k * hop_length - half + n_fft <= length + half:
        tail = numpy_pad(y[..., tail_start:], 0, half, pad_mode)[..., length - tail_start :]
    else:
        # No frame reaches into the right padding: its content is never used.
        tail = y.new_zeros((*y.shape[:-1], half))
    return torch.cat([head, y, tail], dim=-1)


def _prepare(
    y: torch.Tensor,
    *,
    n_fft: int,
    hop_length: int | None,
    win_length: int | None,
    window: WindowSpec,
    center: bool,
    pad_mode: str,
) -> tuple[torch.Tensor, int, int, torch.Tensor, torch.dtype]:
    """Validate, centre-pad; return (padded y, n_fft, hop, window, compute dtype)."""
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
    if center:
        y = _center_pad(y, n_fft, hop_length, pad_mode)
    return y, n_fft, hop_length, win, work


# Frames per block of the blocked CPU path: a block's frames, spectrum and projection
# (~256 x 2048 samples) stay in the CPU caches. Materialising the whole complex STFT of
# a batch instead makes every pass (window, |.|^2, projection) memory-bound and was
# 2-3x slower than librosa, which blocks its own STFT for the same reason.
_BLOCK_FRAMES = 256


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
    )
    batch = y.shape[:-1]
    frames = y.reshape(-1, y.shape[-1]).unfold(-1, n_fft, hop_length)  # a view
    n_items, n_frames = frames.shape[:2]
    bins = n_fft // 2 + 1
    basis = None if project is None else project.to(y.device, out_dtype).T.contiguous()
    out = torch.empty(
        n_items, n_frames, bins if project is None else project.shape[0], dtype=out_dtype
    )
    windowed = torch.empty(min(_BLOCK_FRAMES, n_frames), n_fft, dtype=work)  # reused
    with torch.no_grad():
        for item in range(n_items):
            for start in range(0, n_frames, _BLOCK_FRAMES):
                chunk = frames[item, start : start + _BLOCK_FRAMES]
                # One pass: promote to the compute dtype and apply the window.
                block = torch.mul(chunk, win, out=windowed[: chunk.shape[0]])
                # FFT in the compute precision, rounded to the output's, as librosa does.
                spec = torch.fft.rfft(block).to(_COMPLEX[out_dtype])
                if power == 2.0:
                    result = (spec * spec.conj()).real  # |X|^2 without the sqrt of abs()
                else:
                    result = spec.abs()
                    if power != 1.0:
                        result = result.pow_(power)
                if basis is not None:
                    result = result @ basis
                out[item, start : start + _BLOCK_FRAMES] = result
    return out.transpose(-1, -2).reshape(*batch, out.shape[-1], n_frames)


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
