"""Validation and sizing helpers shared by the classifier networks."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from torchmusic.errors import ParameterError


def check_positive_int(owner: str, name: str, value: object) -> int:
    """``value`` as an int, or a :class:`ParameterError` naming ``owner.name``."""
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ParameterError(f"{owner}: {name}={value!r} must be a positive integer")
    return value


def check_sizes(owner: str, n_mels: object, n_frames: object, n_classes: object) -> None:
    """Validate the three sizes every classifier config carries."""
    check_positive_int(owner, "n_mels", n_mels)
    check_positive_int(owner, "n_frames", n_frames)
    check_positive_int(owner, "n_classes", n_classes)


def check_dropout(owner: str, value: object) -> float:
    """A dropout probability in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
        raise ParameterError(f"{owner}: dropout={value!r} must be a number in [0, 1)")
    return float(value)


def check_int_tuple(owner: str, name: str, value: object) -> tuple[int, ...]:
    """A non-empty sequence of positive ints as a tuple (JSON gives lists)."""
    if isinstance(value, str) or not isinstance(value, Sequence) or not value:
        raise ParameterError(f"{owner}: {name}={value!r} must be a non-empty list of ints")
    return tuple(check_positive_int(owner, f"{name}[{i}]", v) for i, v in enumerate(value))


def check_choice(owner: str, name: str, value: object, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ParameterError(f"{owner}: {name}={value!r} must be one of {tuple(choices)}")
    return str(value)


EXAMPLE_NORMS = ("none", "max", "mean", "standard")


class ExampleNorm(nn.Module):
    """Normalise each example on its own, before the network sees it.

    Unlike the input batch norm (one learnt mean and scale for the whole
    dataset), this removes what differs between recordings of the same sound:
    on dB features (log-mel) a change of level is an offset of every bin, so
    subtracting one value per example makes the network level-invariant. Drum
    kits differ mostly in recording level and processing, and a held-out kit's
    level is unknown.

    Parameters
    ----------
    mode : {"none", "max", "mean", "standard"}
        ``"max"``: subtract the example's maximum (dB re the loudest bin, so the
        peak is 0); ``"mean"``: subtract its mean; ``"standard"``: subtract the
        mean and divide by the standard deviation; ``"none"``: identity.

    Examples
    --------
    >>> x = torch.tensor([[[0.0, -10.0]], [[20.0, 10.0]]])  # (batch, n_bins, frames)
    >>> ExampleNorm("max")(x)[:, 0]
    tensor([[  0., -10.],
            [  0., -10.]])
    """

    def __init__(self, mode: str = "max") -> None:
        super().__init__()
        self.mode = check_choice("ExampleNorm", "mode", mode, EXAMPLE_NORMS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` ``(batch, ...)`` normalised over all but the first dimension."""
        if self.mode == "none":
            return x
        dims = tuple(range(1, x.ndim))
        if self.mode == "max":
            return x - x.amax(dim=dims, keepdim=True)
        centred = x - x.mean(dim=dims, keepdim=True)
        if self.mode == "mean":
            return centred
        # The epsilon keeps a silent (constant) example finite: it becomes all zeros.
        return centred / (centred.std(dim=dims, keepdim=True, unbiased=False) + 1e-5)

    def extra_repr(self) -> str:
        return repr(self.mode)


def halving_plan(size: int, steps: int) -> list[int]:
    """Pool factors (2, or 1 once the size is 1) for ``steps`` floor-halvings of ``size``.

    Tiny inputs (1 s of audio, 64 mels) then still fit networks designed for 128 x 230
    inputs: a dimension is never pooled below 1.

    Examples
    --------
    >>> halving_plan(5, 4)
    [2, 2, 1, 1]
    """
    plan = []
    for _ in range(steps):
        factor = 2 if size >= 2 else 1
        plan.append(factor)
        size //= factor
    return plan


def root_plan(size: int, steps: int) -> list[int]:
    """Integer pool factors whose product brings ``size`` down to about 1 in ``steps`` steps.

    Each step pools by the largest ``p`` with ``p ** remaining_steps <= size``, so the
    factors are as even as possible (128 mels over 4 steps: 3, 3, 3, 4).

    Examples
    --------
    >>> root_plan(128, 4)
    [3, 3, 3, 4]
    >>> root_plan(1, 3)
    [1, 1, 1]
    """
    plan = []
    for remaining in range(steps, 0, -1):
        p = 1
        while (p + 1) ** remaining <= size:
            p += 1
        plan.append(p)
        size //= p
    return plan


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
