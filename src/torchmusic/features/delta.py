"""Delta (derivative) features, equal to ``librosa.feature.delta``.

librosa calls ``scipy.signal.savgol_filter(data, width, deriv=order,
polyorder=order, mode=mode)``. The filter is linear, so we take its coefficients
from scipy and apply them with an unfold + matmul (differentiable, any device):
interior frames use ``savgol_coeffs``; with ``mode='interp'`` the first and last
``width // 2`` frames use the polynomial fit to the first/last ``width`` frames,
obtained by running scipy's own filter on an identity matrix.
"""

from __future__ import annotations

import numbers

import numpy as np
import scipy.signal
import torch

from torchmusic.errors import ParameterError
from torchmusic.features._util import device_key, numpy_pad, tensor_cache

# scipy.ndimage boundary modes as numpy.pad modes (ndimage 'mirror' is numpy 'reflect').
_MODES = {
    "interp": None,
    "mirror": "reflect",
    "nearest": "edge",
    "wrap": "wrap",
    "constant": "constant",
}


@tensor_cache(maxsize=32)
def _savgol_cached(
    width: int, order: int, dtype: torch.dtype, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    coeffs = scipy.signal.savgol_coeffs(width, order, deriv=order, use="dot")
    edges = scipy.signal.savgol_filter(np.eye(width), width, order, deriv=order, axis=0)
    return (
        torch.from_numpy(np.ascontiguousarray(coeffs)).to(device, dtype),
        torch.from_numpy(np.ascontiguousarray(edges)).to(device, dtype),
    )


def delta(
    data: torch.Tensor,
    *,
    width: int = 9,
    order: int = 1,
    axis: int = -1,
    mode: str = "interp",
) -> torch.Tensor:
    """Local estimate of the ``order``-th derivative along ``axis`` (``librosa.feature.delta``).

    Parameters
    ----------
    data : torch.Tensor, any shape
        Features, e.g. MFCCs of shape ``(..., n_mfcc, frames)``.
    width : int
        Odd window length >= 3 (and > ``order``); with ``mode='interp'`` at most
        ``data.shape[axis]``.
    order : int
        Derivative order (>= 1).
    axis : int
        Axis along which to differentiate (frames by default).
    mode : {'interp', 'mirror', 'nearest', 'wrap', 'constant'}
        Edge handling, as in ``scipy.signal.savgol_filter`` (constant pads zeros).

    Returns
    -------
    torch.Tensor, same shape, dtype and device as ``data``

    Examples
    --------
    >>> delta(torch.arange(10.0)[None] ** 2, width=3).tolist()[0][:4]
    [2.0, 2.0, 4.0, 6.0]
    """
    if not isinstance(data, torch.Tensor) or not data.is_floating_point():
        raise ParameterError(
            f"data must be a floating torch.Tensor, got {getattr(data, 'dtype', type(data).__name__)}"
        )
    if (
        isinstance(width, bool)
        or not isinstance(width, numbers.Integral)
        or width < 3
        or width % 2 != 1
    ):
        raise ParameterError(f"width={width!r} must be an odd integer >= 3")
    if isinstance(order, bool) or not isinstance(order, numbers.Integral) or order <= 0:
        raise ParameterError(f"order={order!r} must be a positive integer")
    if order >= width:
        raise ParameterError(f"order={order} must be less than width={width}")
    if mode not in _MODES:
        raise ParameterError(f"mode={mode!r} is not supported; expected one of {tuple(_MODES)}")
    if data.ndim == 0:
        data = data.reshape(1)  # np.atleast_1d, as librosa
    if not -data.ndim <= axis < data.ndim:
        raise ParameterError(f"axis={axis} is out of range for data of shape {tuple(data.shape)}")
    length = data.shape[axis]
    if mode == "interp" and width > length:
        raise ParameterError(
            f"when mode='interp', width={width} cannot exceed data.shape[axis]={length}"
        )
    coeffs, edge_fit = _savgol_cached(int(width), int(order), data.dtype, device_key(data.device))
    x = data.movedim(axis, -1)
    half = width // 2
    if mode == "interp":
        # Interior by the sliding filter, the ends by the edge polynomial fits.
        middle = x.unfold(-1, width, 1) @ coeffs
        head = x[..., :width] @ edge_fit[:half].T
        tail = x[..., -width:] @ edge_fit[width - half :].T
        out = torch.cat([head, middle, tail], dim=-1)
    else:
        padded = numpy_pad(x, half, half, _MODES[mode])  # type: ignore[arg-type]
        out = padded.unfold(-1, width, 1) @ coeffs
    return out.movedim(-1, axis)
