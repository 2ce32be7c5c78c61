"""Losses of denoiser training: negative SI-SDR and multi-resolution compressed-STFT error.

Every loss takes ``(target, estimate)``, the clean reference first, like the other
losses of torchmusic, with shapes ``(batch, samples)`` (or ``(samples,)``), and
computes in float32 even under autocast (STFTs and logarithms in half precision
would change what the network learns).

- :func:`neg_si_sdr`: ``-SI-SDR`` in dB, the mean over the batch. Scale-invariant,
  so it says nothing about level; the STFT term does.
- :class:`CompressedSTFTLoss`: mean squared error of ``|STFT| ** 0.3`` at several
  resolutions. The compression weighs quiet bins (reverb tails, high partials) far
  more than a linear magnitude would, which is where a denoiser's damage is heard.
- :class:`DenoiseLoss`: ``lambda_sisdr * neg_si_sdr + lambda_stft * stft``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from torchmusic.errors import ParameterError

#: (n_fft, hop) pairs of :class:`CompressedSTFTLoss` (at 22,050 Hz: 23, 46 and 93 ms).
DEFAULT_RESOLUTIONS: tuple[tuple[int, int], ...] = ((512, 128), (1024, 256), (2048, 512))


def _pair(target: torch.Tensor, estimate: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if target.shape != estimate.shape or target.ndim not in (1, 2) or target.shape[-1] < 2:
        raise ParameterError(
            f"target {tuple(target.shape)} and estimate {tuple(estimate.shape)} must have the "
            "same shape (batch, samples) or (samples,), at least 2 samples"
        )
    return target.float(), estimate.float()


def neg_si_sdr(
    target: torch.Tensor, estimate: torch.Tensor, *, eps: float = 1e-8, reduction: str = "mean"
) -> torch.Tensor:
    """Negative scale-invariant SDR in dB (lower is better).

    Both signals are made zero-mean; ``s = (<e, t> / <t, t>) t`` and the value is
    ``-10 log10(|s|^2 / |e - s|^2)``. ``eps`` keeps a silent target or a perfect
    estimate finite (then about ``-10 log10(|s|^2 / eps)``).

    Parameters
    ----------
    target, estimate : torch.Tensor
        ``(batch, samples)`` or ``(samples,)``.
    eps : float
        Added to both energies.
    reduction : {"mean", "none"}
        Mean over the batch, or one value per item.

    Returns
    -------
    torch.Tensor
        A scalar (``"mean"``) or ``(batch,)``.

    Examples
    --------
    >>> t = torch.tensor([1.0, -1.0, 1.0, -1.0])
    >>> round(float(neg_si_sdr(t, t + 0.1 * torch.tensor([1.0, 1.0, -1.0, -1.0]))), 3)
    -20.0
    """
    if reduction not in ("mean", "none"):
        raise ParameterError(f"reduction={reduction!r} must be 'mean' or 'none'")
    with torch.autocast(target.device.type, enabled=False):
        t, e = _pair(target, estimate)
        t = t - t.mean(dim=-1, keepdim=True)
        e = e - e.mean(dim=-1, keepdim=True)
        alpha = (e * t).sum(-1, keepdim=True) / (t.square().sum(-1, keepdim=True) + eps)
        s = alpha * t
        value = -10 * torch.log10((s.square().sum(-1) + eps) / ((e - s).square().sum(-1) + eps))
    return value.mean() if reduction == "mean" else value


class CompressedSTFTLoss(nn.Module):
    """Mean squared error of compressed STFT magnitudes, averaged over resolutions.

    For each ``(n_fft, hop)``: ``mean((|T| ** power - |E| ** power) ** 2)`` over bins and
    frames, with Hann windows of ``n_fft`` on centred frames; ``|.|`` of ``sqrt(power
    + 1e-12)`` so the gradient stays finite at silent bins.

    Parameters
    ----------
    resolutions : sequence of (n_fft, hop)
    power : float in (0, 1]
        The compression (0.3 as in most speech- and music-enhancement work).

    Examples
    --------
    >>> loss = CompressedSTFTLoss(resolutions=[(256, 64)])
    >>> y = torch.randn(1, 4096)
    >>> float(loss(y, y))
    0.0
    """

    def __init__(
        self, resolutions: Sequence[tuple[int, int]] = DEFAULT_RESOLUTIONS, power: float = 0.3
    ) -> None:
        super().__init__()
        self.resolutions = tuple((int(n), int(h)) for n, h in resolutions)
        if not self.resolutions or not all(0 < h <= n for n, h in self.resolutions):
            raise ParameterError(
                f"resolutions={list(resolutions)!r} must be a non-empty list of (n_fft, hop) "
                "with 0 < hop <= n_fft"
            )
        if not 0 < power <= 1:
            raise ParameterError(f"power={power!r} must be in (0, 1]")
        self.power = float(power)
        for i, (n_fft, _) in enumerate(self.resolutions):
            self.register_buffer(f"window_{i}", torch.hann_window(n_fft), persistent=False)

    def compressed(self, y: torch.Tensor, i: int) -> torch.Tensor:
        """``|STFT| ** power`` of ``y`` at resolution ``i``."""
        n_fft, hop = self.resolutions[i]
        spec = torch.stft(
            y, n_fft, hop_length=hop, window=getattr(self, f"window_{i}"), center=True,
            return_complex=True,
        )  # fmt: skip
        return (spec.real.square() + spec.imag.square() + 1e-12).pow(self.power / 2)

    def forward(self, target: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
        """The loss, a scalar (see the class)."""
        with torch.autocast(target.device.type, enabled=False):
            t, e = _pair(target, estimate)
            total = t.new_zeros(())
            for i in range(len(self.resolutions)):
                total = total + (self.compressed(t, i) - self.compressed(e, i)).square().mean()
        return total / len(self.resolutions)


class DenoiseLoss(nn.Module):
    """``lambda_sisdr * neg_si_sdr + lambda_stft * CompressedSTFTLoss``.

    Parameters
    ----------
    lambda_sisdr, lambda_stft : float >= 0
        Weights (not both 0).
    resolutions, power
        Of the :class:`CompressedSTFTLoss`.

    Returns
    -------
    dict
        ``{"total", "neg_si_sdr", "stft"}``, scalars.
    """

    def __init__(
        self,
        lambda_sisdr: float = 0.05,
        lambda_stft: float = 1.0,
        *,
        resolutions: Sequence[tuple[int, int]] = DEFAULT_RESOLUTIONS,
        power: float = 0.3,
    ) -> None:
        super().__init__()
        if not (lambda_sisdr >= 0 and lambda_stft >= 0 and lambda_sisdr + lambda_stft > 0):
            raise ParameterError(
                f"lambda_sisdr={lambda_sisdr!r} and lambda_stft={lambda_stft!r} must be >= 0 "
                "and not both 0"
            )
        self.lambda_sisdr, self.lambda_stft = float(lambda_sisdr), float(lambda_stft)
        self.stft = CompressedSTFTLoss(resolutions, power)

    def forward(self, target: torch.Tensor, estimate: torch.Tensor) -> dict[str, torch.Tensor]:
        sisdr = neg_si_sdr(target, estimate)
        stft = self.stft(target, estimate)
        total = self.lambda_sisdr * sisdr + self.lambda_stft * stft
        return {"total": total, "neg_si_sdr": sisdr, "stft": stft}
