"""Parts every vocoder generator shares: input checks, upsampling checks, weight norm.

The generators themselves live one per module (:mod:`.hifigan`, :mod:`.melgan`,
:mod:`.vocos`); this module holds what they have in common so that each validates
its input and config the same way and with the same messages.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import weight_norm

from torchmusic.errors import ParameterError


def check_positive_int(name: str, value: object) -> int:
    """``value`` if it is a positive ``int`` (not a bool), else :class:`ParameterError`."""
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ParameterError(f"{name}={value!r} must be a positive integer")
    return value


def check_common(n_mels: object, hop_length: object, input_scale: object) -> None:
    """Validate the three fields every generator config has."""
    check_positive_int("n_mels", n_mels)
    check_positive_int("hop_length", hop_length)
    if (
        not isinstance(input_scale, (int, float))
        or isinstance(input_scale, bool)
        or not math.isfinite(input_scale)
        or input_scale <= 0
    ):
        raise ParameterError(f"input_scale={input_scale!r} must be a positive finite number")


def check_upsampling(
    upsample_rates: Sequence[int],
    hop_length: int,
    kernel_sizes: Sequence[int] | None = None,
) -> None:
    """The transposed-conv stack must turn one frame into exactly ``hop_length`` samples.

    Raises
    ------
    ParameterError
        A rate is not a positive int, the rates do not multiply to ``hop_length``,
        or (with ``kernel_sizes``) the lengths differ or a kernel is smaller than its rate.

    Examples
    --------
    >>> check_upsampling((8, 8, 2, 2), 512)
    Traceback (most recent call last):
    ...
    torchmusic.errors.ParameterError: upsample_rates (8, 8, 2, 2) multiply to 256 but hop_length is 512
    """
    rates = tuple(upsample_rates)
    if not rates:
        raise ParameterError("upsample_rates must not be empty")
    for rate in rates:
        check_positive_int("upsample rate", rate)
    product = math.prod(rates)
    if product != hop_length:
        raise ParameterError(
            f"upsample_rates {rates} multiply to {product} but hop_length is {hop_length}"
        )
    if kernel_sizes is not None:
        kernels = tuple(kernel_sizes)
        if len(kernels) != len(rates):
            raise ParameterError(
                f"upsample_kernel_sizes {kernels} must have one kernel per rate in "
                f"upsample_rates {rates}"
            )
        for rate, kernel in zip(rates, kernels, strict=True):
            # A kernel shorter than its stride leaves gaps between the upsampled frames.
            if not isinstance(kernel, int) or kernel < rate:
                raise ParameterError(
                    f"upsample kernel {kernel!r} must be an int >= its rate {rate} "
                    f"(upsample_kernel_sizes {kernels}, upsample_rates {rates})"
                )


def upsample_conv(
    channels_in: int, channels_out: int, rate: int, kernel: int
) -> nn.ConvTranspose1d:
    """A transposed conv that maps ``L`` steps to exactly ``L * rate`` steps.

    ``out = (L - 1) * rate - 2 * padding + kernel + output_padding``; choosing
    ``2 * padding - output_padding = kernel - rate`` makes it ``L * rate`` (an odd
    ``kernel - rate`` pads one more on each side and gives one step back at the end).
    """
    padding = (kernel - rate + 1) // 2
    output_padding = (kernel - rate) % 2
    return nn.ConvTranspose1d(
        channels_in,
        channels_out,
        kernel,
        stride=rate,
        padding=padding,
        output_padding=output_padding,
    )


def as_batch(mel: object, n_mels: int) -> tuple[torch.Tensor, bool]:
    """``(batch, n_mels, frames)`` from a 2-D or 3-D mel, and whether it was 2-D.

    Raises
    ------
    ParameterError
        Not a floating-point tensor, wrong number of dimensions, wrong ``n_mels``
        or no frames.
    """
    if not isinstance(mel, torch.Tensor):
        raise ParameterError(f"mel must be a torch.Tensor, got {type(mel).__name__}")
    if not mel.is_floating_point():
        raise ParameterError(f"mel must be a floating-point tensor, got dtype {mel.dtype}")
    if mel.ndim not in (2, 3):
        raise ParameterError(
            f"mel must be (batch, n_mels, frames) or (n_mels, frames), got shape "
            f"{tuple(mel.shape)} with ndim={mel.ndim}"
        )
    if mel.shape[-2] != n_mels:
        raise ParameterError(
            f"mel has {mel.shape[-2]} mel bands (shape {tuple(mel.shape)}) but the "
            f"vocoder was built for n_mels={n_mels}"
        )
    if mel.shape[-1] == 0:
        raise ParameterError(f"mel has no frames (shape {tuple(mel.shape)})")
    unbatched = mel.ndim == 2
    return (mel.unsqueeze(0) if unbatched else mel), unbatched


def maybe_weight_norm(module: nn.Module, enabled: bool, std: float | None = None) -> nn.Module:
    """``weight_norm(module)`` when ``enabled`` (the parametrization API, not the old hook).

    With ``std``, the weight is first drawn from ``N(0, std)``; doing it before the
    parametrization makes the norm ``g`` match the new weight.
    """
    if std is not None:
        with torch.no_grad():
            module.weight.normal_(0.0, std)
    return weight_norm(module) if enabled else module


def remove_weight_norm(model: nn.Module) -> nn.Module:
    """Fold every weight-norm parametrization into a plain weight, in place.

    Inference is faster without re-computing ``g * v / ||v||`` at every call; the
    output does not change. Returns ``model`` for chaining.

    Examples
    --------
    >>> from torchmusic.models.vocoder import HiFiGAN, HiFiGANConfig
    >>> model = remove_weight_norm(HiFiGAN(HiFiGANConfig()).eval())  # doctest: +SKIP
    """
    for module in model.modules():
        if parametrize.is_parametrized(module, "weight"):
            parametrize.remove_parametrizations(module, "weight", leave_parametrized=True)
    return model
