"""Batch augmentations of feature tensors, in plain torch (no Lightning needed).

All functions take a batch ``x`` of shape ``(batch, n_bins, frames)`` (any leading
batch shape works for gain) and return a new tensor; inputs are never modified.
They run on whatever device ``x`` lives on, so a GPU run augments on the GPU and
the data loader only slices cached features.

SpecAugment masking is written here rather than taken from torchaudio: it is a few
lines, and torchaudio would be a heavy dependency for them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import torch

from torchmusic.errors import ParameterError

GainScale = Literal["db", "power", "amplitude"]


def _check_batch(x: torch.Tensor, *, min_dim: int) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim < min_dim or not x.is_floating_point():
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ParameterError(
            f"x must be a float tensor with at least {min_dim} dimensions "
            f"(batch, n_bins, frames), got {shape}"
        )


def random_gain(
    x: torch.Tensor,
    *,
    max_db: float,
    scale: GainScale = "db",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Change the level of each example by a random gain in ``[-max_db, max_db]`` dB.

    Parameters
    ----------
    x : torch.Tensor, shape (batch, ...)
        Features or waveforms.
    max_db : float >= 0
        Largest gain magnitude in decibels.
    scale : {"db", "power", "amplitude"}
        How ``x`` relates to level: ``"db"`` (log-mel in dB: the gain is added),
        ``"power"`` (mel power: multiplied by ``10**(g/10)``), ``"amplitude"``
        (waveforms, magnitudes: ``10**(g/20)``).
    generator : torch.Generator, optional
        Random source (default: torch's global one).

    Returns
    -------
    torch.Tensor, same shape as ``x``

    Examples
    --------
    >>> x = torch.zeros(4, 8, 10)
    >>> y = random_gain(x, max_db=6.0)
    >>> bool((y.amax(dim=(1, 2)) - y.amin(dim=(1, 2)) == 0).all())  # one gain per example
    True
    """
    _check_batch(x, min_dim=1)
    if not max_db >= 0:
        raise ParameterError(f"max_db={max_db!r} must be >= 0")
    if scale not in ("db", "power", "amplitude"):
        raise ParameterError(f"scale={scale!r} must be 'db', 'power' or 'amplitude'")
    if max_db == 0:
        return x.clone()
    shape = (x.shape[0],) + (1,) * (x.ndim - 1)
    u = torch.rand(shape, generator=generator, device=generator.device if generator else x.device)
    gain_db = ((2 * u - 1) * max_db).to(device=x.device, dtype=x.dtype)
    if scale == "db":
        return x + gain_db
    return x * torch.pow(10.0, gain_db / (10.0 if scale == "power" else 20.0))


def _mask_axis(
    x: torch.Tensor,
    *,
    axis: int,
    max_width: int,
    n_masks: int,
    generator: torch.Generator | None,
    value: float | None,
) -> torch.Tensor:
    """Zero out (or fill) up to ``n_masks`` random bands of at most ``max_width`` along ``axis``."""
    _check_batch(x, min_dim=3)
    if not isinstance(max_width, int) or max_width < 0:
        raise ParameterError(f"max_width={max_width!r} must be an int >= 0")
    if not isinstance(n_masks, int) or n_masks < 1:
        raise ParameterError(f"n_masks={n_masks!r} must be an int >= 1")
    size = x.shape[axis]
    max_width = min(max_width, size)
    if max_width == 0:
        return x.clone()
    batch = x.shape[0]
    dev = generator.device if generator is not None else x.device
    # Widths in [0, max_width], starts uniform over the positions where the band fits.
    widths = torch.randint(0, max_width + 1, (batch, n_masks), generator=generator, device=dev)
    starts = torch.rand((batch, n_masks), generator=generator, device=dev) * (size - widths + 1)
    starts = starts.floor().long()
    pos = torch.arange(size, device=dev)
    # (batch, n_masks, size) -> (batch, size): True where any mask covers the position.
    covered = ((pos >= starts[..., None]) & (pos < (starts + widths)[..., None])).any(dim=1)
    covered = covered.to(x.device)
    shape = [batch] + [1] * (x.ndim - 1)
    shape[axis] = size
    covered = covered.view(shape)
    # Fill with each example's mean by default: for log-mel this is a plausible level,
    # whereas 0 dB would be the loudest possible value.
    fill = x.mean(dim=tuple(range(1, x.ndim)), keepdim=True) if value is None else value
    return torch.where(covered, fill, x)


def time_mask(
    x: torch.Tensor,
    *,
    max_width: int,
    n_masks: int = 1,
    value: float | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """SpecAugment time masking: hide random runs of frames.

    Parameters
    ----------
    x : torch.Tensor, shape (batch, n_bins, frames)
        Features.
    max_width : int >= 0
        Longest mask in frames (each mask's width is uniform in ``[0, max_width]``).
    n_masks : int >= 1
        Masks per example (they may overlap).
    value : float, optional
        Fill value; default: each example's mean.
    generator : torch.Generator, optional
        Random source.

    Returns
    -------
    torch.Tensor, shape (batch, n_bins, frames)

    Examples
    --------
    >>> x = torch.randn(2, 16, 100)
    >>> time_mask(x, max_width=20, value=0.0).shape
    torch.Size([2, 16, 100])
    """
    return _mask_axis(
        x, axis=-1, max_width=max_width, n_masks=n_masks, generator=generator, value=value
    )


def freq_mask(
    x: torch.Tensor,
    *,
    max_width: int,
    n_masks: int = 1,
    value: float | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """SpecAugment frequency masking: hide random bands of bins.

    Parameters
    ----------
    x : torch.Tensor, shape (batch, n_bins, frames)
        Features.
    max_width : int >= 0
        Widest mask in bins.
    n_masks : int >= 1
        Masks per example.
    value : float, optional
        Fill value; default: each example's mean.
    generator : torch.Generator, optional
        Random source.

    Returns
    -------
    torch.Tensor, shape (batch, n_bins, frames)

    Examples
    --------
    >>> freq_mask(torch.randn(2, 16, 100), max_width=4).shape
    torch.Size([2, 16, 100])
    """
    return _mask_axis(
        x, axis=-2, max_width=max_width, n_masks=n_masks, generator=generator, value=value
    )


def freq_shift(
    x: torch.Tensor,
    *,
    max_bins: int,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Shift each example's spectrum up or down by a random whole number of bins.

    On mel (or CQT) features a shift of a few bins approximates a change of
    tuning or pitch: a drum kit tuned higher, a smaller cymbal. Bins shifted in
    from outside the spectrum repeat the edge bin.

    Parameters
    ----------
    x : torch.Tensor, shape (batch, n_bins, frames)
        Features.
    max_bins : int >= 0
        Largest shift; each example's shift is uniform in ``[-max_bins, max_bins]``.
    generator : torch.Generator, optional
        Random source.

    Returns
    -------
    torch.Tensor, shape (batch, n_bins, frames)

    Examples
    --------
    >>> x = torch.arange(4.0).view(1, 4, 1).expand(3, 4, 2)
    >>> y = freq_shift(x, max_bins=1)
    >>> bool(((y - x).abs() <= 1).all())
    True
    """
    _check_batch(x, min_dim=3)
    if not isinstance(max_bins, int) or isinstance(max_bins, bool) or max_bins < 0:
        raise ParameterError(f"max_bins={max_bins!r} must be an int >= 0")
    if max_bins == 0:
        return x.clone()
    batch, n_bins = x.shape[0], x.shape[-2]
    dev = generator.device if generator is not None else x.device
    shifts = torch.randint(-max_bins, max_bins + 1, (batch, 1), generator=generator, device=dev)
    # Output bin f reads input bin f - shift, clamped to the spectrum (edge repeated).
    source = (torch.arange(n_bins, device=dev) - shifts).clamp(0, n_bins - 1).to(x.device)
    index = source.view(batch, n_bins, 1).expand(batch, n_bins, x.shape[-1])
    return torch.gather(x, -2, index)


def random_eq(
    x: torch.Tensor,
    *,
    max_db: float,
    order: int = 3,
    scale: GainScale = "db",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Colour each example with a random smooth equaliser curve over its bins.

    The curve is a sum of ``order`` cosines over the bins (half a period, one
    period, ...) with random weights: tilts and broad boosts or cuts, like the
    EQ, microphones and rooms that make one recording of a snare differ from
    another. Its magnitude never exceeds ``max_db``.

    Parameters
    ----------
    x : torch.Tensor, shape (batch, n_bins, frames)
        Features.
    max_db : float >= 0
        Largest boost or cut in decibels.
    order : int >= 1
        Cosines in the curve (higher: wigglier curves).
    scale : {"db", "power", "amplitude"}
        How ``x`` relates to level (see :func:`random_gain`).
    generator : torch.Generator, optional
        Random source.

    Returns
    -------
    torch.Tensor, shape (batch, n_bins, frames)

    Examples
    --------
    >>> x = torch.zeros(2, 16, 10)
    >>> y = random_eq(x, max_db=6.0)
    >>> bool((y.abs() <= 6.0).all()), bool((y[:, :, 0:1] == y).all())  # one curve per example
    (True, True)
    """
    _check_batch(x, min_dim=3)
    if not max_db >= 0:
        raise ParameterError(f"max_db={max_db!r} must be >= 0")
    if not isinstance(order, int) or isinstance(order, bool) or order < 1:
        raise ParameterError(f"order={order!r} must be an int >= 1")
    if scale not in ("db", "power", "amplitude"):
        raise ParameterError(f"scale={scale!r} must be 'db', 'power' or 'amplitude'")
    if max_db == 0:
        return x.clone()
    batch, n_bins = x.shape[0], x.shape[-2]
    dev = generator.device if generator is not None else x.device
    pos = torch.linspace(0.0, torch.pi, n_bins, device=dev)
    basis = torch.cos(torch.arange(1, order + 1, device=dev)[:, None] * pos)  # (order, n_bins)
    # Weights in +-max_db / order: the curve's magnitude is at most max_db.
    weights = (2 * torch.rand((batch, order), generator=generator, device=dev) - 1) * max_db / order
    curve = (weights @ basis).to(device=x.device, dtype=x.dtype)[:, :, None]
    if scale == "db":
        return x + curve
    return x * torch.pow(10.0, curve / (10.0 if scale == "power" else 20.0))


def mixup(
    x: torch.Tensor, y: torch.Tensor, *, alpha: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mixup (Zhang et al. 2018): blend each example with another one of the batch.

    ``x' = lam * x + (1 - lam) * x[perm]`` and the same for the targets, with one
    ``lam ~ Beta(alpha, alpha)`` per example. Random numbers come from torch's
    global generator (seeded by :func:`lightning.seed_everything` in training).

    Parameters
    ----------
    x : torch.Tensor, shape (batch, ...)
        Inputs.
    y : torch.Tensor, shape (batch, n_classes)
        Float targets: one-hot (single-label) or multi-hot (multi-label).
    alpha : float > 0
        Beta distribution parameter; small values (0.2-0.4) mix gently.

    Returns
    -------
    x_mixed : torch.Tensor, shape like ``x``
    y_mixed : torch.Tensor, shape (batch, n_classes)
        Soft targets (rows of a one-hot ``y`` still sum to 1).
    lam : torch.Tensor, shape (batch,)

    Examples
    --------
    >>> x, y = torch.randn(4, 8, 10), torch.eye(4)
    >>> xm, ym, lam = mixup(x, y, alpha=0.4)
    >>> torch.allclose(ym.sum(dim=1), torch.ones(4))
    True
    """
    _check_batch(x, min_dim=1)
    if not isinstance(y, torch.Tensor) or y.ndim != 2 or y.shape[0] != x.shape[0]:
        raise ParameterError(
            f"y must be float targets of shape (batch={x.shape[0]}, n_classes), got "
            f"{tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__}"
        )
    if not alpha > 0:
        raise ParameterError(f"alpha={alpha!r} must be > 0")
    batch = x.shape[0]
    lam = torch.distributions.Beta(float(alpha), float(alpha)).sample((batch,)).to(x.device)
    perm = torch.randperm(batch, device=x.device)
    lam_x = lam.to(x.dtype).view((batch,) + (1,) * (x.ndim - 1))
    lam_y = lam.to(y.dtype).view(batch, 1)
    x_mixed = lam_x * x + (1 - lam_x) * x[perm]
    y_mixed = lam_y * y + (1 - lam_y) * y[perm]
    return x_mixed, y_mixed, lam


def augment_batch(
    x: torch.Tensor,
    *,
    settings: Mapping[str, float],
    scale: GainScale = "db",
) -> torch.Tensor:
    """Apply gain and SpecAugment masks as set in a training config's ``augment`` dict.

    Mixup is separate (:func:`mixup`) because it also changes the targets.

    Parameters
    ----------
    x : torch.Tensor, shape (batch, n_bins, frames)
        Features.
    settings : mapping
        ``gain_db`` (dB), ``eq_db`` (largest boost or cut of :func:`random_eq`, dB),
        ``freq_shift`` (largest :func:`freq_shift` as a fraction of the bins),
        ``time_mask`` / ``freq_mask`` (widest mask as a fraction of the frames /
        bins), ``n_masks``; missing keys mean off. Applied in that order: the
        level and colour changes first, then the masks.
    scale : {"db", "power", "amplitude"}
        How the features relate to level (see :func:`random_gain`).

    Returns
    -------
    torch.Tensor, shape (batch, n_bins, frames)

    Examples
    --------
    >>> x = torch.randn(2, 16, 100)
    >>> augment_batch(x, settings={"gain_db": 6, "time_mask": 0.1}).shape
    torch.Size([2, 16, 100])
    """
    n_masks = int(settings.get("n_masks", 1))
    if settings.get("gain_db", 0):
        x = random_gain(x, max_db=float(settings["gain_db"]), scale=scale)
    if settings.get("eq_db", 0):
        x = random_eq(x, max_db=float(settings["eq_db"]), scale=scale)
    if settings.get("freq_shift", 0):
        x = freq_shift(x, max_bins=round(float(settings["freq_shift"]) * x.shape[-2]))
    if settings.get("time_mask", 0):
        width = int(float(settings["time_mask"]) * x.shape[-1])
        x = time_mask(x, max_width=width, n_masks=n_masks)
    if settings.get("freq_mask", 0):
        width = int(float(settings["freq_mask"]) * x.shape[-2])
        x = freq_mask(x, max_width=width, n_masks=n_masks)
    return x
